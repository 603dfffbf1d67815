// A Piscina worker: codes or decodes a batch of chunks per task (one
// message per small chunk would cost more than the chunk), or joins a
// shared in-memory job and claims chunks until none is left. The Wasm
// module arrives compiled in workerData; input buffers arrive by transfer
// or are shared, and results leave by transfer or are written in place,
// never as structured-clone copies.

import { workerData } from "node:worker_threads";
import { Piscina } from "piscina";
import { type ChunkOptions, type EncodedChunk } from "./chunk.js";
import { decodeBatch, decodedBytes, encodeBatch, type DecodePart, type EncodePart } from "./batch.js";
import { AnsfError, toMessage } from "./errors.js";
import { readFully, type OpenFile } from "./io.js";
import { enter, work, type Coded, type Job } from "./shared-job.js";
import { Core } from "./wasm.js";

const core = new Core((workerData as { module: WebAssembly.Module }).module);

/** A batch's input: the first inputLength bytes of `input`, to be read first from `read` when given. */
export interface TaskInput {
  input: ArrayBuffer;
  inputLength: number;
  read?: { file: OpenFile; position: number };
}

export interface EncodeTask extends TaskInput {
  op: "encode";
  /** The first outputLength bytes of `output` take the coded chunks. Both buffers move back. */
  output: ArrayBuffer;
  outputLength: number;
  parts: EncodePart[];
  options: ChunkOptions;
}

export interface DecodeTask extends TaskInput {
  op: "decode";
  /** Takes what the chunks decode to. Both buffers move back. */
  output: ArrayBuffer;
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

/** `value`, cloned but for the buffers listed, which move. */
function moveWith<T>(value: T, buffers: ArrayBufferLike[]): unknown {
  return Piscina.move({
    [Piscina.transferableSymbol]: buffers,
    [Piscina.valueSymbol]: value,
  } as unknown as Parameters<typeof Piscina.move>[0]);
}

/** Only the small choices are cloned; the coded bytes are transferred. */
function moveCoded<T>(value: T, coded: EncodedChunk[]): unknown {
  return moveWith(value, coded.map((c) => c.bytes.buffer));
}

export default function run(task: EncodeTask | DecodeTask | JobTask): unknown {
  try {
    if (task.op === "job") {
      const coded: Coded = new Map();
      if (enter(task.job, task.slot)) work(core, task.job, coded);
      return moveCoded(coded, [...coded.values()]);
    }
    const input = new Uint8Array(task.input, 0, task.inputLength);
    if (task.read) readFully(task.read.file, task.read.position, input);
    if (task.op === "decode") {
      decodeBatch(core, input, task.parts, task.version, new Uint8Array(task.output, 0, decodedBytes(task.parts)));
      return moveWith({ input: task.input, output: task.output }, [task.input, task.output]);
    }
    const chunks = encodeBatch(core, input, task.parts, task.options, new Uint8Array(task.output, 0, task.outputLength));
    return moveWith({ input: task.input, output: task.output, chunks }, [task.input, task.output]);
  } catch (err) {
    // Thrown as a plain object so that its code survives structured clone.
    throw err instanceof AnsfError ? toMessage(err) : err;
  }
}
