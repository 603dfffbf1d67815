import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { chunkBound, decodeChunk, encodeChunk, readChunkHeader } from "../src/chunk.js";
import { VERSION } from "../src/container.js";
import { layoutOf } from "../src/dtypes.js";
import { BitWriter } from "../src/bytes.js";
import { AnsfError } from "../src/errors.js";
import { readHeaderBits } from "../src/header-bits.js";
import { writeLaneStates } from "../src/lane-states.js";
import { FULL_RESOLUTION, keptBits, modelTable, shapedTable, sparse, writeModels, type Histogram, type ModelTable } from "../src/model.js";
import { referenceScaleBase, referenceShape } from "./shape-reference.js";
import { compress, inspect } from "../src/index.js";
import { parseSafetensors } from "../src/safetensors.js";
import { Core, core } from "../src/wasm.js";
import { errorCode } from "./error-code.js";

function roundTrip(data: Uint8Array, dtype: string, k?: number, precisions?: number[]) {
  const layout = layoutOf(dtype);
  const { bytes, choice } = encodeChunk(core(), data, layout, { ...(k === undefined ? {} : { k }), ...(precisions ? { precisions } : {}) });
  const out = new Uint8Array(data.length);
  decodeChunk(core(), bytes, layout, data.length / layout.width, out, VERSION);
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

describe("chunk read straight into Wasm memory", () => {
  it("decodes exactly on a fresh core whose memory grows while the tables are read", () => {
    // A chunk larger than a fresh core's free memory (so placing it grows
    // the memory to just past it), then at k = 7 one table of 2^15 codes,
    // 128 KiB. A grid of 64 values codes well at k = 7.
    const n = 1 << 20;
    const words = new Uint16Array(n);
    for (let i = 0; i < n; i++) words[i] = 0x3c00 + ((((i * 2654435761) >>> 26) * 37) & 0x3ff);
    const data = new Uint8Array(words.buffer);
    const layout = layoutOf("bf16");
    const { bytes, choice } = encodeChunk(core(), data, layout, { k: 7 });
    expect(choice.mode).toBe(1);
    const fresh = new Core();
    const out = new Uint8Array(data.length);
    decodeChunk(fresh, { length: bytes.length, read: (into) => into.set(bytes) }, layout, n, out, VERSION);
    expect(Buffer.from(out).equals(Buffer.from(data))).toBe(true);
  });

  it("reads the same header from a view of the thread core's own memory as from a copy, the memory growing meanwhile", () => {
    const n = 1 << 20;
    const words = Uint16Array.from({ length: n }, (_, i) => 0x3c00 + ((((i * 2654435761) >>> 26) * 37) & 0x3ff));
    const layout = layoutOf("bf16");
    const { bytes } = encodeChunk(core(), new Uint8Array(words.buffer), layout, { k: 7 });
    const expected = readChunkHeader(bytes, layout, n, VERSION);
    const c = core();
    c.reset();
    const view = c.view(c.put(bytes), bytes.length);
    // The rest of the memory taken, so that the header's tables grow it and detach `view`.
    c.alloc(c.fn.memory.buffer.byteLength - c.mark() - 1024);
    const h = readChunkHeader(view, layout, n, VERSION);
    expect(view.length).toBe(0);
    expect({ ...h, tables: h.tables.map((t) => Array.from(t)), states: Array.from(h.states) }).toEqual({
      ...expected, tables: expected.tables.map((t) => Array.from(t)), states: Array.from(expected.states),
    });
  });
});

describe("chunk room", () => {
  const layout = layoutOf("bf16");
  const file = readFileSync("fixtures/stories260K.bf16.safetensors");
  // A coded tensor, incompressible noise (stored) and a constant run.
  const noise = Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24);
  const inputs = [new Uint8Array(file.buffer, file.byteOffset + 8 + 5120, 65536 * 2), noise, new Uint8Array(4096).fill(0x3f)];

  it("writes into a caller's buffer the same bytes it would return, within chunkBound, and nothing past them", () => {
    for (const data of inputs) {
      const fresh = encodeChunk(core(), data, layout).bytes;
      expect(fresh.length).toBeLessThanOrEqual(chunkBound(data.length));
      const into = new Uint8Array(chunkBound(data.length) + 16).fill(0xa5);
      const { bytes } = encodeChunk(core(), data, layout, {}, undefined, into);
      expect(bytes.buffer).toBe(into.buffer);
      expect(bytes.byteOffset).toBe(0);
      expect(Buffer.from(bytes).equals(Buffer.from(fresh))).toBe(true);
      expect(into.subarray(bytes.length).every((b) => b === 0xa5)).toBe(true);
    }
  });

  it("refuses a buffer smaller than chunkBound", () => {
    const data = inputs[1]!;
    expect(errorCode(() => encodeChunk(core(), data, layout, {}, undefined, new Uint8Array(chunkBound(data.length) - 1)))).toBe("BAD_ARGUMENT");
  });
});

describe("table precision", () => {
  it("stays within 2^12 slots on the fixture, where no table wider would save 1% of a chunk", () => {
    const info = inspect(compress(readFileSync("fixtures/stories260K.bf16.safetensors")));
    // Written tables stay at 2^11 (from version 4 the models a finer one needs cost more than it saves); shaped ones, whose models cost the same at any precision, take 2^12.
    expect(Math.max(...info.segments.flatMap((s) => s.precisions))).toBe(12);
  });

  const cnn = "../shared/data/cnn/human.bf16.safetensors";
  it.skipIf(!existsSync(cnn))(`goes to P = 13 for a dequantised grid whose rare codes cost more than 1% (${cnn}; absent: skipped)`, () => {
    // 71808 weights on a grid: k = 7 codes every mantissa bit, and each rare
    // value's one slot in 2^12 makes P = 12 lose 12.7 kbit to normalisation.
    const file = readFileSync(cnn);
    const t = parseSafetensors(file).tensors.find((t) => t.name === "centernet/MobilenetV3/expanded_conv_12/squeeze_excite/Conv/weights")!;
    const data = file.subarray(t.begin, t.end);
    const wide = roundTrip(data, "bf16");
    expect([wide.choice.precision, wide.choice.k, wide.bytes.length]).toEqual([13, 7, 17568]);
    const narrow = roundTrip(data, "bf16", undefined, [11, 12]);
    expect([narrow.choice.precision, narrow.choice.k, narrow.bytes.length]).toEqual([12, 7, 18688]);
  });
});

describe("frequency models", () => {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const randomCounts = (present: number) => {
    const dense = new Uint32Array(4096);
    for (let i = 0; i < present; i++) dense[Math.floor(next() * 4096)] = 1 + Math.floor(next() ** 4 * 100000);
    return sparse(dense);
  };

  /** The index of the first largest value. */
  const firstLargest = (values: ArrayLike<number>) => Array.prototype.indexOf.call(values, Math.max(...Array.from(values)));

  it("read back exactly what was written, at every precision and resolution, written or shaped, down to a single code, in the bits their cost says", () => {
    for (let precision = 9; precision <= 15; precision++) {
      for (const present of [1, 2, 5, 30, 200]) {
        const h = randomCounts(present);
        const written = [FULL_RESOLUTION, 1, 2, 3, 6].map((resolution) => ({ resolution, table: modelTable(core(), h, precision, resolution) }));
        // The codes as exponents with k = 4 mantissa bits below them; a shaped model is the same at any resolution.
        const shaped = { resolution: 3, table: shapedTable(core(), h, 4, precision, undefined, Infinity) };
        expect(shaped.table === null).toBe(h.symbols.length > 1 << precision);
        for (const { resolution, table } of [...written, shaped]) {
          if (!table) continue;
          expect(table.shape === undefined).toBe(table !== shaped.table);
          // The payload as the search weighs it, summed in code order.
          let payload = 0;
          h.counts.forEach((c, i) => (payload += c * (precision - Math.log2(table.freqs[i]!))));
          expect(table.payloadBits).toBe(payload);
          // Two models back to back, as a context chunk writes them, then a marker bit where their cost says they end.
          const marked = new BitWriter();
          writeModels(marked, [table, table], resolution);
          marked.bits(1, 1);
          const end = marked.finish();
          expect((end.length - 1) * 8 + 31 - Math.clz32(end[end.length - 1]!)).toBe(2 * table.modelBits);
          // The same models and three lane states, as a chunk's bitstream, read back by the Wasm core.
          const w = new BitWriter();
          writeModels(w, [table, table], resolution);
          const states = Uint32Array.of(1 << 16, 0x12345, 0xffffffff);
          writeLaneStates(w, states);
          const bytes = w.finish();
          const c = core();
          c.reset();
          const at = c.put(bytes);
          const tables = c.alloc(2 * 4096 * 4);
          const statesAt = c.alloc(4 * states.length);
          const into = { groups: 2, alphabet: 4096, precision, resolution, tables, lanes: states.length, states: statesAt, k: 4, kinds: true, elements: h.total };
          expect(readHeaderBits(c, at, bytes.length, into)).toBe(bytes.length);
          const expected = new Uint32Array(4096);
          h.symbols.forEach((s, i) => (expected[s] = table.freqs[i]!));
          for (let g = 0; g < 2; g++) expect(Array.from(new Uint32Array(c.fn.memory.buffer, tables + 4 * 4096 * g, 4096))).toEqual(Array.from(expected));
          expect(Array.from(new Uint32Array(c.fn.memory.buffer, statesAt, states.length))).toEqual(Array.from(states));
        }
      }
    }
  });

  it("refuse malformed models and lane states with the field that is wrong", () => {
    // One table over 4 codes at P = 11 (or `precision`), full resolution, then one lane state.
    const read = (write: (w: BitWriter) => void, precision = 11, elements = 100) => {
      const w = new BitWriter();
      write(w);
      const bytes = w.finish();
      const c = core();
      c.reset();
      const into = { groups: 1, alphabet: 4, precision, resolution: 0, tables: c.alloc(16), lanes: 1, states: c.alloc(4), k: 0, kinds: true, elements };
      try {
        return `${readHeaderBits(c, c.put(bytes), bytes.length, into)} bytes, table ${Array.from(new Uint32Array(c.fn.memory.buffer, into.tables, 4))}`;
      } catch (e) {
        return e instanceof AnsfError ? `${e.code}: ${e.message}` : `not an AnsfError: ${e}`;
      }
    };
    // The kind bit (0 written, 1 shaped), then gamma(runs), gamma(zigzag(top - 2) + 1): top 3 is zigzag 2.
    const oneRun = (w: BitWriter, top: number, length: number, kind = 0) => {
      w.bits(kind, 1);
      w.gamma(1);
      w.gamma(2 * (top - 2) + 1);
      w.gamma(length);
    };
    const state = (w: BitWriter) => {
      w.bits(0, 4);
      w.bits(0x1234, 16);
    };
    // Codes 1 and 2: the residual is code 1 (index 0), code 2 has 2^10 (length 10, zigzag 20).
    const valid = (w: BitWriter) => {
      oneRun(w, 3, 2);
      w.bits(0, 1);
      w.gamma(21);
      w.bits(0, 10);
      state(w);
    };
    expect(read(valid)).toBe("6 bytes, table 0,1024,1024,0");
    expect(read(() => {})).toBe("CORRUPT_STREAM: chunk models and lane states: bit stream ends early");
    expect(read((w) => w.bits(0, 24))).toBe("CORRUPT_STREAM: chunk models and lane states: gamma code too long");
    expect(read((w) => (w.bits(0, 1), w.gamma(5)))).toBe("CORRUPT_STREAM: frequency model: 5 runs in an alphabet of 4");
    expect(read((w) => oneRun(w, 5, 1))).toBe("CORRUPT_STREAM: frequency model: top code 4 outside the alphabet of 4");
    expect(read((w) => oneRun(w, 3, 4))).toBe("CORRUPT_STREAM: frequency model: run [-1, 3) outside the alphabet of 4");
    expect(read((w) => (oneRun(w, 3, 3), w.bits(3, 2)))).toBe("CORRUPT_STREAM: frequency model: residual 3 of 3 codes");
    expect(read((w) => (oneRun(w, 3, 2), w.bits(0, 1), w.gamma(25)))).toBe("CORRUPT_STREAM: frequency model: a frequency of 13 bits at precision 11");
    expect(read((w) => (oneRun(w, 3, 2), w.bits(0, 1), w.gamma(23), w.bits(0, 11)))).toBe("CORRUPT_STREAM: frequency model: frequencies exceed 2^11");
    // Shaped: codes 0 to 2, β = 1 (field 15), the scale 3/16 above the base (zigzag 6), 16 log2 of code 2's midpoint (3: exponent field e spans [2^(e-1), 2^e)) less 32.
    const shaped = (w: BitWriter) => {
      oneRun(w, 3, 3, 1);
      w.bits(15, 6);
      w.gamma(7);
      state(w);
    };
    const table = referenceShape([0, 1, 2], 0, 11, 15, referenceScaleBase(2, 0) + 3)!;
    expect(referenceScaleBase(2, 0)).toBe(Math.floor(16 * Math.log2(3)) - 32);
    expect(read(shaped)).toBe(`5 bytes, table ${table},0`);
    expect(read((w) => (shaped(w), w.bits(1, 1)))).toBe("CORRUPT_STREAM: chunk models and lane states: padding bits are not zero");
    expect(read((w) => (oneRun(w, 3, 3, 1), w.bits(15, 6)))).toBe("CORRUPT_STREAM: chunk models and lane states: bit stream ends early");
    // Three codes cannot share 2 slots.
    expect(read(shaped, 1)).toBe("CORRUPT_STREAM: frequency model: shape leaves its largest code less than 1 of 2^1");
    // A shaped model of more codes than its chunk has elements (never written: each code a table has occurs).
    expect(read(shaped, 11, 3)).toBe(`5 bytes, table ${table},0`);
    expect(read(shaped, 11, 2)).toBe("CORRUPT_STREAM: frequency model: shaped over 3 codes in a chunk of 2 elements");
  });

  it("shaped: compute the frequencies docs/FORMAT.md gives (an independent transcription) for random codes, k, precisions and shapes", () => {
    let checked = 0;
    let refused = 0;
    for (let trial = 0; trial < 300; trial++) {
      const k = Math.floor(next() * 5);
      const alphabet = 1 << (8 + k);
      const h = randomCounts(1 + Math.floor(next() ** 3 * 700));
      const codes = Array.from(h.symbols).map((s) => s % alphabet).filter((s, i, all) => all.indexOf(s) === i).sort((a, b) => a - b);
      const precision = 9 + Math.floor(next() * 7);
      const beta = Math.floor(next() * 64);
      const offset = Math.floor(next() * 200) - 100;
      const scale = referenceScaleBase(codes[codes.length - 1]!, k) + offset;
      const w = new BitWriter();
      const table: ModelTable = {
        counts: { alphabet, symbols: Uint32Array.from(codes), counts: new Uint32Array(codes.length).fill(1), total: codes.length },
        freqs: new Uint32Array(codes.length), residual: -1, shape: { beta, scale, scaleOffset: offset }, payloadBits: 0, modelBits: 0,
      };
      writeModels(w, [table], FULL_RESOLUTION);
      const bytes = w.finish();
      const c = core();
      c.reset();
      const into = { groups: 1, alphabet, precision, resolution: FULL_RESOLUTION, tables: c.alloc(4 * alphabet), lanes: 0, states: c.alloc(4), k, kinds: true, elements: codes.length };
      const expected = referenceShape(codes, k, precision, beta, scale);
      let got: number[] | null;
      try {
        readHeaderBits(c, c.put(bytes), bytes.length, into);
        const dense = new Uint32Array(c.fn.memory.buffer, into.tables, alphabet);
        got = codes.map((s) => dense[s]!);
      } catch (e) {
        expect((e as AnsfError).message).toBe(`frequency model: shape leaves its largest code less than 1 of 2^${precision}`);
        got = null;
      }
      expect(got).toEqual(expected);
      if (got) checked++;
      else refused++;
    }
    // Most shapes make a table; some (many codes, few slots) cannot.
    expect(checked).toBeGreaterThan(200);
    expect(refused).toBeGreaterThan(0);
  });

  it("at full resolution, imply the first largest frequency and total exactly 2^P", () => {
    for (let precision = 9; precision <= 15; precision++) {
      for (const present of [1, 2, 5, 30, 200, 600]) {
        const h: Histogram = randomCounts(present);
        const table = modelTable(core(), h, precision, FULL_RESOLUTION);
        expect(table === null).toBe(h.symbols.length > 1 << precision);
        if (!table) continue;
        expect(table.residual).toBe(firstLargest(table.freqs));
        expect(table.freqs.reduce((a, b) => a + b, 0)).toBe(1 << precision);
        expect(Math.min(...table.freqs)).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it("at a resolution of R bits, give every code but the most frequent at most R significant bits, the total exactly 2^P", () => {
    for (let precision = 9; precision <= 15; precision++) {
      for (const present of [1, 2, 5, 30, 200, 600]) {
        const h = randomCounts(present);
        for (let resolution = 1; resolution <= 6; resolution++) {
          const resolved = modelTable(core(), h, precision, resolution);
          expect(resolved === null).toBe(h.symbols.length > 1 << precision);
          if (!resolved) continue;
          const { freqs, residual } = resolved;
          expect(residual).toBe(firstLargest(h.counts));
          expect(freqs.reduce((a, b) => a + b, 0)).toBe(1 << precision);
          freqs.forEach((f, i) => {
            expect(f).toBeGreaterThanOrEqual(1);
            const length = 31 - Math.clz32(f);
            if (i !== residual) expect(f % 2 ** (length - keptBits(length, resolution))).toBe(0);
          });
        }
      }
    }
    // Counts of 1000, 300, 90, 7 and 1 in 2^11 slots (shares 1465, 440, 132, 10.3, 1.5): the others rounded
    // to powers of two at R = 1, to 2 significant bits at R = 2, the first code taking what they leave.
    const h = sparse([1000, 300, 90, 7, 1]);
    expect(Array.from(modelTable(core(), h, 11, 1)!.freqs)).toEqual([1399, 512, 128, 8, 1]);
    expect(Array.from(modelTable(core(), h, 11, 2)!.freqs)).toEqual([1522, 384, 128, 12, 2]);
  });

  it("refuse a raw plane whose unused last bits are not zero", () => {
    const file = readFileSync("fixtures/stories260K.bf16.safetensors");
    const data = new Uint8Array(file.buffer, file.byteOffset + 8 + 5120, 1001 * 2);
    const { bytes } = roundTrip(data, "bf16", 1);
    const bad = bytes.slice();
    bad[bad.length - 1]! ^= 0x80;
    expect(() => decodeChunk(core(), bad, layoutOf("bf16"), 1001, new Uint8Array(2002), VERSION)).toThrow(/padding bits/);
  });
});
