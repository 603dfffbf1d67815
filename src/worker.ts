// A Piscina worker: codes or decodes a batch of chunks per task (one
// message per small chunk would cost more than the chunk). The Wasm module
// arrives compiled in workerData; input buffers arrive by transfer and
// results leave by transfer, never as structured-clone copies.

import { workerData } from "node:worker_threads";
import { Piscina } from "piscina";
import { type ChunkOptions } from "./chunk.js";
import { decodeBatch, encodeBatch, type DecodePart, type EncodePart } from "./batch.js";
import { AnsfError, toMessage } from "./errors.js";
import { Core } from "./wasm.js";

const core = new Core((workerData as { module: WebAssembly.Module }).module);

export interface EncodeTask {
  op: "encode";
  input: ArrayBuffer;
  parts: EncodePart[];
  options: ChunkOptions;
}

export interface DecodeTask {
  op: "decode";
  input: ArrayBuffer;
  parts: DecodePart[];
}

export default function run(task: EncodeTask | DecodeTask): unknown {
  try {
    const input = new Uint8Array(task.input);
    if (task.op === "decode") return Piscina.move(decodeBatch(core, input, task.parts));
    const coded = encodeBatch(core, input, task.parts, task.options);
    // Only the small choices are cloned; the coded bytes are transferred.
    return Piscina.move({
      [Piscina.transferableSymbol]: coded.map((c) => c.bytes.buffer),
      [Piscina.valueSymbol]: coded,
    } as unknown as Parameters<typeof Piscina.move>[0]);
  } catch (err) {
    // Thrown as a plain object so that its code survives structured clone.
    throw err instanceof AnsfError ? toMessage(err) : err;
  }
}
