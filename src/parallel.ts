// Where chunks are coded: inline on this thread, or on a Piscina pool of
// worker threads. Workers get the compiled Wasm module in workerData (they
// compile nothing) and exchange chunk buffers by transfer, never by
// structured-clone copies. Every chunk is coded independently, so results
// are identical, byte for byte, whatever the thread count.

import { availableParallelism } from "node:os";
import type { Piscina } from "piscina";
import { decodeBatch, encodeBatch, type DecodePart, type EncodePart } from "./batch.js";
import type { ChunkOptions, EncodedChunk } from "./chunk.js";
import { AnsfError, revive } from "./errors.js";
import type { EncodeOptions } from "./segments.js";
import { allEntered, closeJob, InputFeed, stopJob, work, type Coded, type Job } from "./shared-job.js";
import { core, coreModule } from "./wasm.js";
import type { Reader } from "./io.js";
import type { DecodeTask, EncodeTask, JobTask, TaskInput } from "./worker.js";
import { workerModule } from "./worker-module.js";

export interface ParallelOptions {
  /**
   * Threads (default: the machine's cores, and 1 for in-memory jobs under
   * DEFAULT_THREADS_FROM bytes); 1 codes on the calling thread alone, with
   * no pool. The in-memory calls (compressAsync and the like) share one job
   * between the calling thread and threads - 1 workers; the file-to-file
   * streams code on `threads` workers while the calling thread reads, writes
   * and hands out batches (see runnerFor).
   */
  threads?: number;
  /** Cancels the job: no further chunk starts, the few in flight finish, the promise rejects with ABORTED. */
  signal?: AbortSignal;
}

/**
 * Codes and decodes batches of chunks, each batch's input read into a
 * buffer of its own (which may be transferred away). Encoding writes the
 * chunks one after another into `output` (encodedBound(parts) long),
 * decoding fills it (decodedBytes(parts) long). Both hand back the buffers
 * they were given, moved back from a worker if need be, for the caller to
 * use again.
 */
export interface ChunkRunner {
  readonly threads: number;
  encode(source: BatchSource, parts: EncodePart[], output: Uint8Array): Promise<EncodedBatch>;
  /** Decodes chunks of a container of `version` into `output` (decodedBytes(parts) long). */
  decode(source: BatchSource, parts: DecodePart[], version: number, output: Uint8Array): Promise<DecodedBatch>;
}

/**
 * A batch's input: `room.length` bytes of `reader` from `position`, to be
 * read into `room`. A worker reads a file's batch itself, so that the
 * calling thread, which reads every batch it codes, does not also read
 * those of the workers (on a 1.2 GB file at -T 2 its reads took 0.58 s of
 * 1.4, while the worker waited for batches 0.7 s in all).
 */
export interface BatchSource {
  reader: Reader;
  position: number;
  room: Uint8Array;
}

export interface EncodedBatch {
  input: Uint8Array;
  output: Uint8Array;
  /** Views of `output`, back to back from its start. */
  chunks: EncodedChunk[];
}

export interface DecodedBatch {
  input: Uint8Array;
  output: Uint8Array;
}

const pools = new Map<string, Piscina>();

/**
 * The pool of `threads` workers, each sent up to `tasksPerWorker` tasks at
 * once; Piscina is loaded on first use (about 25 ms, which one-thread calls
 * never pay).
 */
async function poolOf(threads: number, tasksPerWorker: number): Promise<Piscina> {
  const key = `${threads}x${tasksPerWorker}`;
  let pool = pools.get(key);
  if (!pool) {
    const { Piscina } = await import("piscina");
    // Another call may have made it while this one waited for the import.
    pool = pools.get(key);
    if (pool) return pool;
    const { url, execArgv } = workerModule(import.meta.url, "worker");
    pool = new Piscina({
      filename: url.href,
      execArgv,
      minThreads: 0,
      maxThreads: threads,
      concurrentTasksPerWorker: tasksPerWorker,
      // Idle workers do not keep the process alive (Piscina unrefs them), so
      // they stay for the next job: starting one cost about 100 ms of CPU
      // time (module loading, a cold JIT), twice decoding a 37 MB file.
      idleTimeout: 30_000,
      workerData: { module: coreModule() },
    });
    pools.set(key, pool);
  }
  return pool;
}

/**
 * In-memory jobs over fewer original bytes than this run on the calling
 * thread alone unless `threads` says otherwise: waking a worker, handing it
 * the job and taking its chunks back cost 1-2 ms, more than a second thread
 * saves below it. Medians of interleaved runs, 2 threads over 1: stories260K
 * (0.5 MB) compress 0.83x, decompress 0.67x; 2 MiB of CNN weights 0.81x and
 * 0.87x; 4 MiB 1.33x and 1.17x; ppocr (5.4 MB) 1.32x and 1.18x.
 */
export const DEFAULT_THREADS_FROM = 4 << 20;

/** The threads for a job over `bytes` original bytes (when known). */
export function threadsOf(options: ParallelOptions, bytes?: number): number {
  if (options.threads === undefined && bytes !== undefined && bytes < DEFAULT_THREADS_FROM) return 1;
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new AnsfError("BAD_ARGUMENT", `threads must be an integer from 1 to 256, not ${threads}`);
  return threads;
}

function aborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AnsfError("ABORTED", "aborted");
}

/** The options a worker needs to code a chunk (a signal or callback cannot travel to it). */
export function chunkOptionsOf(options: ChunkOptions): ChunkOptions {
  return { ...(options.k === undefined ? {} : { k: options.k }), ...(options.precisions ? { precisions: options.precisions } : {}) };
}

function inlineRunner(options: EncodeOptions & ParallelOptions): ChunkRunner {
  return {
    threads: 1,
    async encode(source, parts, output) {
      aborted(options.signal);
      const input = readSource(source);
      return { input, output, chunks: encodeBatch(core(), input, parts, options, output) };
    },
    async decode(source, parts, version, output) {
      aborted(options.signal);
      const input = readSource(source);
      return { input, output: decodeBatch(core(), input, parts, version, output) };
    },
  };
}

/**
 * Batches a stream keeps in flight per worker: the next one is already
 * there when a worker finishes a batch, so it never waits for the calling
 * thread to hand it one.
 */
const STREAM_TASKS_PER_WORKER = 2;

function poolRunner(pool: Piscina, workers: number, options: EncodeOptions & ParallelOptions): ChunkRunner {
  const chunkOptions = chunkOptionsOf(options);
  const signal = options.signal;
  // The signal is checked around each task rather than handed to Piscina:
  // aborting a running Piscina task races with its reply (an uncaught
  // "Unexpected message from Worker"), and a batch takes milliseconds, so
  // letting the few in flight finish still stops the job promptly.
  const run = async <T>(task: EncodeTask | DecodeTask): Promise<T> => {
    aborted(signal);
    const result = (await pool.run(task, { transferList: [task.input, task.output] }).catch((err: unknown) => Promise.reject(revive(err)))) as T;
    aborted(signal);
    return result;
  };
  return {
    threads: workers,
    async encode(source, parts, output) {
      const inputLength = source.room.length;
      const outputLength = output.length;
      const back = await run<{ input: ArrayBuffer; output: ArrayBuffer; chunks: EncodedChunk[] }>({
        op: "encode", ...taskInput(source), output: wholeBuffer(output), outputLength, parts, options: chunkOptions,
      });
      return { input: new Uint8Array(back.input, 0, inputLength), output: new Uint8Array(back.output, 0, outputLength), chunks: back.chunks };
    },
    async decode(source, parts, version, output) {
      const inputLength = source.room.length;
      const outputLength = output.length;
      const back = await run<{ input: ArrayBuffer; output: ArrayBuffer }>({ op: "decode", ...taskInput(source), output: wholeBuffer(output), parts, version });
      return { input: new Uint8Array(back.input, 0, inputLength), output: new Uint8Array(back.output, 0, outputLength) };
    },
  };
}

/** The batch's input, read into its room. */
function readSource({ reader, position, room }: BatchSource): Uint8Array {
  return reader.read(position, room.length, room);
}

/** A task's input: the room and where the worker reads it from, for a file; else the room, read here. */
function taskInput(source: BatchSource): TaskInput {
  const file = source.reader.file;
  const input = file ? source.room : readSource(source);
  return { input: wholeBuffer(input), inputLength: input.length, ...(file ? { read: { file, position: source.position } } : {}) };
}

/** The buffer `bytes` starts at the beginning of (transferring it moves what follows too; the task says how long `bytes` is), else a copy. */
function wholeBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return Uint8Array.prototype.slice.call(bytes).buffer as ArrayBuffer;
}

/**
 * The runner for `options.threads`: that many workers code every batch, and
 * the calling thread reads, writes and hands out batches. It codes none
 * itself: it would hand a worker its next batch only between the batches it
 * codes, so the workers waited on it, and it waited on them to write in
 * order. Warm, on a 300 MB file of CNN tensors at 2 threads, that took
 * 740-820 ms to compress where two workers take 640-720 (one thread:
 * 1,070-1,230), and 182-254 ms to decompress where two workers take 180-199
 * (one thread: 242-290). Nor does it code while the workers start: cold,
 * that compiled the encoder in a third isolate, and the 300 MB file took
 * 1.83-2.29 s (3.1-4.0 s of CPU) where waiting took 1.61-2.03 (2.8-3.5).
 */
export async function runnerFor(options: EncodeOptions & ParallelOptions): Promise<ChunkRunner> {
  const threads = threadsOf(options);
  if (threads === 1) return inlineRunner(options);
  return poolRunner(await poolOf(threads, STREAM_TASKS_PER_WORKER), threads, options);
}

/**
 * How long the calling thread codes between looks at its event loop, while
 * something may arrive there: an abort, or a starting worker's first
 * message (Piscina hands it the job only then). Otherwise it codes its
 * share straight through, as the synchronous calls do.
 */
const SLICE_MS = 2;

/**
 * Runs a shared job on the calling thread and threads - 1 workers (see
 * shared-job.ts); `source`, when given, holds the bytes the job's input is
 * a staging copy of, which the calling thread fills as the workers need it
 * (InputFeed). Resolves with every chunk coded once no thread touches the
 * job any more. On abort or failure every thread stops after its current
 * chunk and the promise rejects; workers are free again.
 */
export async function runJob(job: Job, threads: number, signal?: AbortSignal, source?: Uint8Array): Promise<Coded> {
  aborted(signal);
  const workers = threads - 1;
  // One job task per worker: each claims chunks until none is left.
  const pool = workers > 0 ? await poolOf(workers, 1) : undefined;
  let workerFailure: unknown;
  const replies = Array.from({ length: workers }, (_, slot) => {
    const reply = pool!.run({ op: "job", job, slot } satisfies JobTask) as Promise<Coded>;
    // A worker that fails (or dies, or cannot start) stops the others rather
    // than leave them waiting for its chunks, and the job fails with it.
    reply.catch((err: unknown) => {
      workerFailure ??= err;
      stopJob(job);
    });
    return reply;
  });
  const stop = () => stopJob(job);
  signal?.addEventListener("abort", stop);
  // Neither Atomics.waitAsync nor a worker Piscina has unref'd keeps the
  // event loop alive: without a handle of its own, a process awaiting this
  // job at top level could exit mid-job (exit code 13).
  const keepAlive = setInterval(() => {}, 1 << 30);
  const coded: Coded = new Map();
  let failure: unknown;
  try {
    // One turn of the event loop first: a task Piscina queued (its worker was
    // not marked ready yet) is handed out there, not while this thread codes.
    if (workers > 0) await new Promise(setImmediate);
    const feed = source && new InputFeed(job, source, workers);
    const c = core();
    const until = () => (signal || !allEntered(job, workers) ? performance.now() + SLICE_MS : Infinity);
    while (work(c, job, coded, { until: until(), feed })) await new Promise(setImmediate);
  } catch (err) {
    failure = err;
    stopJob(job);
  }
  // Workers that never entered (still starting, or queued) are shut out and not waited for.
  const settled = await Promise.allSettled(closeJob(job, workers).map((slot) => replies[slot]!));
  clearInterval(keepAlive);
  signal?.removeEventListener("abort", stop);
  if (failure) throw failure;
  for (const s of settled) {
    if (s.status === "rejected") throw revive(s.reason);
    for (const [i, chunk] of s.value) coded.set(i, chunk);
  }
  if (workerFailure) throw revive(workerFailure);
  aborted(signal);
  return coded;
}

/**
 * Runs jobs with at most `window` in flight and yields their results in
 * order, so memory stays bounded by the window whatever the input size.
 * After a failure no new job starts; the ones in flight are left to settle.
 */
export async function* ordered<T>(jobs: Iterable<() => Promise<T>>, window: number): AsyncGenerator<T> {
  const queue: Promise<T>[] = [];
  const it = jobs[Symbol.iterator]();
  const launch = () => {
    const next = it.next();
    if (next.done) return false;
    const p = next.value();
    p.catch(() => undefined);
    queue.push(p);
    return true;
  };
  while (queue.length < window && launch());
  while (queue.length > 0) {
    const result = await queue.shift()!;
    launch();
    yield result;
  }
}
