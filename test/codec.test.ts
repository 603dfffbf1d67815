import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { AnsfError, decode, encode, type CodedDtype } from "../src/index.js";
import { parseContainer, VERSION } from "../src/container.js";
import { errorCode } from "./error-code.js";
import { readChunkHeader } from "../src/chunk.js";
import { layoutOf } from "../src/dtypes.js";

/** Deterministic PRNG (xorshift32) so every failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const WIDTH: Record<CodedDtype, number> = { u8: 1, bf16: 2, fp16: 2, fp32: 4 };

/** Gaussian weights in the given float type, plus every special pattern. */
function weights(dtype: CodedDtype, n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const f32 = new Float32Array(n);
  for (let i = 0; i < n; i++) f32[i] = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r()) * 0.05;
  const bits = new Uint32Array(f32.buffer);
  if (dtype === "fp32") return new Uint8Array(f32.buffer);
  if (dtype === "bf16") return new Uint8Array(Uint16Array.from(bits, (b) => b >>> 16).buffer);
  if (dtype === "fp16") {
    // Any 16-bit pattern is a valid fp16; build them from bf16-like exponents shifted into range.
    return new Uint8Array(Uint16Array.from(bits, (b) => ((b >>> 16) & 0x8000) | (((b >>> 23) & 0xff) - 112) << 10 | ((b >>> 13) & 0x3ff)).buffer);
  }
  return new Uint8Array(Uint8Array.from(bits, (b) => (b >>> 20) & 0xff).buffer);
}

const SPECIALS: Record<CodedDtype, number[]> = {
  u8: [0, 1, 0x7f, 0x80, 0xff],
  bf16: [0x0000, 0x8000, 0x0001, 0x8001, 0x007f, 0x7f80, 0xff80, 0x7fc0, 0xffc1, 0x7f81, 0x7f7f, 0x3f80],
  fp16: [0x0000, 0x8000, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe5a, 0x7bff, 0x3c00],
  fp32: [0, 0x80000000, 1, 0x007fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffffffff, 0x7f7fffff, 0x3f800000],
};

function withSpecials(dtype: CodedDtype, data: Uint8Array): Uint8Array {
  const out = data.slice();
  const view = new DataView(out.buffer);
  const w = WIDTH[dtype];
  SPECIALS[dtype].forEach((v, i) => {
    const at = ((i * 7919) % (out.length / w)) * w;
    if (w === 1) view.setUint8(at, v);
    else if (w === 2) view.setUint16(at, v, true);
    else view.setUint32(at, v >>> 0, true);
  });
  return out;
}

function expectRoundTrip(data: Uint8Array, dtype: CodedDtype, options: { k?: number; chunkElements?: number } = {}): Uint8Array {
  const stream = encode(data, { dtype, ...options });
  const back = decode(stream);
  expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
  return stream;
}

describe("tensor round trips", () => {
  for (const dtype of ["bf16", "fp16", "fp32", "u8"] as const) {
    it(`${dtype}: every k, special values, lengths that do not fill the lanes`, () => {
      const maxK = layoutOf(dtype).maxK;
      for (const n of [0, 1, 3, 4, 5, 31, 33, 1000, 4097, 70001]) {
        const data = n > 20 ? withSpecials(dtype, weights(dtype, n, n)) : weights(dtype, n, n);
        for (let k = 0; k <= maxK; k++) {
          const stream = expectRoundTrip(data, dtype, { k });
          const index = parseContainer(stream);
          for (const seg of index.segments) {
            for (const c of seg.chunks) {
              const h = readChunkHeader(stream.subarray(c.offset, c.offset + c.length), seg.layout, c.elements, index.version);
              if (h.mode === 1) expect(h.k).toBe(k);
            }
          }
        }
        expectRoundTrip(data, dtype);
      }
    });
  }

  it("every 16-bit pattern as bf16 and as fp16, in several chunks", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const bytes = new Uint8Array(all.buffer);
    for (const dtype of ["bf16", "fp16"] as const) {
      expectRoundTrip(bytes, dtype, { chunkElements: 10000 });
      expectRoundTrip(bytes, dtype, { k: 4 });
    }
  });

  it("constant and two-valued tensors (one-symbol models)", () => {
    expectRoundTrip(new Uint8Array(new Uint16Array(5000).fill(0x3f80).buffer), "bf16");
    expectRoundTrip(new Uint8Array(100000), "u8");
    expectRoundTrip(new Uint8Array(Uint16Array.from({ length: 9999 }, (_, i) => (i % 3 ? 0x3f80 : 0xbf80)).buffer), "bf16");
  });

  it("decodes into a caller's buffer", () => {
    const data = weights("bf16", 12345, 7);
    const stream = encode(data, { dtype: "bf16" });
    const out = new Uint8Array(data.length + 10).fill(0xee);
    const view = decode(stream, { out });
    expect(view.buffer).toBe(out.buffer);
    expect(Buffer.from(view).equals(Buffer.from(data))).toBe(true);
    expect(out[data.length]).toBe(0xee);
    expect(errorCode(() => decode(stream, { out: new Uint8Array(data.length - 1) }))).toBe("BAD_ARGUMENT");
  });

  it("rejects data that is not whole elements and shapes that do not match", () => {
    expect(errorCode(() => encode(new Uint8Array(3), { dtype: "bf16" }))).toBe("BAD_ARGUMENT");
    expect(errorCode(() => encode(new Uint8Array(8), { dtype: "bf16", shape: [3] }))).toBe("BAD_ARGUMENT");
    expect(errorCode(() => encode(new Uint8Array(8), { dtype: "int7" as CodedDtype }))).toBe("BAD_ARGUMENT");
  });

  it("real weights from the fixture: ratio beats the exponent-only bound", () => {
    const file = readFileSync("fixtures/stories260K.bf16.safetensors");
    const header = Number(file.readBigUInt64LE(0));
    const data = new Uint8Array(file.buffer, file.byteOffset + 8 + header, file.length - 8 - header);
    const stream = expectRoundTrip(data, "bf16");
    const index = parseContainer(stream);
    const bound = index.segments[0]!.boundBytes;
    expect(stream.length).toBeLessThan(bound);
  });
});

describe("bad input", () => {
  const data = withSpecials("bf16", weights("bf16", 3000, 99));
  const stream = encode(data, { dtype: "bf16", chunkElements: 1000 });

  it("refuses a k the layout does not offer", () => {
    expect(errorCode(() => encode(new Uint8Array(64), { dtype: "bf16", k: 8 }))).toBe("BAD_ARGUMENT");
    expect(errorCode(() => encode(new Uint8Array(64), { dtype: "fp16", k: -1 }))).toBe("BAD_ARGUMENT");
    expect(errorCode(() => encode(new Uint8Array(64), { dtype: "fp32", k: 1.5 }))).toBe("BAD_ARGUMENT");
  });

  it("names the exact problem for each kind of damage", () => {
    expect(errorCode(() => decode(new Uint8Array(0)))).toBe("TRUNCATED");
    expect(errorCode(() => decode(new TextEncoder().encode("PK\x03\x04 not ansf at all")))).toBe("BAD_MAGIC");
    for (const version of [0, VERSION + 1, 255]) {
      const other = stream.slice();
      other[4] = version;
      expect(errorCode(() => decode(other))).toBe("UNSUPPORTED_VERSION");
    }
    const footer = stream.slice();
    footer[footer.length - 1] ^= 0xff;
    expect(errorCode(() => decode(footer))).toBe("TRUNCATED");
    const extra = new Uint8Array(stream.length + 1);
    extra.set(stream);
    expect(errorCode(() => decode(extra))).toBe("TRUNCATED");
  });

  it("every truncation of a small stream fails with a typed error", () => {
    for (let len = 0; len < stream.length; len++) {
      const code = errorCode(() => decode(stream.subarray(0, len)));
      expect(["TRUNCATED", "BAD_MAGIC", "CORRUPT_STREAM"]).toContain(code);
    }
  });

  it("thousands of seeded bit flips in header, model, payload and raw plane: an error or the exact original", () => {
    const r = rng(2024);
    const index = parseContainer(stream);
    const chunk = index.segments[0]!.chunks[1]!;
    const h = readChunkHeader(stream.subarray(chunk.offset, chunk.offset + chunk.length), index.segments[0]!.layout, chunk.elements, index.version);
    const regions = {
      container: [0, stream.length],
      model: [chunk.offset, chunk.offset + h.payloadOffset],
      payload: [chunk.offset + h.payloadOffset, chunk.offset + h.payloadOffset + h.payloadLength],
      raw: [chunk.offset + h.rawOffset, chunk.offset + h.rawOffset + h.rawLength],
    } as const;
    const silent: Record<string, number> = { container: 0, model: 0, payload: 0, raw: 0 };
    for (const [name, [from, to]] of Object.entries(regions)) {
      for (let trial = 0; trial < 1000; trial++) {
        const bad = stream.slice();
        // 1 to 3 distinct bits: two flips of one bit would cancel out.
        const flips = new Set<number>();
        for (let f = 1 + Math.floor(r() * 3); f > 0; f--) flips.add(8 * from + Math.floor(r() * 8 * (to - from)));
        for (const bit of flips) bad[bit >> 3]! ^= 1 << (bit & 7);
        let out: Uint8Array | undefined;
        try {
          out = decode(bad);
        } catch (err) {
          expect(err).toBeInstanceOf(AnsfError);
          continue;
        }
        expect(Buffer.from(out).equals(Buffer.from(data))).toBe(true);
        silent[name]!++;
      }
    }
    // Only flips that change nothing decoded may pass (none can in payload or raw plane).
    expect(silent.payload).toBe(0);
    expect(silent.raw).toBe(0);
  });
});

describe("bad arguments", () => {
  const weights = new Uint16Array(4096).map((_, i) => 0x3c00 + (i % 97));

  it("refuse options that would make an undecodable stream or never end, with BAD_ARGUMENT", () => {
    // Chunks larger than readers accept, or precisions the kp byte cannot hold, made streams no decoder took; a chunk size of 0 or less looped until the heap ran out.
    for (const chunkElements of [0, -5, 1.5, Number.NaN, 2 ** 25 + 1]) {
      expect(errorCode(() => encode(weights, { dtype: "bf16", chunkElements }))).toBe("BAD_ARGUMENT");
    }
    for (const precisions of [[8], [16], [11.5], []]) {
      expect(errorCode(() => encode(weights, { dtype: "bf16", precisions }))).toBe("BAD_ARGUMENT");
    }
    const stream = encode(weights, { dtype: "bf16", chunkElements: 1000, precisions: [15] });
    expect(Buffer.from(decode(stream)).equals(Buffer.from(weights.buffer))).toBe(true);
  });

  it("name the argument of the wrong type rather than fail inside", async () => {
    const { compress, compressAsync, decompress, decompressAsync, inspect, open, openModel, encodeFormat, decodeFormat } = await import("../src/index.js");
    const wrong: (() => unknown)[] = [
      () => encode(null as never, { dtype: "bf16" }),
      () => encode(weights, undefined as never),
      () => decode(undefined as never),
      () => compress("file" as never),
      () => decompress(123 as never),
      () => inspect(null as never),
      () => open(123 as never),
      () => openModel(null as never),
      () => encodeFormat([1, 2] as never, { format: "fp8-e4m3" }),
      () => decodeFormat({} as never),
    ];
    for (const f of wrong) expect(errorCode(f)).toBe("BAD_ARGUMENT");
    const { quantizeFile } = await import("../src/index.js");
    await expect(quantizeFile("file" as never, { format: "fp8-e4m3" })).rejects.toMatchObject({ code: "BAD_ARGUMENT" });
    await expect(quantizeFile(new Uint8Array(8), undefined as never)).rejects.toMatchObject({ code: "BAD_ARGUMENT" });
    await expect(compressAsync("file" as never)).rejects.toMatchObject({ code: "BAD_ARGUMENT" });
    await expect(decompressAsync(null as never)).rejects.toMatchObject({ code: "BAD_ARGUMENT" });
  });
});
