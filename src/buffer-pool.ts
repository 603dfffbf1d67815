// Buffers for the pieces of a streamed file, used again once a piece is
// written. Fresh memory costs a page fault per 4 KiB on first touch (about
// 3 us each on this kind of VM: slower than decoding into it), and a batch
// buffer of a few MiB is handed back to the system when freed, so a pool
// that hands out the same few buffers saves most of a streamed file's faults.

/** Sizes are rounded up to this, so that batches of slightly different sizes share buffers. */
const GRAIN = 1 << 20;

export class BufferPool {
  private readonly free: ArrayBuffer[] = [];

  /** Keeps at most `keep` idle buffers. */
  constructor(private readonly keep: number) {}

  /** A buffer of exactly `bytes` bytes: the first bytes of an idle one large enough, else of a new one. */
  take(bytes: number): Uint8Array {
    let best = -1;
    this.free.forEach((b, i) => {
      if (b.byteLength >= bytes && (best < 0 || b.byteLength < this.free[best]!.byteLength)) best = i;
    });
    const buffer = best >= 0 ? this.free.splice(best, 1)[0]! : new ArrayBuffer(Math.ceil(Math.max(bytes, 1) / GRAIN) * GRAIN);
    return new Uint8Array(buffer, 0, bytes);
  }

  /** Returns the buffer behind `view` (taken from this pool, or moved back from a worker) for another take. */
  give(view: Uint8Array): void {
    const buffer = view.buffer;
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0 || this.free.includes(buffer)) return;
    this.free.push(buffer);
    if (this.free.length > this.keep) this.free.sort((a, b) => b.byteLength - a.byteLength).splice(this.keep);
  }
}
