// A Piscina worker: codes or decodes one chunk per task. The Wasm module
// arrives compiled in workerData; buffers arrive as SharedArrayBuffers, so
// nothing large is copied on the way in, and coded chunks are transferred
// (not cloned) on the way out.

import { workerData } from "node:worker_threads";
import { Piscina } from "piscina";
import { decodeChunk, encodeChunk, type ChunkOptions } from "./chunk.js";
import { layoutById } from "./dtypes.js";
import { AnsfError, toMessage } from "./errors.js";
import { Core } from "./wasm.js";

const core = new Core((workerData as { module: WebAssembly.Module }).module);

/** Input shared (whole files in memory) or transferred (a chunk read from disk). */
export interface EncodeTask {
  op: "encode";
  input: SharedArrayBuffer | ArrayBuffer;
  begin: number;
  end: number;
  layout: number;
  options: ChunkOptions;
}

/**
 * Several chunks per task: one message per chunk would cost more than
 * decoding a small one. With `out` the chunks are decoded in place into
 * shared memory; without it they are returned, concatenated, by transfer.
 */
export interface DecodeTask {
  op: "decode";
  stream: SharedArrayBuffer | ArrayBuffer;
  out?: SharedArrayBuffer;
  chunks: { begin: number; end: number; layout: number; elements: number; outOffset: number }[];
}

export default function run(task: EncodeTask | DecodeTask): unknown {
  try {
    return runTask(task);
  } catch (err) {
    // Thrown as a plain object so that its code survives structured clone.
    throw err instanceof AnsfError ? toMessage(err) : err;
  }
}

function runTask(task: EncodeTask | DecodeTask): unknown {
  if (task.op === "decode") {
    const first = task.chunks[0]?.outOffset ?? 0;
    const last = task.chunks[task.chunks.length - 1];
    const returned = task.out ? undefined : new Uint8Array(last ? last.outOffset + last.elements * layoutById(last.layout).width - first : 0);
    for (const c of task.chunks) {
      const layout = layoutById(c.layout);
      const bytes = c.elements * layout.width;
      const out = task.out ? new Uint8Array(task.out, c.outOffset, bytes) : returned!.subarray(c.outOffset - first, c.outOffset - first + bytes);
      decodeChunk(core, new Uint8Array(task.stream, c.begin, c.end - c.begin), layout, c.elements, out);
    }
    return returned ? Piscina.move(returned) : null;
  }
  const layout = layoutById(task.layout);
  const { bytes, choice } = encodeChunk(core, new Uint8Array(task.input, task.begin, task.end - task.begin), layout, task.options);
  // Hand the coded bytes over by transfer; only the small choice is cloned.
  return Piscina.move({
    [Piscina.transferableSymbol]: [bytes.buffer],
    [Piscina.valueSymbol]: { bytes, choice },
  } as unknown as Parameters<typeof Piscina.move>[0]);
}
