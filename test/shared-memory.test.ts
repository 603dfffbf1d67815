import { describe, expect, it } from "vitest";
import { decodeChunk, encodeChunk } from "../src/chunk.js";
import { VERSION } from "../src/container.js";
import { layoutOf } from "../src/dtypes.js";
import { core } from "../src/wasm.js";

/** `n` bytes of a seeded pattern. */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
  return out;
}

describe("chunks in shared memory at every word phase", () => {
  it("decodes a chunk read from shared memory into shared memory at every phase, byte for byte", () => {
    const layout = layoutOf("bf16");
    const data = pattern(2 * 5000, 7).map((b, i) => (i % 2 === 1 ? 0x3c + (b & 3) : b));
    const c = core();
    const coded = encodeChunk(c, data, layout).bytes;
    for (let phase = 0; phase < 8; phase++) {
      const input = new Uint8Array(new SharedArrayBuffer(coded.length + 8), phase, coded.length);
      input.set(coded);
      const out = new Uint8Array(new SharedArrayBuffer(data.length + 16), 8 - phase, data.length);
      decodeChunk(c, input, layout, 5000, out, VERSION);
      expect(Buffer.from(out).equals(Buffer.from(data))).toBe(true);
    }
  });
});
