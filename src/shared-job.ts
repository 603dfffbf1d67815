// A whole in-memory job shared by the calling thread and worker threads.
// The input (and, for decoding, the output) lies in SharedArrayBuffers
// handed over once; a table lists every chunk; each thread claims the next
// chunk from a shared counter until none is left. Nobody waits to be handed
// work, and the calling thread codes chunks instead of idling. Decoded
// chunks land in place; coded chunks move back to the calling thread by
// transfer, to be copied once, into the container. Which thread codes which
// chunk does not change a byte of the result.
//
// An input that is not shared already is copied into a shared staging
// buffer by the calling thread while the workers start on the part already
// copied (a copy runs several times faster than coding). Staging buffers
// are kept for the next job: the first touch of fresh memory (page faults)
// costs several times the copy itself.

import { decodeChunk, encodeChunk, type ChunkOptions, type EncodedChunk } from "./chunk.js";
import { layoutById } from "./dtypes.js";
import type { Core } from "./wasm.js";

/**
 * Per chunk in the table: input offset, input length, output offset
 * (decoding), elements, layout id, and (encoding) its tensor's index in
 * `shapes` and its first element's index in that tensor.
 */
export const CHUNK_FIELDS = 7;

/** Control words: the next chunk to claim, the stop flag, input KiB copied so far, then one admission word per worker. */
const NEXT = 0;
const STOP = 1;
const COPIED = 2;
const SLOTS = 3;
/** COPIED once the whole input is in place. */
const ALL_COPIED = 0x7fffffff;
/** The input is copied (and published to the workers) this many bytes at a time. */
const COPY_SLICE = 1 << 20;
const OPEN = 0;
const ENTERED = 1;
const CLOSED = 2;

interface JobBase {
  input: Uint8Array;
  chunks: Float64Array;
  control: Int32Array;
}

export interface DecodeJob extends JobBase {
  op: "decode";
  output: Uint8Array;
  /** Container version of the chunks. */
  version: number;
}

export interface EncodeJob extends JobBase {
  op: "encode";
  options: ChunkOptions;
  /** Tensor shapes the chunks lie in (channel contexts need them); [] for byte segments. */
  shapes: number[][];
}

export type Job = DecodeJob | EncodeJob;

/** Chunks one thread coded, by index in the table (decoding leaves it empty). */
export type Coded = Map<number, EncodedChunk>;

const spare: SharedArrayBuffer[] = [];
let dropSpare: ReturnType<typeof setTimeout> | undefined;
/** How long spare staging buffers outlive the job that last used one. */
const KEEP_SPARE_MS = 2000;

/**
 * A shared buffer of `bytes` bytes for one job, starting `phase` bytes into
 * a word (to match what is copied in or out, see shared-memory.ts): the
 * smallest spare one large enough, if any (a job borrows two, input and output).
 */
export function borrowStaging(bytes: number, phase = 0): Uint8Array {
  const i = spare.findLastIndex((b) => b.byteLength >= phase + bytes);
  return new Uint8Array(i >= 0 ? spare.splice(i, 1)[0]! : new SharedArrayBuffer(phase + bytes), phase, bytes);
}

/** Keeps a staging buffer for the next job (the largest two, for a while): no thread may touch it any more. */
export function returnStaging(view: Uint8Array): void {
  spare.push(view.buffer as SharedArrayBuffer);
  spare.sort((a, b) => b.byteLength - a.byteLength).splice(2);
  clearTimeout(dropSpare);
  dropSpare = setTimeout(() => spare.splice(0), KEEP_SPARE_MS).unref();
}

/** Control for a job on `workers` workers and the calling thread; `copying` when the calling thread still has to fill the input. */
export function jobControl(workers: number, copying: boolean): Int32Array {
  const control = new Int32Array(new SharedArrayBuffer(4 * (SLOTS + workers)));
  if (!copying) control[COPIED] = ALL_COPIED;
  return control;
}

/** Copies `source` into the job's input, publishing each slice to the workers as it lands. */
export function fillInput(job: Job, source: Uint8Array): void {
  for (let at = 0; at < source.length; at += COPY_SLICE) {
    const end = Math.min(at + COPY_SLICE, source.length);
    job.input.set(source.subarray(at, end), at);
    Atomics.store(job.control, COPIED, Math.floor(end / 1024));
    Atomics.notify(job.control, COPIED);
  }
  published(job);
}

function published(job: Job): void {
  Atomics.store(job.control, COPIED, ALL_COPIED);
  Atomics.notify(job.control, COPIED);
}

/** Waits (on a worker) until the input is copied up to `end`, or the job stopped. */
function awaitInput(control: Int32Array, end: number): void {
  for (;;) {
    const copied = Atomics.load(control, COPIED);
    if (copied === ALL_COPIED || copied * 1024 >= end || Atomics.load(control, STOP) !== 0) return;
    Atomics.wait(control, COPIED, copied, 10);
  }
}

/** Stops every thread after the chunk it is coding. */
export function stopJob(job: Job): void {
  Atomics.store(job.control, STOP, 1);
  published(job);
}

/** Worker `slot` joins the job, unless the job was closed to it (it finished without that worker). */
export function enter(job: Job, slot: number): boolean {
  return Atomics.compareExchange(job.control, SLOTS + slot, OPEN, ENTERED) === OPEN;
}

/** Whether every one of the `workers` has entered the job. */
export function allEntered(job: Job, workers: number): boolean {
  for (let slot = 0; slot < workers; slot++) if (Atomics.load(job.control, SLOTS + slot) !== ENTERED) return false;
  return true;
}

/**
 * Closes the job to workers that have not entered it (a worker still
 * starting, or queued behind another job) and returns the slots of those
 * that did, whose results the caller must wait for.
 */
export function closeJob(job: Job, workers: number): number[] {
  const entered: number[] = [];
  for (let slot = 0; slot < workers; slot++) {
    if (Atomics.compareExchange(job.control, SLOTS + slot, OPEN, CLOSED) === ENTERED) entered.push(slot);
  }
  return entered;
}

/**
 * Claims and codes chunks until none is left, the job is stopped, or the
 * clock (performance.now()) passes `until`; returns whether chunks may be
 * left. A failure stops the job for every thread.
 */
export function work(core: Core, job: Job, coded: Coded, until = Infinity): boolean {
  const { chunks, control } = job;
  const count = chunks.length / CHUNK_FIELDS;
  try {
    while (Atomics.load(control, STOP) === 0) {
      const i = Atomics.add(control, NEXT, 1);
      if (i >= count) return false;
      const at = i * CHUNK_FIELDS;
      const begin = chunks[at]!;
      const end = begin + chunks[at + 1]!;
      awaitInput(control, end);
      if (Atomics.load(control, STOP) !== 0) return false;
      const input = job.input.subarray(begin, end);
      const layout = layoutById(chunks[at + 4]!);
      const elements = chunks[at + 3]!;
      if (job.op === "decode") {
        const out = chunks[at + 2]!;
        decodeChunk(core, input, layout, elements, job.output.subarray(out, out + elements * layout.width), job.version);
      } else {
        const shape = job.shapes[chunks[at + 5]!]!;
        const c = encodeChunk(core, input, layout, job.options, shape.length ? { shape, start: chunks[at + 6]! } : undefined);
        coded.set(i, c);
      }
      if (performance.now() >= until) return Atomics.load(control, NEXT) < count;
    }
    return false;
  } catch (err) {
    stopJob(job);
    throw err;
  }
}
