// A Piscina worker: codes or decodes a batch of chunks per task (one
// message per small chunk would cost more than the chunk), or joins a
// shared in-memory job and claims chunks until none is left. The Wasm
// module arrives compiled in workerData; input buffers arrive by transfer
// or are shared, and results leave by transfer or are written in place,
// never as structured-clone copies.

import { workerData } from "node:worker_threads";
import { Piscina } from "piscina";
import { type ChunkOptions, type EncodedChunk } from "./chunk.js";
import { decodeBatch, encodeBatch, type DecodePart, type EncodePart } from "./batch.js";
import { AnsfError, toMessage } from "./errors.js";
import { awaitCoding, enter, placeChunks, work, type Coded, type Job } from "./shared-job.js";
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
  /** Container version of the chunks. */
  version: number;
}

export interface JobTask {
  op: "job";
  job: Job;
  /** This worker's admission word in the job's control. */
  slot: number;
}

/** Only the small choices are cloned; the coded bytes are transferred. */
function moveCoded<T>(value: T, coded: EncodedChunk[]): unknown {
  return Piscina.move({
    // Chunks placed in shared memory travel as views of it.
    [Piscina.transferableSymbol]: coded.map((c) => c.bytes.buffer).filter((b) => !(b instanceof SharedArrayBuffer)),
    [Piscina.valueSymbol]: value,
  } as unknown as Parameters<typeof Piscina.move>[0]);
}

export default function run(task: EncodeTask | DecodeTask | JobTask): unknown {
  try {
    if (task.op === "job") {
      const coded: Coded = new Map();
      if (enter(task.job, task.slot)) {
        work(core, task.job, coded);
        if (task.job.op === "encode" && task.job.placement) {
          awaitCoding(task.job);
          placeChunks(task.job, coded);
        }
      }
      return moveCoded(coded, [...coded.values()]);
    }
    const input = new Uint8Array(task.input);
    if (task.op === "decode") return Piscina.move(decodeBatch(core, input, task.parts, task.version));
    const coded = encodeBatch(core, input, task.parts, task.options);
    return moveCoded(coded, coded);
  } catch (err) {
    // Thrown as a plain object so that its code survives structured clone.
    throw err instanceof AnsfError ? toMessage(err) : err;
  }
}
