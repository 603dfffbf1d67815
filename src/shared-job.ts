// A whole in-memory job shared by the calling thread and worker threads.
// The input (and, for decoding, the output) lies in SharedArrayBuffers
// handed over once; a table lists every chunk; each thread claims chunks
// from shared counters until none is left, the workers from the front of
// the table and the calling thread from the back. Nobody waits to be handed
// work, and the calling thread codes chunks instead of idling. Decoded
// chunks land in place; coded chunks move back to the calling thread by
// transfer, to be copied once, into the container. Which thread codes which
// chunk does not change a byte of the result.
//
// An input that is not shared already is copied into a shared staging
// buffer, by the calling thread, a little ahead of the workers (InputFeed):
// the calling thread reads its own chunks from the caller's bytes, so only
// the workers' part is ever copied. Staging buffers are kept for the next
// job: the first touch of fresh memory (page faults) costs several times
// the copy itself.

import { BufferPool } from "./buffer-pool.js";
import { decodeChunk, encodeChunk, type ChunkOptions, type EncodedChunk } from "./chunk.js";
import { layoutById } from "./dtypes.js";
import type { Core } from "./wasm.js";

/**
 * Per chunk in the table: input offset, input length, output offset
 * (decoding), elements, layout id, and (encoding) its tensor's index in
 * `shapes` and its first element's index in that tensor.
 */
export const CHUNK_FIELDS = 7;

/**
 * Control words: chunks claimed from the front, from the back, and in all;
 * the stop flag; front chunks whose input is in place; then one admission
 * word per worker.
 */
const FRONT = 0;
const BACK = 1;
const TAKEN = 2;
const STOP = 3;
const COPIED = 4;
const SLOTS = 5;
/** COPIED once every chunk a worker may claim has its input in place. */
const ALL_COPIED = 0x7fffffff;
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

/** Staging buffers kept for the next job, the largest two, for a while after the last job. */
const staging = new BufferPool(2, { shared: true, idleMs: 2000 });

/**
 * A shared buffer of `bytes` bytes for one job, starting `phase` bytes into
 * a word (to match what is copied in or out, see shared-memory.ts): the
 * smallest spare one large enough, if any (a job borrows two, input and output).
 */
export function borrowStaging(bytes: number, phase = 0): Uint8Array {
  return staging.take(phase + bytes).subarray(phase);
}

/** Keeps a staging buffer for the next job: no thread may touch it any more. */
export function returnStaging(view: Uint8Array): void {
  staging.give(view);
}

/** Control for a job on `workers` workers and the calling thread; `copying` when the calling thread still has to fill the input. */
export function jobControl(workers: number, copying: boolean): Int32Array {
  const control = new Int32Array(new SharedArrayBuffer(4 * (SLOTS + workers)));
  if (!copying) control[COPIED] = ALL_COPIED;
  return control;
}

/**
 * The next chunk to code, or -1 when none is left: from the front of the
 * table for workers, from the back for the calling thread. A claim is
 * first counted against the total, so the two ends never take one chunk.
 */
function claim(control: Int32Array, count: number, fromBack: boolean): number {
  if (Atomics.add(control, TAKEN, 1) >= count) return -1;
  return fromBack ? count - 1 - Atomics.add(control, BACK, 1) : Atomics.add(control, FRONT, 1);
}

/**
 * The calling thread's copy of the caller's bytes into the job's shared
 * input: front chunks, in table order, only as far ahead of the workers'
 * claims as they will get while it codes its next chunk, and never a chunk
 * it has claimed itself.
 */
export class InputFeed {
  /** Front chunks copied and published. */
  private copied = 0;

  constructor(
    private readonly job: Job,
    readonly source: Uint8Array,
    private readonly workers: number,
  ) {}

  /**
   * Copies on until the workers have, past their claims, two chunks each
   * and twice what each codes while the calling thread codes `bytes` of
   * input (coding time goes about with the input's size).
   */
  ahead(bytes: number): void {
    const { chunks, control } = this.job;
    const front = Atomics.load(control, FRONT);
    const limit = this.limit();
    let queued = 0;
    for (let i = front; i < this.copied; i++) queued += chunks[i * CHUNK_FIELDS + 1]!;
    const start = this.copied;
    while (this.copied < limit && (this.copied < front + 2 * this.workers || queued < 2 * this.workers * bytes)) {
      queued += this.copy(this.copied++);
    }
    if (this.copied > start) this.publish(this.copied === limit ? ALL_COPIED : this.copied);
  }

  /** Copies every chunk a worker may still claim; the calling thread has claimed its last. */
  finish(): void {
    const limit = this.limit();
    while (this.copied < limit) this.copy(this.copied++);
    this.publish(ALL_COPIED);
  }

  /** Chunks a worker may claim: all but those the calling thread took from the back. */
  private limit(): number {
    return this.job.chunks.length / CHUNK_FIELDS - Atomics.load(this.job.control, BACK);
  }

  /** Copies chunk i's input into place; returns its length. */
  private copy(i: number): number {
    const begin = this.job.chunks[i * CHUNK_FIELDS]!;
    const length = this.job.chunks[i * CHUNK_FIELDS + 1]!;
    this.job.input.set(this.source.subarray(begin, begin + length), begin);
    return length;
  }

  private publish(copied: number): void {
    Atomics.store(this.job.control, COPIED, copied);
    Atomics.notify(this.job.control, COPIED);
  }
}

/** Waits (on a worker) until chunk i's input is in place, or the job stopped. */
function awaitInput(control: Int32Array, i: number): void {
  for (;;) {
    const copied = Atomics.load(control, COPIED);
    if (copied > i || Atomics.load(control, STOP) !== 0) return;
    Atomics.wait(control, COPIED, copied, 10);
  }
}

/** Stops every thread after the chunk it is coding. */
export function stopJob(job: Job): void {
  Atomics.store(job.control, STOP, 1);
  Atomics.store(job.control, COPIED, ALL_COPIED);
  Atomics.notify(job.control, COPIED);
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

/** How the calling thread works on a job: till when before it looks at its event loop, and its feed when it still copies the input. */
export interface CallerTurn {
  until: number;
  feed?: InputFeed | undefined;
}

/**
 * Claims and codes chunks until none is left or the job is stopped, on a
 * worker; on the calling thread (`caller` given) also until the clock
 * (performance.now()) passes `until`. Returns whether chunks may be left.
 * A failure stops the job for every thread.
 */
export function work(core: Core, job: Job, coded: Coded, caller?: CallerTurn): boolean {
  const { chunks, control } = job;
  const count = chunks.length / CHUNK_FIELDS;
  const feed = caller?.feed;
  try {
    while (Atomics.load(control, STOP) === 0) {
      const i = claim(control, count, caller !== undefined);
      if (i < 0) {
        feed?.finish();
        return false;
      }
      const at = i * CHUNK_FIELDS;
      const begin = chunks[at]!;
      const end = begin + chunks[at + 1]!;
      if (feed) feed.ahead(end - begin);
      else if (!caller) awaitInput(control, i);
      if (Atomics.load(control, STOP) !== 0) return false;
      const input = (feed ? feed.source : job.input).subarray(begin, end);
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
      if (caller && performance.now() >= caller.until && Atomics.load(control, TAKEN) < count) return true;
    }
    return false;
  } catch (err) {
    stopJob(job);
    throw err;
  }
}
