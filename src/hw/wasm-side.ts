// The software decoder as the reference, run side by side in a worker thread
// (started from the sources or the build alike: see worker-module.ts).

import { Worker } from "node:worker_threads";
import { coreModule } from "../wasm.js";
import { workerModule } from "../worker-module.js";
import type { ChunkRef } from "./job.js";

export type WorkerRequest =
  | { type: "open"; session: number; stream: SharedArrayBuffer }
  | { type: "decode"; session: number; chunks: { id: number; offset: number; length: number; layout: number; n: number; version: number }[] }
  | { type: "close"; session: number };

export interface WorkerReply {
  session: number;
  id: number;
  bytes?: Uint8Array;
  error?: { code: string; message: string };
}

export type ReferenceResult = { bytes: Uint8Array; error?: undefined } | { bytes?: undefined; error: { code: string; message: string } };

/**
 * One worker per process, started on first use and kept for later streams
 * (starting one costs more than decoding a small stream). It holds the
 * process open only while results are outstanding.
 */
class ReferenceWorker {
  readonly worker: Worker;
  private readonly waiting = new Map<string, (r: ReferenceResult) => void>();
  private readonly arrived = new Map<string, ReferenceResult>();
  private outstanding = 0;
  failure: string | undefined;

  constructor() {
    const { url, execArgv } = workerModule(import.meta.url, "wasm-worker");
    this.worker = new Worker(url, { workerData: { module: coreModule() }, execArgv });
    this.worker.unref();
    this.worker.on("message", (reply: WorkerReply) => {
      const result: ReferenceResult = reply.error ? { error: reply.error } : { bytes: reply.bytes! };
      const key = `${reply.session}:${reply.id}`;
      const resolve = this.waiting.get(key);
      if (resolve) {
        this.waiting.delete(key);
        resolve(result);
      } else {
        this.arrived.set(key, result);
      }
      if (--this.outstanding === 0) this.worker.unref();
    });
    const fail = (why: string) => {
      this.failure = `Wasm reference worker failed: ${why}`;
      if (shared === this) shared = undefined;
      for (const resolve of this.waiting.values()) resolve({ error: { code: "WORKER", message: this.failure } });
      this.waiting.clear();
    };
    this.worker.on("error", (err) => fail(err.message));
    this.worker.on("exit", (code) => fail(`exited with code ${code}`));
  }

  post(request: WorkerRequest, expected = 0): void {
    if (expected > 0) {
      if (this.outstanding === 0) this.worker.ref();
      this.outstanding += expected;
    }
    this.worker.postMessage(request);
  }

  forget(session: number): void {
    for (const key of this.arrived.keys()) if (key.startsWith(`${session}:`)) this.arrived.delete(key);
  }

  result(session: number, id: number): Promise<ReferenceResult> {
    const key = `${session}:${id}`;
    const ready = this.arrived.get(key);
    if (ready) {
      this.arrived.delete(key);
      return Promise.resolve(ready);
    }
    if (this.failure) return Promise.resolve({ error: { code: "WORKER", message: this.failure } });
    return new Promise((resolve) => this.waiting.set(key, resolve));
  }
}

let shared: ReferenceWorker | undefined;
let sessions = 0;

/** Ends the shared worker (the CLI calls this when done; a new one starts on demand). */
export async function stopReference(): Promise<void> {
  const w = shared;
  shared = undefined;
  if (w) {
    w.failure = "stopped";
    await w.worker.terminate();
  }
}

/** The Wasm decoder's view of one stream. */
export class WasmReference {
  private readonly worker: ReferenceWorker;
  private readonly session = ++sessions;

  constructor(stream: Uint8Array) {
    shared ??= new ReferenceWorker();
    this.worker = shared;
    const copy = new SharedArrayBuffer(stream.length);
    new Uint8Array(copy).set(stream);
    this.worker.post({ type: "open", session: this.session, stream: copy });
  }

  /** Queues chunks for the worker; it decodes them in this order. */
  request(refs: ChunkRef[]): void {
    const chunks = refs.map((r) => ({ id: r.id, offset: r.offset, length: r.length, layout: r.layout.id, n: r.n, version: r.version }));
    this.worker.post({ type: "decode", session: this.session, chunks }, chunks.length);
  }

  /** The worker's result for chunk `id` (requested earlier). */
  result(id: number): Promise<ReferenceResult> {
    return this.worker.result(this.session, id);
  }

  /** Frees the worker's copy of the stream and any results nobody collected. */
  close(): void {
    if (!this.worker.failure) this.worker.post({ type: "close", session: this.session });
    this.worker.forget(this.session);
  }
}
