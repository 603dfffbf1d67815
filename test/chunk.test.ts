import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { decodeChunk, encodeChunk } from "../src/chunk.js";
import { layoutOf } from "../src/dtypes.js";
import { core } from "../src/wasm.js";

function roundTrip(data: Uint8Array, dtype: string, k?: number) {
  const layout = layoutOf(dtype);
  const { bytes, choice } = encodeChunk(core(), data, layout, k === undefined ? {} : { k });
  const out = new Uint8Array(data.length);
  decodeChunk(core(), bytes, layout, data.length / layout.width, out);
  expect(Buffer.from(out).equals(Buffer.from(data))).toBe(true);
  return { bytes, choice };
}

describe("chunk", () => {
  it("round-trips the fixture's bytes as bf16 at every k", () => {
    const file = readFileSync("fixtures/stories260K.bf16.safetensors");
    const data = new Uint8Array(file.buffer, file.byteOffset + 8 + 5120, 65536 * 2);
    for (let k = 0; k <= 4; k++) {
      const { choice } = roundTrip(data, "bf16", k);
      expect(choice.k).toBe(k);
    }
    const { choice } = roundTrip(data, "bf16");
    // Chosen by exact cost: never worse than exponent-only coding's ideal.
    expect(8 * choice.bytes).toBeLessThan(choice.exponentBoundBits);
  });
});
