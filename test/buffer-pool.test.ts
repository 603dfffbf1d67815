import { describe, expect, it, vi } from "vitest";
import { BufferPool } from "../src/buffer-pool.js";

describe("BufferPool", () => {
  it("hands out views of exactly the size asked, and the smallest idle buffer that fits", () => {
    const pool = new BufferPool(4);
    const a = pool.take(3 << 20);
    const b = pool.take(1 << 20);
    expect([a.length, b.length]).toEqual([3 << 20, 1 << 20]);
    expect([a.buffer.byteLength, b.buffer.byteLength]).toEqual([3 << 20, 1 << 20]);
    pool.give(a);
    pool.give(b);
    const c = pool.take(100);
    expect(c.buffer).toBe(b.buffer);
    expect(c.length).toBe(100);
    expect(pool.take(2 << 20).buffer).toBe(a.buffer);
    expect(pool.take(2 << 20).buffer).not.toBe(a.buffer);
  });

  it("keeps at most its bound of idle buffers, the largest, and ignores buffers it cannot reuse", () => {
    const pool = new BufferPool(2);
    const views = [1, 2, 3].map((mib) => pool.take(mib << 20));
    views.forEach((v) => pool.give(v));
    pool.give(new Uint8Array(new SharedArrayBuffer(8 << 20)));
    expect(pool.take(2 << 20).buffer).toBe(views[1]!.buffer);
    expect(pool.take(1).buffer).toBe(views[2]!.buffer);
    expect(pool.take(1).buffer).not.toBe(views[0]!.buffer);
  });

  it("hands out shared buffers from a shared pool, and drops idle ones once none came back for idleMs", () => {
    vi.useFakeTimers();
    try {
      const pool = new BufferPool(2, { shared: true, idleMs: 50 });
      const a = pool.take(10);
      expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
      pool.give(new Uint8Array(8));
      pool.give(a);
      vi.advanceTimersByTime(40);
      expect(pool.take(10).buffer).toBe(a.buffer);
      pool.give(a);
      vi.advanceTimersByTime(60);
      expect(pool.take(10).buffer).not.toBe(a.buffer);
    } finally {
      vi.useRealTimers();
    }
  });
});
