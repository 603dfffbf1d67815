// Large buffers used again: a streamed file's pieces once written, a
// shared job's staging copy, the room a call's coded chunks are written to.
// Fresh memory costs a page fault per 4 KiB on first touch (about 3 us each
// on this kind of VM: slower than decoding into it), and a buffer of a few
// MiB is handed back to the system when freed, so a pool that hands out the
// same few buffers saves most of those faults.

import { resultBuffer } from "./bytes.js";

/** Sizes are rounded up to this, so that batches of slightly different sizes share buffers. */
const GRAIN = 1 << 20;

export interface PoolOptions {
  /** SharedArrayBuffers instead of ArrayBuffers. */
  shared?: boolean;
  /** Drop every idle buffer once none has come back for this long; without it they stay as long as the pool. */
  idleMs?: number;
}

export class BufferPool {
  private readonly free: (ArrayBuffer | SharedArrayBuffer)[] = [];
  private expiry: ReturnType<typeof setTimeout> | undefined;

  /** Keeps at most `keep` idle buffers. */
  constructor(
    private readonly keep: number,
    private readonly options: PoolOptions = {},
  ) {}

  /** A buffer of exactly `bytes` bytes: the first bytes of the smallest idle one large enough, else of a new one. */
  take(bytes: number): Uint8Array {
    let best = -1;
    this.free.forEach((b, i) => {
      if (b.byteLength >= bytes && (best < 0 || b.byteLength < this.free[best]!.byteLength)) best = i;
    });
    if (best >= 0) return new Uint8Array(this.free.splice(best, 1)[0]!, 0, bytes);
    return resultBuffer(Math.ceil(Math.max(bytes, 1) / GRAIN) * GRAIN, this.options.shared).subarray(0, bytes);
  }

  /** Returns the buffer behind `view` (taken from this pool, or moved back from a worker) for another take; views of one buffer count once. */
  give(view: Uint8Array): void {
    const buffer = view.buffer;
    if (buffer.byteLength === 0 || buffer instanceof SharedArrayBuffer !== (this.options.shared ?? false) || this.free.includes(buffer)) return;
    this.free.push(buffer);
    if (this.free.length > this.keep) this.free.sort((a, b) => b.byteLength - a.byteLength).splice(this.keep);
    const { idleMs } = this.options;
    if (idleMs === undefined) return;
    clearTimeout(this.expiry);
    this.expiry = setTimeout(() => this.free.splice(0), idleMs).unref();
  }
}
