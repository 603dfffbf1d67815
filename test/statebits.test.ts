// Version 3: the last raw-plane bits of a rANS chunk ride in its lanes'
// initial states (docs/FORMAT.md §Lane states). The rule is checked here
// against a bit-level reading of the format written again in the test:
// on chunks the encoder makes, on hand-built chunks it never makes (one
// element, lanes without elements that still carry bits), through every
// decode path and the hardware model; version 2 and 3 streams decode as
// before.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BitWriter, ByteWriter } from "../src/bytes.js";
import { MODE_CONTEXT, MODE_RANS, readChunkHeader, type ChunkChoice } from "../src/chunk.js";
import { assemble } from "../src/codec.js";
import { parseContainer, VERSION } from "../src/container.js";
import { codeShift, layoutOf, rawBits, type CodedDtype, type PairLayout } from "../src/dtypes.js";
import { verifyStream } from "../src/hw/verify.js";
import { compress, decompress, decompressAsync, encode, open } from "../src/index.js";
import { memoryReader, MemorySink } from "../src/io.js";
import { writeLaneStates } from "../src/lane-states.js";
import { FULL_RESOLUTION, MODEL_LOG, modelTable, sparse, writeModels } from "../src/model.js";
import { parseSafetensors } from "../src/safetensors.js";
import { encodedSegment } from "../src/segments.js";
import { decompressStream } from "../src/stream.js";
import { core } from "../src/wasm.js";
import { errorCode } from "./error-code.js";

const V2_FIXTURE = "fixtures/v2-mixed-layouts.safetensors.ansf";
/** The same file compressed as version 3 (fixtures/README.md). */
const V3_FIXTURE = "fixtures/v3-mixed-layouts.safetensors.ansf";
/** And as version 4 (fixtures/README.md). */
const V4_FIXTURE = "fixtures/v4-mixed-layouts.safetensors.ansf";
const MIXED_ORIGINAL_SHA256 = "299790a1fc84ed7fffdbf28393d126f89a431d98ec697bd5b7bf061c5a3ec20c";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Element e's raw field (w bits: sign above the c low bits) of the elements in `data`. */
function fieldsOf(data: Uint8Array, layout: PairLayout, k: number): number[] {
  const c = codeShift(layout, k);
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  return Array.from({ length: data.length / layout.width }, (_, e) => {
    const v = layout.width === 1 ? view.getUint8(e) : layout.width === 2 ? view.getUint16(2 * e, true) : view.getUint32(4 * e, true);
    return layout.signed ? (((v >>> (8 * layout.width - 1)) << c) | (v & ((1 << c) - 1))) >>> 0 : 0;
  });
}

/**
 * The format rule, read bit by bit: the raw plane of n·w bits (field e at
 * bit e·w, LSB first); its last H = min(16·N, n·w) bits ride in the lanes,
 * lane j ending in 2^16 + bits [n·w − H + 16j, +16), the plane keeping the
 * rest, zero-padded to whole bytes.
 */
function expectedLayout(fields: number[], w: number, lanes: number): { stored: Uint8Array; states: number[]; carried: number } {
  const total = fields.length * w;
  const bit = (i: number) => (fields[Math.floor(i / w)]! >>> (i % w)) & 1;
  const carried = Math.min(16 * lanes, total);
  const storedBits = total - carried;
  const stored = new Uint8Array(Math.ceil(storedBits / 8));
  for (let i = 0; i < storedBits; i++) stored[i >> 3]! |= bit(i) << (i & 7);
  const states = Array.from({ length: lanes }, (_, j) => {
    let r = 0;
    for (let i = 0; i < 16 && 16 * j + i < carried; i++) r |= bit(storedBits + 16 * j + i) << i;
    return 0x10000 + r;
  });
  return { stored, states, carried };
}

/** n elements sharing one code (exponent and top k mantissa bits), random signs and low bits. */
function oneCode(layout: PairLayout, k: number, n: number, seed: number): Uint8Array {
  const next = rng(seed);
  const c = codeShift(layout, k);
  const code = ((1 << (layout.exponentBits - 1)) - 3) << k | ((1 << k) - 1) >>> 1;
  const out = new Uint8Array(n * layout.width);
  const view = new DataView(out.buffer);
  for (let e = 0; e < n; e++) {
    const sign = layout.signed && next() < 0.5 ? 1 : 0;
    const low = Math.floor(next() * 2 ** c);
    const v = ((sign * 2 ** (8 * layout.width - 1)) + code * 2 ** c + low) >>> 0;
    if (layout.width === 1) view.setUint8(e, code);
    else if (layout.width === 2) view.setUint16(2 * e, v, true);
    else view.setUint32(4 * e, v, true);
  }
  return out;
}

/** Gaussian-ish weights (σ = 0.02) as elements of `dtype`, bf16 and fp16 by truncation, u8 their fp32 exponents. */
function weights(dtype: CodedDtype, n: number, seed: number): Uint8Array {
  const next = rng(seed);
  const f = Float32Array.from({ length: n }, () => 0.02 * Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next()));
  const bits = new Uint32Array(f.buffer);
  if (dtype === "fp32") return new Uint8Array(f.buffer);
  if (dtype === "u8") return Uint8Array.from(bits, (b) => (b >>> 23) & 0xff);
  if (dtype === "bf16") return new Uint8Array(Uint16Array.from(bits, (b) => b >>> 16).buffer);
  return new Uint8Array(Uint16Array.from(bits, (b) => {
    const e = ((b >>> 23) & 0xff) - 112;
    return ((b >>> 16) & 0x8000) | (e <= 0 ? 0 : e >= 31 ? 0x7c00 : (e << 10) | ((b >>> 13) & 0x3ff));
  }).buffer);
}

/**
 * A mode-1 chunk built by hand from the format: every element has the same
 * code, whose one frequency 2^11 makes each decode step leave the state as
 * it is and read no word, so each lane ends in the state it starts in.
 * Such chunks cover what the encoder never makes: one element, lanes that
 * code no element yet carry bits. `written` may change the states written.
 */
function handBuilt(
  layout: PairLayout, k: number, data: Uint8Array, lanes: number, written = (states: number[]) => states,
): { chunk: Uint8Array; states: number[]; carried: number; streamBits: number } {
  const n = data.length / layout.width;
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  const first = layout.width === 1 ? view.getUint8(0) : layout.width === 2 ? view.getUint16(0, true) : view.getUint32(0, true);
  const code = (first >>> codeShift(layout, k)) & ((1 << (layout.exponentBits + k)) - 1);
  const dense = new Uint32Array(1 << (layout.exponentBits + k));
  dense[code] = n;
  const h = sparse(dense);
  const table = modelTable(core(), h, 11, FULL_RESOLUTION)!;
  const { stored, states, carried } = expectedLayout(fieldsOf(data, layout, k), rawBits(layout, k), lanes);
  const c = core();
  c.reset();
  const w = new ByteWriter();
  w.u8(MODE_RANS);
  w.u8(k | (MODEL_LOG << 7));
  w.u8((lanes / 4 - 1) | (FULL_RESOLUTION << 3));
  w.u32(c.fn.checksum(c.put(data), data.length) >>> 0);
  const bits = new BitWriter();
  writeModels(bits, [table], FULL_RESOLUTION);
  const laneStates = Uint32Array.from(written(states));
  writeLaneStates(bits, laneStates);
  w.bytes(bits.finish());
  w.bytes(stored);
  // Each state takes 4 bits of length and the bits below its leading one.
  const streamBits = table.modelBits + laneStates.reduce((sum, x) => sum + 4 + 31 - Math.clz32(x), 0);
  return { chunk: w.finish(), states, carried, streamBits };
}

function oneTensorStream(layout: PairLayout, data: Uint8Array, chunk: Uint8Array): Uint8Array {
  const n = data.length / layout.width;
  const choice: ChunkChoice = { elements: n, mode: MODE_RANS, k: 0, precision: 11, lanes: 4, context: 0, groups: 1, bytes: chunk.length, exponentBoundBits: 0, pairEntropyBits: 0 };
  return assemble("tensor", [encodedSegment(layout, [n], data.length, [{ bytes: chunk, choice }])]);
}

const LAYOUTS: CodedDtype[] = ["bf16", "fp16", "fp32", "u8"];

describe("lane states carry the raw plane's last bits (version 3)", () => {
  it("the encoder's chunks: every layout and k, tiny to 32-lane, odd lengths; plane and carried bits exactly as the format says", () => {
    const tinyRans: string[] = [];
    for (const dtype of LAYOUTS) {
      const layout = layoutOf(dtype);
      for (let k = 0; k <= layout.maxK; k++) {
        for (const n of [1, 3, 13, 24, 40, 63, 64, 257, 16_384 + 17]) {
          // Small chunks code as rANS only where codes hardly vary.
          const data = n < 1000 ? oneCode(layout, k, n, 31 * n + k) : weights(dtype, n, n + k);
          const stream = encode(data, { dtype, k });
          expect(Buffer.from(decompress(stream)).equals(Buffer.from(data))).toBe(true);
          expect(stream[4]).toBe(VERSION);
          const index = parseContainer(stream);
          const entry = index.segments[0]!.chunks[0]!;
          const h = readChunkHeader(stream.subarray(entry.offset, entry.offset + entry.length), layout, n, index.version);
          if (h.mode !== MODE_RANS) continue;
          const w = rawBits(layout, k);
          const want = expectedLayout(fieldsOf(data, layout, k), w, h.lanes);
          expect(h.carriedBits).toBe(want.carried);
          expect(stream.subarray(entry.offset + h.rawOffset, entry.offset + h.rawOffset + h.rawLength)).toEqual(want.stored);
          if (w > 0 && n * w <= 16 * h.lanes) tinyRans.push(`${dtype} k=${k} n=${n}`);
        }
      }
    }
    // rANS chunks whose every raw bit rides in the lanes (n·w ≤ 16·N), the stored plane empty: n = 64 at w = 1 is exactly 16·4.
    // From version 4, with lane states packed, 13 elements of one code also pay to code.
    expect(tinyRans).toEqual([
      "bf16 k=4 n=13", "bf16 k=5 n=13", "bf16 k=6 n=13", "bf16 k=6 n=24", "bf16 k=7 n=13", "bf16 k=7 n=24", "bf16 k=7 n=40", "bf16 k=7 n=63", "bf16 k=7 n=64",
      "fp16 k=7 n=13", "fp16 k=8 n=13", "fp16 k=9 n=13", "fp16 k=9 n=24", "fp16 k=10 n=13", "fp16 k=10 n=24", "fp16 k=10 n=40", "fp16 k=10 n=63", "fp16 k=10 n=64",
    ]);
  });

  it("one-code chunks the encoder makes start each lane at 2^16 plus its carried bits, exactly", () => {
    const bf16 = layoutOf("bf16");
    for (const k of [3, 7]) {
      const data = oneCode(bf16, k, 1000, k);
      const stream = encode(data, { dtype: "bf16", k });
      const index = parseContainer(stream);
      const entry = index.segments[0]!.chunks[0]!;
      const chunk = stream.subarray(entry.offset, entry.offset + entry.length);
      const h = readChunkHeader(chunk, bf16, 1000, index.version);
      expect([h.mode, h.payloadLength]).toEqual([MODE_RANS, 0]);
      expect(Array.from(h.states)).toEqual(expectedLayout(fieldsOf(data, bf16, k), rawBits(bf16, k), h.lanes).states);
    }
  });

  it("hand-built chunks: one element, n < N, lanes without elements that carry bits; Wasm decoder and hardware model agree", async () => {
    const segments = [];
    const expected: Uint8Array[] = [];
    for (const dtype of LAYOUTS) {
      const layout = layoutOf(dtype);
      for (const k of [...new Set([0, Math.min(1, layout.maxK), layout.maxK])]) {
        for (const n of [1, 2, 5, 33, 100]) {
          for (const lanes of [4, 32]) {
            const data = oneCode(layout, k, n, 1000 * n + 10 * k + lanes);
            const { chunk, carried } = handBuilt(layout, k, data, lanes);
            expect(carried).toBe(Math.min(16 * lanes, n * rawBits(layout, k)));
            expect(Buffer.from(decompress(oneTensorStream(layout, data, chunk))).equals(Buffer.from(data))).toBe(true);
            const choice: ChunkChoice = { elements: n, mode: MODE_RANS, k, precision: 11, lanes, context: 0, groups: 1, bytes: chunk.length, exponentBoundBits: 0, pairEntropyBits: 0 };
            segments.push(encodedSegment(layout, [n], data.length, [{ bytes: chunk, choice }]));
            expected.push(data);
          }
        }
      }
    }
    const stream = assemble("raw", segments);
    expect(Buffer.from(decompress(stream)).equals(Buffer.concat(expected))).toBe(true);
    const report = await verifyStream(stream);
    expect(report.failures).toEqual([]);
    expect(report.mismatches).toEqual([]);
    expect(report.bit_exact).toBe(true);
    expect(report.chunks.verified).toBe(segments.length);
  });

  it("a final state outside its lane's range is CORRUPT_STREAM, naming lane and range; one inside it but wrong is a checksum mismatch", async () => {
    // fp32 at k = 0, one element in 4 lanes: w = 24, lane 0 carries 16 bits, lane 1 8, lanes 2 and 3 none.
    const fp32 = layoutOf("fp32");
    const data = oneCode(fp32, 0, 1, 5);
    const { states } = handBuilt(fp32, 0, data, 4);
    const withState = (lane: number, x: number) => {
      const { chunk } = handBuilt(fp32, 0, data, 4, (right) => right.map((y, j) => (j === lane ? x : y)));
      return oneTensorStream(fp32, data, chunk);
    };
    const message = (stream: Uint8Array) => {
      try {
        decompress(stream);
      } catch (err) {
        return `${(err as { code: string }).code}: ${(err as Error).message}`;
      }
      return "NO_ERROR";
    };
    expect(message(withState(0, 0x20000))).toBe("CORRUPT_STREAM: rANS lane 0 ends in state 131072, outside [2^16, 2^16 + 2^16) for the 16 raw bits it carries");
    expect(message(withState(1, 0x10100))).toBe("CORRUPT_STREAM: rANS lane 1 ends in state 65792, outside [2^16, 2^16 + 2^8) for the 8 raw bits it carries");
    expect(message(withState(2, 0x10001))).toBe("CORRUPT_STREAM: rANS lane 2 ends in state 65537, not 2^16");
    expect(errorCode(() => decompress(withState(1, states[1]! ^ 1)))).toBe("CHECKSUM_MISMATCH");
    expect(errorCode(() => decompress(withState(1, states[1]!)))).toBe("NO_ERROR");
    const r = await verifyStream(withState(1, 0x10100));
    expect(r.bit_exact).toBe(false);
    expect(r.failures[0]!.model.join("; ")).toMatch(/lane 1 codes no element but starts in state 0x10100, outside \[2\^16, 2\^16 \+ 2\^8\)/);
    expect(r.failures[0]!.wasm).toMatch(/^CORRUPT_STREAM: rANS lane 1 ends in state 65792/);
  });

  it("channel-context chunks carry 512 bits in their 32 lanes too", () => {
    // Rows of 64 channels whose scales differ by 16 binades in four classes: a lane context.
    const n = 64 * 400;
    const f = new Float32Array(new Uint8Array(weights("fp32", n, 3)).buffer).map((v, e) => v * 2 ** (-4 * ((e % 64) % 4)));
    const data = new Uint8Array(Uint16Array.from(new Uint32Array(f.buffer), (b) => b >>> 16).buffer);
    const stream = encode(data, { dtype: "bf16", shape: [400, 64] });
    expect(Buffer.from(decompress(stream)).equals(Buffer.from(data))).toBe(true);
    const index = parseContainer(stream);
    const entry = index.segments[0]!.chunks[0]!;
    const bf16 = layoutOf("bf16");
    const h = readChunkHeader(stream.subarray(entry.offset, entry.offset + entry.length), bf16, n, index.version);
    expect([h.mode, h.lanes, h.carriedBits]).toEqual([MODE_CONTEXT, 32, 512]);
    const want = expectedLayout(fieldsOf(data, bf16, h.k), rawBits(bf16, h.k), 32);
    expect(stream.subarray(entry.offset + h.rawOffset, entry.offset + h.rawOffset + h.rawLength)).toEqual(want.stored);
  });
});

describe("version 4 packs the models and lane states into one bitstream", () => {
  const fp32 = layoutOf("fp32");
  const data = oneCode(fp32, 0, 1, 5);
  const message = (chunk: Uint8Array) => {
    try {
      decompress(oneTensorStream(fp32, data, chunk));
    } catch (err) {
      return `${(err as { code: string }).code}: ${(err as Error).message}`;
    }
    return "NO_ERROR";
  };

  it("each state in a 4-bit length and the bits below its leading one, the stream zero-padded to a byte", () => {
    // One fp32 element in 4 lanes at k = 1 (where the stream does not end on a byte): lanes 0 and 1 carry its 23 raw bits (16 and 7), lanes 2 and 3 end at exactly 2^16.
    const { chunk, states, streamBits } = handBuilt(fp32, 1, data, 4);
    expect(states.map((x) => 31 - Math.clz32(x))).toEqual([16, 16, 16, 16]);
    const h = readChunkHeader(chunk, fp32, 1, VERSION);
    expect(Array.from(h.states)).toEqual(states);
    // Header of 7 bytes, the bitstream, no payload, no raw plane left.
    expect([h.payloadOffset, h.payloadLength, h.rawLength]).toEqual([7 + Math.ceil(streamBits / 8), 0, 0]);
    expect(message(chunk)).toBe("NO_ERROR");
    expect(streamBits % 8).not.toBe(0);
    const padded = chunk.slice();
    padded[7 + Math.floor(streamBits / 8)]! |= 1 << (streamBits % 8);
    expect(message(padded)).toBe("CORRUPT_STREAM: chunk models and lane states: padding bits are not zero");
  });

  it("refuses a resolution above 15, a cleared model coding bit and a chunk too short for its raw plane", () => {
    const { chunk } = handBuilt(fp32, 0, data, 4);
    const withByte = (at: number, value: number) => {
      const bad = chunk.slice();
      bad[at] = value;
      return bad;
    };
    expect(message(withByte(2, 16 << 3))).toBe("CORRUPT_STREAM: chunk model resolution 16 exceeds 15");
    expect(message(withByte(1, 0))).toBe("CORRUPT_STREAM: chunk model coding bit is not set");
    expect(message(chunk.subarray(0, chunk.length - 1))).toBe("CORRUPT_STREAM: chunk models and lane states: bit stream ends early");
    // Five elements store 120 - 64 bits: 7 bytes of raw plane after an empty payload.
    const five = oneCode(fp32, 0, 5, 6);
    const long = handBuilt(fp32, 0, five, 4).chunk;
    expect(errorCode(() => decompress(oneTensorStream(fp32, five, long)))).toBe("NO_ERROR");
    expect(errorCode(() => decompress(oneTensorStream(fp32, five, long.subarray(0, long.length - 1))))).toBe("TRUNCATED");
  });
});

describe("older streams", () => {
  const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

  // The same file as version 2 (before lane states carried raw bits), as version 3 (before model resolutions and packed lane states) and as version 4 (before shaped models).
  for (const [fixture, version, chunks, tailCycles] of [
    [V2_FIXTURE, 2, { rans: 7, context: 1, stored: 1, deflate: 1 }, 0],
    [V3_FIXTURE, 3, { rans: 7, context: 2, stored: 1, deflate: 1 }, 142],
    [V4_FIXTURE, 4, { rans: 7, context: 2, stored: 1, deflate: 1 }, 142],
  ] as const) {
    it(`version ${version}: decode exactly through every path: in memory, on threads, streamed, lazily, and in the hardware model`, async () => {
      const stream = readFileSync(fixture);
      expect(stream[4]).toBe(version);
      const restored = decompress(stream);
      expect(sha256(restored)).toBe(MIXED_ORIGINAL_SHA256);
      expect(sha256(await decompressAsync(stream, { threads: 2 }))).toBe(MIXED_ORIGINAL_SHA256);
      const sink = new MemorySink();
      await decompressStream(memoryReader(stream), sink, { threads: 2 });
      expect(sha256(sink.bytes())).toBe(MIXED_ORIGINAL_SHA256);
      const file = open(fixture);
      try {
        for (const t of parseSafetensors(restored).tensors) expect(Buffer.from(file.tensor(t.name)).equals(Buffer.from(restored.subarray(t.begin, t.end)))).toBe(true);
      } finally {
        file.close();
      }
      const report = await verifyStream(stream);
      expect(report.bit_exact).toBe(true);
      expect(report.tail_cycles).toBe(tailCycles);
      expect(report.chunks).toMatchObject(chunks);
    });
  }

  /** Each chunk of a stream, its length and parsed header. */
  const chunksOf = (s: Uint8Array) => {
    const index = parseContainer(s);
    return index.segments.flatMap((seg) => seg.chunks.map((c) => ({ length: c.length, h: readChunkHeader(s.subarray(c.offset, c.offset + c.length), seg.layout, c.elements, index.version) })));
  };

  it("version 3 against version 4: every coded chunk smaller, the same bits carried", () => {
    const [before, after] = [V3_FIXTURE, V4_FIXTURE].map((f) => chunksOf(readFileSync(f)));
    // Deflate and stored alike; the rANS chunks lose their two lengths, and most of a byte per lane state and model.
    expect(before!.map((c, i) => c.length - after![i]!.length)).toEqual([0, 10, 38, 13, 5, 28, 16, 0, 12]);
    expect(after!.map((c) => c.h.carriedBits)).toEqual(before!.map((c) => c.h.carriedBits));
    expect(readFileSync(V3_FIXTURE).length - readFileSync(V4_FIXTURE).length).toBe(122);
  });

  it("recompress version 4 as version 5: no chunk larger, four smaller by shaped models, the same bits carried", () => {
    const old = readFileSync(V4_FIXTURE);
    const stream = compress(decompress(old));
    expect(stream[4]).toBe(VERSION);
    expect(sha256(decompress(stream))).toBe(MIXED_ORIGINAL_SHA256);
    const [before, after] = [old, stream].map(chunksOf);
    // Each model's kind bit fits in the padding of the bitstream's last byte where no shape pays.
    expect(before!.map((c, i) => c.length - after![i]!.length)).toEqual([0, 0, 20, 5, 0, 3, 8, 0, 0]);
    expect(after!.map((c) => c.h.carriedBits)).toEqual(before!.map((c) => c.h.carriedBits));
    expect(old.length - stream.length).toBe(36);
  });
});
