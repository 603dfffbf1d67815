import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { decodeChunk, encodeChunk } from "../src/chunk.js";
import { layoutOf } from "../src/dtypes.js";
import { densify, MODEL_LOG, modelBytes, normalize, readModel, sparse, writeModel } from "../src/model.js";
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

describe("frequency models", () => {
  it("read back exactly what was written, at every precision, down to a single code", () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let precision = 9; precision <= 15; precision++) {
      for (const present of [1, 2, 5, 30, 200]) {
        const dense = new Uint32Array(4096);
        for (let i = 0; i < present; i++) dense[Math.floor(next() * 4096)] = 1 + Math.floor(next() ** 4 * 100000);
        const h = sparse(dense);
        const freqs = normalize(h, precision);
        if (!freqs) continue;
        const bytes = writeModel(h, freqs);
        expect(bytes.length).toBe(modelBytes(h, freqs));
        expect(Array.from(readModel(bytes, 4096, precision, MODEL_LOG))).toEqual(Array.from(densify(h, freqs)));
      }
    }
  });

  it("refuse a raw plane whose unused last bits are not zero", () => {
    const file = readFileSync("fixtures/stories260K.bf16.safetensors");
    const data = new Uint8Array(file.buffer, file.byteOffset + 8 + 5120, 1001 * 2);
    const { bytes } = roundTrip(data, "bf16", 1);
    const bad = bytes.slice();
    bad[bad.length - 1]! ^= 0x80;
    expect(() => decodeChunk(core(), bad, layoutOf("bf16"), 1001, new Uint8Array(2002))).toThrow(/padding bits/);
  });
});
