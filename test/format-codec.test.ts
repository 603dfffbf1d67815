import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compress, decompress, decodeFormat, encodeFormat, inspect, open, quantizeFile } from "../src/index.js";
import { parseContainer, VERSION, writeIndex, type Segment } from "../src/container.js";
import { parseSafetensors, writeSafetensors } from "../src/safetensors.js";
import {
  BUILTIN_FORMAT_NAMES,
  builtinFormat,
  codeTable,
  defineFormat,
  quantize,
  toComputeBits,
  UNUSED_PATTERN,
  type NumericFormat,
  type QuantizationError,
} from "../src/numformat/index.js";
import { core } from "../src/wasm.js";
import { errorCode } from "./error-code.js";

const FIXTURE = "fixtures/stories260K.bf16.safetensors";
const TARGETS = ["fp32", "bf16", "fp16"] as const;
const SMALL = BUILTIN_FORMAT_NAMES.filter((name) => builtinFormat(name).bits <= 16);

function bytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function usedPatterns(format: NumericFormat): number[] {
  const { codeOf } = codeTable(format);
  return [...codeOf.keys()].filter((p) => codeOf[p] !== UNUSED_PATTERN);
}

function patternArray(format: NumericFormat, patterns: number[]): Uint8Array | Uint16Array {
  return format.bits <= 8 ? Uint8Array.from(patterns) : Uint16Array.from(patterns);
}

/**
 * Every used pattern once, then a skewed run (pattern i of the list about
 * 2^-i/4 of the time) so that chunks are rANS coded, not stored.
 */
function exhaustive(format: NumericFormat): number[] {
  const used = usedPatterns(format);
  const skewed: number[] = [];
  let s = 12345;
  for (let i = 0; i < 40000; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const r = s / 2 ** 32;
    skewed.push(used[Math.min(used.length - 1, Math.floor(-4 * Math.log2(1 - r)))]!);
  }
  return [...used, ...skewed];
}

describe("direct-to-compute decoding", () => {
  for (const name of SMALL) {
    it(`${name}: every pattern decodes to toComputeBits' fp32, bf16 and fp16 bits`, () => {
      const format = builtinFormat(name);
      const patterns = exhaustive(format);
      const stored = patternArray(format, patterns);
      const stream = encodeFormat(stored, { format: name, chunkElements: 20000 });
      expect(inspect(stream).segments[0]!.chunks.some((c) => c.mode === "rans")).toBe(true);
      expect(bytes(decodeFormat(stream)).equals(bytes(stored))).toBe(true);
      for (const target of TARGETS) {
        expect(bytes(decodeFormat(stream, { to: target })).equals(bytes(toComputeBits(patterns, format, target))), target).toBe(true);
      }
    });
  }

  it("fp32 decodes to itself, and to bf16 and fp16 as toComputeBits rounds (every exponent, ties, edges)", () => {
    const words: number[] = [];
    let s = 987654321;
    for (let i = 0; i < 1 << 18; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      words.push(s >>> 0);
    }
    // Every exponent with mantissas at and around the bf16 and fp16 rounding points.
    for (let e = 0; e < 512; e++) {
      for (const m of [0, 1, 0x7fff, 0x8000, 0x8001, 0x18000, 0xfff, 0x1000, 0x1001, 0x3000, 0x7fe000, 0x7ff000, 0x7fffff]) words.push(((e << 23) | m) >>> 0);
    }
    for (const v of [65504, 65519.99, 65520, 2 ** -24, 2 ** -25, 1.5 * 2 ** -25, 2 ** -26, 3 * 2 ** -25, 2 ** -14, 2 ** -14 - 2 ** -25]) {
      words.push(new Uint32Array(new Float32Array([v, -v]).buffer)[0]!, new Uint32Array(new Float32Array([-v]).buffer)[0]!);
    }
    const stored = Uint32Array.from(words);
    const stream = encodeFormat(stored, { format: "fp32", chunkElements: 100000 });
    expect(bytes(decodeFormat(stream, { to: "fp32" })).equals(bytes(stored))).toBe(true);
    const fp32 = builtinFormat("fp32");
    for (const target of ["bf16", "fp16"] as const) {
      expect(bytes(decodeFormat(stream, { to: target })).equals(bytes(toComputeBits(stored, fp32, target))), target).toBe(true);
    }
  });

  it("converts tensors of plain encode() streams too", async () => {
    const { encode } = await import("../src/index.js");
    const words = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const stream = encode(words, { dtype: "fp16" });
    expect(bytes(decodeFormat(stream, { to: "fp32" })).equals(bytes(toComputeBits(words, builtinFormat("fp16"), "fp32")))).toBe(true);
  });
});

/** Maxima exactly; RMS to 12 digits (large tensors sum the same squares by pattern, in another order). */
function expectSameError(actual: QuantizationError, expected: QuantizationError): void {
  expect([actual.maxAbs, actual.maxRel]).toEqual([expected.maxAbs, expected.maxRel]);
  for (const key of ["rms", "valueRms"] as const) {
    if (expected[key] === 0) expect(actual[key]).toBe(0);
    else expect(actual[key] / expected[key]).toBeCloseTo(1, 12);
  }
}

function bf16ToFloat32(data: Uint8Array): Float32Array {
  const words = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
  return new Float32Array(Uint32Array.from(words, (w) => w << 16).buffer);
}

describe("real weights in every built-in format", () => {
  const file = readFileSync(FIXTURE);
  const original = parseSafetensors(file);

  for (const name of BUILTIN_FORMAT_NAMES) {
    it(`${name}: quantised stories260K round-trips byte for byte`, async () => {
      const format = builtinFormat(name);
      const { stream, report } = await quantizeFile(file, { format: name, scale: "auto", threads: 1 });
      const restored = decompress(stream);
      const parsed = parseSafetensors(restored);
      const record = JSON.parse(parsed.metadata!["ansfloat.quantization"]!);
      expect(record.format).toBe(name);
      expect(report.tensors).toHaveLength(original.tensors.length);
      const index = parseContainer(stream);
      original.tensors.forEach((t, i) => {
        const q = parsed.tensors[i]!;
        expect(q.name).toBe(t.name);
        // Quantised here, independently of quantizeFile, with the scale it reports.
        const expected = quantize(bf16ToFloat32(file.subarray(t.begin, t.end)), format, { scale: record.scales[t.name] });
        expect(bytes(restored.subarray(q.begin, q.end)).equals(bytes(expected.data))).toBe(true);
        expectSameError(report.tensors[i]!.error, expected.error);
        expect(index.segments[i + 1]!.format?.name).toBe(name);
      });
      if (format.bits <= 16) {
        // One tensor through the one-tensor API, and to fp32 bits.
        const t = parsed.tensors[1]!;
        const stored = restored.slice(t.begin, t.end);
        const one = encodeFormat(stored, { format: name, shape: t.shape });
        expect(bytes(decodeFormat(one)).equals(bytes(stored))).toBe(true);
        const patterns = format.bits <= 8 ? stored : new Uint16Array(stored.buffer);
        expect(bytes(decodeFormat(one, { to: "fp32" })).equals(bytes(toComputeBits(patterns, format, "fp32")))).toBe(true);
      }
    });
  }

  it("quantises a large bf16 tensor through a table exactly as weight by weight", async () => {
    // All of stories260K's weights as one BF16 tensor: over the table threshold.
    const all = Buffer.concat(original.tensors.map((t) => file.subarray(t.begin, t.end)));
    const big = writeSafetensors([{ name: "all", dtype: "BF16", shape: [all.length / 2], data: all }]);
    for (const name of ["fp8-e4m3", "posit16es1", "int4", "ternary"]) {
      const format = builtinFormat(name);
      const { stream, report } = await quantizeFile(big, { format: name, scale: "auto", threads: 1 });
      const restored = parseSafetensors(decompress(stream));
      const t = restored.tensors[0]!;
      const scale = JSON.parse(restored.metadata!["ansfloat.quantization"]!).scales.all;
      const expected = quantize(bf16ToFloat32(all), format, { scale });
      expect(bytes(decompress(stream).subarray(t.begin, t.end)).equals(bytes(expected.data)), name).toBe(true);
      expectSameError(report.tensors[0]!.error, expected.error);
    }
  });

  it("quantises a large fp32 tensor through a table of buckets exactly as weight by weight", async () => {
    // stories260K's weights scaled by 1.2345 in fp32: full 24-bit significands.
    const weights = Float32Array.from(bf16ToFloat32(Buffer.concat(original.tensors.map((t) => file.subarray(t.begin, t.end)))), (v) => v * 1.2345);
    weights[7] = 0;
    weights[8] = -0;
    const big = writeSafetensors([{ name: "all", dtype: "F32", shape: [weights.length], data: new Uint8Array(weights.buffer) }]);
    for (const [name, scale] of [["fp8-e4m3", "auto"], ["posit8es2", "auto"], ["posit16es1", "auto"], ["int8", "auto"], ["fp16", 1], ["fp6-e2m3", 0.01]] as const) {
      const format = builtinFormat(name);
      const { stream, report } = await quantizeFile(big, { format: name, scale, threads: 1 });
      const restored = decompress(stream);
      const t = parseSafetensors(restored).tensors[0]!;
      const expected = quantize(weights, format, { scale: report.tensors[0]!.scale });
      expect(bytes(restored.subarray(t.begin, t.end)).equals(bytes(expected.data)), name).toBe(true);
      expectSameError(report.tensors[0]!.error, expected.error);
    }
    weights[9] = NaN;
    const bad = writeSafetensors([{ name: "all", dtype: "F32", shape: [weights.length], data: new Uint8Array(weights.buffer) }]);
    await expect(quantizeFile(bad, { format: "fp8-e4m3", threads: 1 })).rejects.toThrow('tensor "all": quantize: values[9] is NaN; weights must be finite');
  });

  it("lets the lazy loader convert a format's tensors", async () => {
    const { stream } = await quantizeFile(file, { format: "posit8es0", scale: "auto", threads: 1 });
    const path = join(mkdtempSync(join(tmpdir(), "ansfloat-formats-")), "q.ansf");
    writeFileSync(path, stream);
    const restored = decompress(stream);
    const q = parseSafetensors(restored).tensors[2]!;
    const stored = restored.subarray(q.begin, q.end);
    const loaded = open(path);
    try {
      expect(loaded.tensors[2]).toEqual({ name: q.name, dtype: "posit8es0", shape: q.shape, bytes: stored.length });
      expect(bytes(loaded.tensor(q.name)).equals(bytes(stored))).toBe(true);
      const format = builtinFormat("posit8es0");
      expect(bytes(loaded.float32(q.name)).equals(bytes(toComputeBits(stored, format, "fp32")))).toBe(true);
      expect(bytes(loaded.decodeAs(q.name, "fp16")).equals(bytes(toComputeBits(stored, format, "fp16")))).toBe(true);
    } finally {
      loaded.close();
    }
  });

  it("writes the same stream with 1 and 2 threads", async () => {
    const one = await quantizeFile(file, { format: "posit8es2", threads: 1 });
    const two = await quantizeFile(file, { format: "posit8es2", threads: 2 });
    expect(bytes(one.stream).equals(bytes(two.stream))).toBe(true);
  });

  it("carries a user-defined format in the stream", async () => {
    const custom = defineFormat({
      name: "near-zero",
      bits: 4,
      signed: "sign-magnitude",
      rounding: "saturate",
      codes: [
        { code: 0, kind: "subnormal", scale: -6, extraBits: 1 },
        { code: 1, kind: "normal", scale: -6, extraBits: 1 },
        { code: 2, kind: "normal", scale: -5, extraBits: 1 },
        { code: 3, kind: "normal", scale: -4, extraBits: 1 },
      ],
    });
    const { stream } = await quantizeFile(file, { format: custom, threads: 1 });
    const f = parseContainer(stream).segments[1]!.format!;
    expect(f.descriptor).toEqual(custom.descriptor);
    const stored = new Uint8Array([0, 1, 7, 8, 9, 15]);
    expect(bytes(decodeFormat(encodeFormat(stored, { format: custom }), { to: "fp32" })).equals(bytes(toComputeBits(stored, custom, "fp32")))).toBe(true);
  });
});

/** The stream with its index replaced by `index` as rewritten by writeIndex (checksum and footer recomputed). */
function withIndex(stream: Uint8Array, segments: Segment[]): Uint8Array {
  const index = parseContainer(stream);
  const end = index.segments.flatMap((s) => s.chunks).reduce((at, c) => Math.max(at, c.offset + c.length), 8);
  const tail = writeIndex(segments, end);
  const out = new Uint8Array(end + tail.length);
  out.set(stream.subarray(0, end));
  out.set(tail, end);
  return out;
}

/** The stream with its index body edited and the index checksum recomputed. */
function patchIndex(stream: Uint8Array, edit: (body: Uint8Array) => void): Uint8Array {
  const out = stream.slice();
  const view = new DataView(out.buffer);
  const indexOffset = Number(view.getBigUint64(out.length - 16, true));
  const indexLength = view.getUint32(out.length - 8, true);
  const body = out.subarray(indexOffset, indexOffset + indexLength - 4);
  edit(body);
  const c = core();
  c.reset();
  view.setUint32(indexOffset + indexLength - 4, c.fn.checksum(c.put(body), body.length) >>> 0, true);
  return out;
}

describe("older streams", () => {
  it("decode a version 1 stream written before numeric formats and channel contexts existed", () => {
    const fixture = readFileSync(FIXTURE);
    const tensors = new Map(parseSafetensors(fixture).tensors.map((t) => [t.name, fixture.subarray(t.begin, t.end)]));
    const stream = readFileSync("fixtures/v1-stories260K-3-tensors.safetensors.ansf");
    expect(stream[4]).toBe(1);
    expect(compress(readFileSync(FIXTURE))[4]).toBe(VERSION);
    const restored = decompress(stream);
    const parsed = parseSafetensors(restored);
    expect(parsed.metadata).toEqual({ origin: "stories260K.bf16.safetensors" });
    expect(parsed.tensors.map((t) => t.name)).toEqual(["model.layers.0.input_layernorm.weight", "model.layers.0.self_attn.k_proj.weight", "model.norm.weight"]);
    for (const t of parsed.tensors) expect(bytes(restored.subarray(t.begin, t.end)).equals(tensors.get(t.name)!)).toBe(true);
  });
});

describe("bad input", () => {
  // Ternary is two's complement: 0, +1 = 1, −1 = 3; pattern 2 (−2) is unused.
  const ternary = encodeFormat(new Uint8Array([0, 1, 3, 1, 0, 0, 3]), { format: "ternary" });

  it("refuses patterns a format does not use, and formats streams cannot carry", () => {
    expect(errorCode(() => encodeFormat(new Uint8Array([0, 1, 2]), { format: "ternary" }))).toBe("BAD_ARGUMENT");
    expect(errorCode(() => encodeFormat(new Uint8Array([0x10]), { format: "int4" }))).toBe("BAD_ARGUMENT");
    // Checked a chunk's worth at a time: the position counts from the start of the tensor.
    const long = new Uint8Array((1 << 20) + 5);
    long[(1 << 20) + 3] = 0x1f;
    expect(() => encodeFormat(long, { format: "int4" })).toThrow('element 1048579 is 0x1f, not a pattern of format "int4"');
    expect(errorCode(() => encodeFormat(new Uint8Array([1]), { format: "no-such-format" }))).toBe("BAD_ARGUMENT");
    const wide = defineFormat({ name: "u20", bits: 20, signed: "none", codes: [{ code: 0, kind: "int", scale: 0, fractionStart: 0, count: 1 }] });
    expect(errorCode(() => encodeFormat(new Uint32Array([1]), { format: wide }))).toBe("BAD_ARGUMENT");
  });

  it("refuses malformed descriptors with BAD_FORMAT_DESCRIPTOR", () => {
    expect(errorCode(() => defineFormat({ name: "x", bits: 4, signed: "sign-magnitude", codes: [] }))).toBe("BAD_FORMAT_DESCRIPTOR");
    expect(errorCode(() => defineFormat({ name: "x", bits: 4, signed: "nope", codes: [{ code: 0, kind: "zero" }] }))).toBe("BAD_FORMAT_DESCRIPTOR");
  });

  it("refuses a stored pattern the format does not use (a consistent but hostile stream)", () => {
    const stream = encodeFormat(new Uint8Array([0, 1, 16, 17]), { format: "uint8" });
    const index = parseContainer(stream);
    const forged = withIndex(stream, [{ ...index.segments[0]!, format: builtinFormat("int4") }]);
    expect(bytes(decompress(forged)).equals(Buffer.from([0, 1, 16, 17]))).toBe(true);
    for (const to of ["stored", "fp32"] as const) expect(errorCode(() => decodeFormat(forged, { to }))).toBe("CORRUPT_STREAM");
    expect(() => decodeFormat(forged)).toThrow('element 2 is not a pattern of format "int4"');
  });

  it("refuses corrupt format tables and references with CORRUPT_STREAM", () => {
    // Index body of a version 2 stream: format count, entry kind, name length, name, segment count, kind, layout, format.
    expect(parseContainer(ternary).segments[0]!.format!.name).toBe("ternary");
    const name = new TextEncoder().encode("ternary");
    const at = (body: Uint8Array) => body.findIndex((_, i) => name.every((b, j) => body[i + j] === b));
    expect(errorCode(() => decodeFormat(patchIndex(ternary, (b) => void (b[at(b)] = 0x78))))).toBe("CORRUPT_STREAM"); // "xernary"
    expect(errorCode(() => decodeFormat(patchIndex(ternary, (b) => void (b[1] = 7))))).toBe("CORRUPT_STREAM"); // entry kind
    expect(errorCode(() => decodeFormat(patchIndex(ternary, (b) => void (b[at(b) + name.length + 3] = 1))))).toBe("CORRUPT_STREAM"); // format 1 of 1
    expect(errorCode(() => decodeFormat(patchIndex(ternary, (b) => void (b[at(b) + name.length + 2] = 1))))).toBe("CORRUPT_STREAM"); // carried as bf16
    const v1 = ternary.slice();
    v1[4] = 1; // a format segment in a version 1 stream
    expect(errorCode(() => decodeFormat(v1))).toBe("CORRUPT_STREAM");
  });

  it("refuses a descriptor in the stream that does not validate", () => {
    const custom = defineFormat({ name: "c", bits: 2, signed: "none", codes: [{ code: 0, kind: "zero" }, { code: 1, kind: "int", scale: 0 }] });
    const stream = encodeFormat(new Uint8Array([0, 1, 1]), { format: custom });
    const key = new TextEncoder().encode('"bits":2');
    const patched = patchIndex(stream, (b) => {
      const i = b.findIndex((_, k) => key.every((x, j) => b[k + j] === x));
      b[i + 7] = 0x30; // "bits":0
    });
    expect(errorCode(() => decodeFormat(patched))).toBe("CORRUPT_STREAM");
  });
});
