// Where a call's coded chunks go: one after another in one buffer, kept
// for the next call, rather than each in a fresh ArrayBuffer. Compressing
// the CNN file made 1,159 of those a call. Over ten warm compresses of it,
// writing them here instead took the calling thread's page faults from
// about 800 to about 90 a call, and V8's collections from 10 full ones and
// 18 scavenges (9 for external memory) to 6 and 14, whose pauses add up to
// 37 ms instead of 52.

import { BufferPool } from "./buffer-pool.js";
import { chunkBound } from "./chunk.js";

/** The last call's arena, for a while after it. */
const idle = new BufferPool(1, { idleMs: 2000 });
/** An arena holds at most this much: a larger call writes its last chunks each into a buffer of its own, and no more is kept after it. */
const MOST_BYTES = 64 << 20;

export class ChunkArena {
  private at = 0;

  constructor(readonly bytes: Uint8Array) {}

  /** An arena for chunks that take at most `bytes` bytes together (codedBound). */
  static borrow(bytes: number): ChunkArena {
    return new ChunkArena(idle.take(Math.min(bytes, MOST_BYTES)));
  }

  /** Where the next chunk, of `inputBytes` bytes, is written: the room left if it holds the chunk's stored form, else none (a buffer of its own). */
  room(inputBytes: number): Uint8Array | undefined {
    return this.bytes.length - this.at >= chunkBound(inputBytes) ? this.bytes.subarray(this.at) : undefined;
  }

  /** Keeps `chunk`, just written, out of the room of the next when it was written here. */
  keep(chunk: Uint8Array): void {
    if (chunk.buffer === this.bytes.buffer) this.at += chunk.length;
  }

  /** Gives the buffer back for another call on this thread: nothing written in it may be read after. */
  release(): void {
    idle.give(this.bytes);
  }
}
