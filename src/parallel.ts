// The worker pool: chunks (not just tensors) shared across threads. The
// input is copied once into shared memory; workers read their chunk from it
// and decoders write straight into a shared output, so the only copies are
// the one in and, for encoding, the coded chunks coming back. Results are
// identical, byte for byte, to the single-thread path whatever the thread
// count, because every chunk is coded independently and placed in order.

import { setMaxListeners } from "node:events";
import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { assemble } from "./codec.js";
import { parseContainer, type Index, type Source } from "./container.js";
import { AnsfError, revive } from "./errors.js";
import { chunkRanges, finishSegment, type EncodedChunk, type EncodedSegment, type EncodeOptions } from "./segments.js";
import type { SegmentPlan } from "./safetensors-codec.js";
import { coreModule } from "./wasm.js";
import type { DecodeTask, EncodeTask } from "./worker.js";

export interface ParallelOptions {
  /** Worker threads (default: the machine's cores). */
  threads?: number;
  /** Cancels the job: pending chunks are dropped, running ones stopped, the promise rejects with ABORTED. */
  signal?: AbortSignal;
}

const pools = new Map<number, Piscina>();

/** The compiled worker: workers cannot load TypeScript, so tests running src/ use dist/. */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const js = here.endsWith(".ts") ? fileURLToPath(new URL("../dist/src/worker.js", import.meta.url)) : here.replace(/parallel\.js$/, "worker.js");
  if (!existsSync(js)) throw new AnsfError("IO_ERROR", `${js} not found: run npm run build`);
  return js;
}

function poolOf(threads: number): Piscina {
  let pool = pools.get(threads);
  if (!pool) {
    pool = new Piscina({
      filename: workerFile(),
      minThreads: 0,
      maxThreads: threads,
      // Idle workers exit so that a finished job does not keep the process alive.
      idleTimeout: 500,
      workerData: { module: coreModule() },
    });
    pools.set(threads, pool);
  }
  return pool;
}

function threadsOf(options: ParallelOptions): number {
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new AnsfError("BAD_ARGUMENT", `threads must be an integer from 1 to 256, not ${threads}`);
  return threads;
}

function shared(bytes: Uint8Array): SharedArrayBuffer {
  if (bytes.buffer instanceof SharedArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes.buffer;
  const sab = new SharedArrayBuffer(bytes.length);
  new Uint8Array(sab).set(bytes);
  return sab;
}

/** Runs tasks on the pool; an abort (or any failure) cancels the rest. */
async function runAll<T>(pool: Piscina, tasks: (EncodeTask | DecodeTask)[], signal: AbortSignal | undefined): Promise<T[]> {
  if (signal?.aborted) throw new AnsfError("ABORTED", "aborted before it started");
  const local = new AbortController();
  // Every queued task listens on the one signal.
  setMaxListeners(tasks.length + 1, local.signal);
  const onAbort = () => local.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await Promise.all(tasks.map((t) => pool.run(t, { signal: local.signal }) as Promise<T>));
  } catch (err) {
    local.abort();
    if (signal?.aborted) throw new AnsfError("ABORTED", "aborted", { cause: err });
    throw revive(err);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Codes the planned segments of `input` on the pool and assembles the container. */
export async function encodePlans(source: Source, input: Uint8Array, plans: SegmentPlan[], options: EncodeOptions & ParallelOptions): Promise<{ stream: Uint8Array; segments: EncodedSegment[] }> {
  const pool = poolOf(threadsOf(options));
  const sab = shared(input);
  const chunkOptions = { ...(options.k === undefined ? {} : { k: options.k }), ...(options.precisions ? { precisions: options.precisions } : {}) };
  const tasks: EncodeTask[] = [];
  const counts: number[] = [];
  for (const p of plans) {
    const ranges = chunkRanges(p.end - p.begin, p.layout, options);
    counts.push(ranges.length);
    for (const [b, e] of ranges) tasks.push({ op: "encode", input: sab, begin: p.begin + b, end: p.begin + e, layout: p.layout.id, options: chunkOptions });
  }
  const coded = await runAll<EncodedChunk>(pool, tasks, options.signal);
  let at = 0;
  const segments = plans.map((p, i) => {
    const mine = coded.slice(at, at + counts[i]!);
    at += counts[i]!;
    return finishSegment(p.layout, p.shape, p.end - p.begin, mine);
  });
  return { stream: assemble(source, segments), segments };
}

/** Decodes every chunk of `stream` on the pool into one shared buffer. */
export async function decodeAll(stream: Uint8Array, options: ParallelOptions, index: Index = parseContainer(stream)): Promise<Uint8Array> {
  const threads = threadsOf(options);
  const pool = poolOf(threads);
  const input = shared(stream);
  const out = new SharedArrayBuffer(index.size);
  // Batches of about 1/(4·threads) of the output (at least 1 MiB) keep
  // every thread busy while amortising each task's message round trip.
  const target = Math.max(1 << 20, index.size / (4 * threads));
  const tasks: DecodeTask[] = [];
  let batch: DecodeTask | undefined;
  let batchBytes = 0;
  for (const s of index.segments) {
    let outOffset = s.offset;
    for (const c of s.chunks) {
      if (!batch || batchBytes >= target) {
        batch = { op: "decode", stream: input, out, chunks: [] };
        tasks.push(batch);
        batchBytes = 0;
      }
      batch.chunks.push({ begin: c.offset, end: c.offset + c.length, layout: s.layout.id, elements: c.elements, outOffset });
      const bytes = c.elements * s.layout.width;
      outOffset += bytes;
      batchBytes += bytes;
    }
  }
  await runAll<null>(pool, tasks, options.signal);
  return new Uint8Array(out);
}
