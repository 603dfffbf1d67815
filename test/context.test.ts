import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { decodeChunk, encodeChunk, MODE_CONTEXT, MODE_RANS, readChunkHeader } from "../src/chunk.js";
import { VERSION } from "../src/container.js";
import { contextBases, CONTEXT_LANE, CONTEXT_ROW, groupOf, lanePattern, type ChannelContext, type ChunkPlace } from "../src/context.js";
import { layoutOf } from "../src/dtypes.js";
import { AnsfError, decode, encode } from "../src/index.js";
import { parseSafetensors } from "../src/safetensors.js";
import { core } from "../src/wasm.js";

const fixture = readFileSync("fixtures/stories260K.bf16.safetensors");
const tensors = parseSafetensors(fixture).tensors;
const bf16 = layoutOf("bf16");

/** The fixture's bf16 words from its first tensors, n of them, as a fresh buffer. */
function words(n: number): Uint16Array {
  const start = tensors[0]!.begin;
  return new Uint16Array(fixture.buffer.slice(fixture.byteOffset + start, fixture.byteOffset + start + 2 * n));
}

/**
 * Real weights whose channels differ in scale by whole binades, as layers
 * of a trained network do: channel ch gets 2^(ch mod 4) times the
 * magnitude (an exact exponent shift, so every pattern stays a weight).
 */
function scaledChannels(n: number, channelOf: (e: number) => number): Uint8Array {
  const w = words(n);
  for (let e = 0; e < n; e++) {
    const exp = (w[e]! >>> 7) & 0xff;
    const shift = channelOf(e) % 4;
    if (exp > 0 && exp + shift < 0xff) w[e] = w[e]! + (shift << 7);
  }
  return new Uint8Array(w.buffer);
}

function roundTrip(data: Uint8Array, place?: ChunkPlace) {
  const { bytes, choice } = encodeChunk(core(), data, bf16, {}, place);
  const out = new Uint8Array(data.length);
  decodeChunk(core(), bytes, bf16, data.length / 2, out, VERSION);
  expect(Buffer.from(out).equals(Buffer.from(data))).toBe(true);
  return { bytes, choice };
}

describe("channel contexts", () => {
  it("lay out each element's table exactly as groupOf says, for rows and lane patterns", () => {
    const n = 5000;
    const row: ChannelContext = { kind: CONTEXT_ROW, groups: 3, stride: 3, run: 1, phase: 2, map: Uint8Array.from({ length: 53 }, (_, i) => (i * 7) % 3) };
    const rounds = contextBases(row, n, 0, (l) => new Uint32Array(l));
    expect(rounds.length).toBe(Math.floor(n / 32) + 1);
    for (let e = 0; e < n; e++) expect(rounds[Math.floor(e / 32)]).toBe(groupOf(row, e));
    for (const [run, stride] of [[1, 24], [1, 1440], [60, 240], [9, 7]] as const) {
      const lane: ChannelContext = { kind: CONTEXT_LANE, groups: 4, stride, run, phase: 5 % (run * stride), map: Uint8Array.from({ length: stride }, (_, i) => (i * 5) % 4) };
      const pattern = contextBases(lane, n, 0, (l) => new Uint32Array(l));
      // One repeat of the pattern, or the chunk's rounds where it is shorter (14400 elements for 60 x 240).
      expect(pattern.length).toBe(Math.min(lanePattern(run * stride), Math.ceil(n / 32) * 32));
      expect(pattern.length % 32).toBe(0);
      // A whole pattern repeats; a shorter one covers every element of the chunk's rounds.
      const covered = pattern.length === lanePattern(run * stride) ? 3 * pattern.length : pattern.length;
      for (let e = 0; e < covered; e++) expect(pattern[e % pattern.length]).toBe(groupOf(lane, e));
    }
  });

  it("code rows of 32k elements with a table per round, and decode them byte for byte", () => {
    const rows = 300;
    const cols = 64;
    const n = rows * cols + 17;
    const data = scaledChannels(n, (e) => Math.floor(e / cols));
    const plain = roundTrip(data);
    // A chunk that starts inside a row (phase ≠ 0) and ends in a partial round.
    for (const start of [0, 2 * cols + 32]) {
      const { bytes, choice } = roundTrip(data, { shape: [rows + 4, cols], start });
      expect(choice.mode).toBe(MODE_CONTEXT);
      expect(choice.context).toBe(CONTEXT_ROW);
      expect(choice.groups).toBeGreaterThan(1);
      expect(bytes.length).toBeLessThan(plain.bytes.length);
      const h = readChunkHeader(bytes, bf16, n / 1, VERSION);
      expect(h.context!.phase).toBe((start / 32) % 2);
    }
  });

  it("code the last axis with a table per lane, periods that do and do not divide 32, and decode them byte for byte", () => {
    for (const cols of [24, 64, 100]) {
      const n = 40 * cols * 5 + 3;
      const data = scaledChannels(n, (e) => (e + 7) % cols);
      const { bytes, choice } = roundTrip(data, { shape: [Math.ceil((n + 7) / cols), cols], start: 7 });
      expect(choice.mode).toBe(MODE_CONTEXT);
      expect(choice.context).toBe(CONTEXT_LANE);
      expect(bytes.length).toBeLessThan(roundTrip(data).bytes.length);
    }
  });

  it("never make a chunk larger than order-0 coding: the encoder compares exact sizes", () => {
    for (const t of tensors.filter((t) => t.dtype === "BF16")) {
      const data = fixture.subarray(t.begin, t.end);
      const plain = roundTrip(data);
      const ctx = roundTrip(data, { shape: t.shape, start: 0 });
      expect(ctx.bytes.length).toBeLessThanOrEqual(plain.bytes.length);
      if (ctx.choice.mode === MODE_RANS) expect(Buffer.from(ctx.bytes).equals(Buffer.from(plain.bytes))).toBe(true);
    }
  });

  const ppocr = "../shared/data/ocr/ppocrv4_rec.bf16.safetensors";
  it.skipIf(!existsSync(ppocr))(`merge channel groups into fewer, finer tables where that is smaller (${ppocr}; absent: skipped)`, () => {
    // conv2d_180.w_0, 230400 weights: its channels group best into 4 tables,
    // which fit 2^12 slots only at P = 10, where k = 3's rare codes cost 28 kbit
    // of normalisation loss; merged into 2 tables at P = 11 they cost under half that,
    // and the chunk is about 1.5 KB smaller than with the 4 tables.
    const file = readFileSync(ppocr);
    const t = parseSafetensors(file).tensors.find((t) => t.name === "conv2d_180.w_0")!;
    const { bytes, choice } = roundTrip(file.subarray(t.begin, t.end), { shape: t.shape, start: 0 });
    expect([choice.mode, choice.groups, choice.precision, choice.k]).toEqual([MODE_CONTEXT, 2, 11, 3]);
    expect(bytes.length).toBe(309188);
  });

  it("follow the shape given to encode(), and the stream decodes without it", () => {
    const data = scaledChannels(256 * 64, (e) => Math.floor(e / 64));
    const stream = encode(data, { dtype: "bf16", shape: [256, 64] });
    expect(stream.length).toBeLessThan(encode(data, { dtype: "bf16" }).length);
    expect(Buffer.from(decode(stream)).equals(Buffer.from(data))).toBe(true);
  });

  it("refuse every truncation and report every flipped header bit or wrong data as an AnsfError", () => {
    const n = 200 * 64;
    const data = scaledChannels(n, (e) => Math.floor(e / 64));
    const { bytes } = roundTrip(data, { shape: [200, 64], start: 0 });
    const h = readChunkHeader(bytes, bf16, n, VERSION);
    const out = new Uint8Array(2 * n);
    const outcome = (chunk: Uint8Array): string => {
      try {
        decodeChunk(core(), chunk, bf16, n, out, VERSION);
        return Buffer.from(out).equals(Buffer.from(data)) ? "exact" : "WRONG";
      } catch (err) {
        expect(err).toBeInstanceOf(AnsfError);
        return (err as AnsfError).code;
      }
    };
    for (let cut = 0; cut < bytes.length; cut += cut < h.payloadOffset + 200 ? 1 : 997) {
      expect(["TRUNCATED", "CORRUPT_STREAM"]).toContain(outcome(bytes.subarray(0, cut)));
    }
    const seen = new Set<string>();
    for (let bit = 0; bit < 8 * h.payloadOffset; bit++) {
      const bad = bytes.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      const result = outcome(bad);
      expect(result).not.toBe("WRONG");
      seen.add(result);
    }
    expect(seen).toContain("CORRUPT_STREAM");
    expect(seen).toContain("CHECKSUM_MISMATCH");
  });
});
