// The cycle model of the hardware decoder (src/hw/): bit-exact agreement
// with the Wasm decoder, exact clock counts where they follow from the
// pipeline, stalls where the model must stall, and the CLI.

import { afterAll, describe, expect, it, vi } from "vitest";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ByteWriter } from "../src/bytes.js";
import { MODE_CONTEXT, readChunkHeader } from "../src/chunk.js";
import { CONTEXT_LANE, CONTEXT_ROW, groupOf, mapEntries, writeContext, type ChannelContext } from "../src/context.js";
import { compress, compressAsync, encode, type CodedDtype } from "../src/index.js";
import { parseSafetensors } from "../src/safetensors.js";
import { core } from "../src/wasm.js";
import { hwMain } from "../src/hw/cli.js";
import { stagePlan, tableBits, type SystemConfig } from "../src/hw/config.js";
import { contextConfig, ContextUnit, GroupMapRam, MapLoader } from "../src/hw/context-unit.js";
import type { ChunkResult } from "../src/hw/core.js";
import { ansfH32 } from "../src/hw/h32.js";
import { chunkJob, chunkRefs, isRans, type ChunkJob } from "../src/hw/job.js";
import { buildTable } from "../src/hw/table.js";
import { tokenFactory } from "../src/hw/token-factory.js";
import { verifyStream, type HwReport } from "../src/hw/verify.js";
import { stopReference } from "../src/hw/wasm-side.js";

afterAll(() => stopReference());

// ---- data ------------------------------------------------------------------

/** Deterministic Gaussian-ish weights (σ = 0.02), as fp32. */
function weights(n: number, seed = 7): Float32Array {
  let s = seed >>> 0;
  const uniform = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 0.02 * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

/** The same weights as raw elements of `dtype` (bf16 and fp16 by truncation). */
function tensor(dtype: CodedDtype, n: number, seed = 7): Uint8Array {
  const f = weights(n, seed);
  const bits = new Uint32Array(f.buffer);
  if (dtype === "fp32") return new Uint8Array(f.buffer);
  if (dtype === "u8") return Uint8Array.from(bits, (b) => (b >>> 23) & 0xff);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const b = bits[i]!;
    if (dtype === "bf16") {
      out[i] = b >>> 16;
      continue;
    }
    const sign = (b >>> 16) & 0x8000;
    const e = ((b >>> 23) & 0xff) - 127 + 15;
    const m = b & 0x7fffff;
    if (e >= 31) out[i] = sign | 0x7c00;
    else if (e > 0) out[i] = sign | (e << 10) | (m >>> 13);
    else out[i] = e > -10 ? sign | ((m | 0x800000) >>> (14 - e)) : sign;
  }
  return new Uint8Array(out.buffer);
}

function jobsOf(stream: Uint8Array): ChunkJob[] {
  return chunkRefs(stream).filter(isRans).map((r) => chunkJob(stream, r));
}

/** Clocks from a chunk's first issue to its last renormalisation, without stalls. */
function runClocks(n: number, lanes: number, depth: number): number {
  return Math.floor((n - 1) / lanes) * Math.max(lanes, depth) + ((n - 1) % lanes) + depth;
}

/**
 * Clocks after the run that emit the words of the elements whose raw fields
 * reach into the bits the lane states carry (version 3), one per clock.
 */
function tailClocks(job: ChunkJob): number {
  return job.carriedBits === 0 ? 0 : job.n - Math.floor((job.n * job.rawBits - job.carriedBits) / job.rawBits);
}

/**
 * The final lane states docs/FORMAT.md §Lane states asks for: 2^16 plus the
 * lane's 16 bits of the element fields from bit n·w − H on, read here from
 * the model's own output (sign at the top of an element, then c low bits).
 */
function carriedStates(job: ChunkJob, output: Uint8Array): Uint32Array {
  const { n, rawBits: w, shift: c, carriedBits: H } = job;
  const width = job.layout.width;
  const view = new DataView(output.buffer, output.byteOffset, output.length);
  const fieldBit = (bit: number) => {
    const e = Math.floor(bit / w);
    const v = width === 2 ? view.getUint16(2 * e, true) : view.getUint32(4 * e, true);
    const i = bit - e * w;
    return i === c ? v >>> (8 * width - 1) : (v >>> i) & 1;
  };
  return Uint32Array.from({ length: job.lanes }, (_, j) => {
    let r = 0;
    for (let i = 0; i < Math.min(16, Math.max(0, H - 16 * j)); i++) r |= fieldBit(n * w - H + 16 * j + i) << i;
    return 0x10000 + r;
  });
}

/** A configuration where memory never starves the core. */
const WIDE: Partial<SystemConfig> = { busBytes: 16, tableBuffers: 1 };

async function exact(stream: Uint8Array, config: Partial<SystemConfig> = {}): Promise<HwReport> {
  const report = await verifyStream(stream, { config });
  expect(report.failures).toEqual([]);
  expect(report.mismatches).toEqual([]);
  expect(report.bit_exact).toBe(true);
  return report;
}

// ---- pieces ----------------------------------------------------------------

describe("hw: building blocks", () => {
  it("ANSF-H32 in plain TypeScript equals the Wasm checksum", () => {
    const c = core();
    for (const len of [0, 1, 3, 127, 128, 129, 1000, 4099]) {
      const bytes = tensor("u8", len, len + 1);
      c.reset();
      expect(ansfH32(bytes)).toBe(c.fn.checksum(c.put(bytes), bytes.length) >>> 0);
    }
  });

  it("stage plans put extra depth into BRAM, then DSP, then retiming registers", () => {
    expect(stagePlan(3, "slot")).toEqual(["lookup", "mul", "renorm"]);
    expect(stagePlan(6, "slot")).toEqual(["lookup", "bram-reg", "mul", "dsp-mreg", "dsp-preg", "renorm"]);
    expect(stagePlan(4, "split")).toEqual(["sym", "info", "mul", "renorm"]);
    expect(stagePlan(7, "split")).toEqual(["sym", "bram-reg", "info", "bram-reg", "mul", "dsp-mreg", "renorm"]);
    expect(stagePlan(9, "slot")).toEqual(["lookup", "bram-reg", "mul", "dsp-mreg", "dsp-preg", "retime", "retime", "retime", "renorm"]);
  });

  it("table bits: 2^P × (freq P+1, bias P, code E+k), or split into slot→code and code→{freq, start}; G tables take G times that", () => {
    expect(tableBits("slot", 11, 8)).toBe(2048 * (12 + 11 + 8));
    expect(tableBits("split", 11, 8)).toBe(2048 * 8 + 256 * (12 + 11));
    expect(tableBits("slot", 10, 8, 4)).toBe(4 * 1024 * (11 + 10 + 8));
    expect(tableBits("split", 9, 8, 8)).toBe(8 * (512 * 8 + 256 * (10 + 9)));
  });

  it("the table builder fills slot entries {freq, bias, code} run by run", () => {
    const freqs = new Uint32Array(8);
    freqs[1] = 1000;
    freqs[4] = 1;
    freqs[6] = 1047;
    const t = buildTable([freqs], 11, 3);
    expect([t.sym[0], t.freq[0], t.bias[0]]).toEqual([1, 1000, 0]);
    expect([t.sym[999], t.bias[999]]).toEqual([1, 999]);
    expect([t.sym[1000], t.freq[1000], t.bias[1000]]).toEqual([4, 1, 0]);
    expect([t.sym[2047], t.freq[2047], t.bias[2047]]).toEqual([6, 1047, 1046]);
    expect([t.infoStart[6], t.infoFreq[6]]).toEqual([1001, 1047]);
  });

  it("G tables fill one after another: table g at slots {g, slot} and codes {g, code}", () => {
    const a = new Uint32Array(8);
    a[2] = 300;
    a[5] = 212;
    const b = new Uint32Array(8);
    b[0] = 1;
    b[5] = 511;
    const t = buildTable([a, b], 9, 3);
    expect(t.groups).toBe(2);
    expect([t.sym[299], t.bias[299], t.sym[511], t.freq[511], t.bias[511]]).toEqual([2, 299, 5, 212, 211]);
    expect([t.sym[512], t.freq[512], t.bias[512]]).toEqual([0, 1, 0]);
    expect([t.sym[513], t.freq[513], t.bias[513], t.sym[1023], t.bias[1023]]).toEqual([5, 511, 0, 5, 510]);
    // Split organisation: per {group, code}, the start is within the group's table.
    expect([t.infoStart[5], t.infoFreq[5], t.infoStart[8 + 5], t.infoFreq[8 + 5]]).toEqual([300, 212, 1, 511]);
  });

  it("the context unit's counters give every element the group groupOf() gives, without dividing", () => {
    let seed = 12345;
    const random = (m: number) => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % m;
    const contexts: { ctx: ChannelContext; n: number }[] = [];
    for (const n of [1, 31, 32, 33, 64, 1000, 4113]) {
      for (const stride of [1, 2, 3, 7, 16]) {
        const phase = random(stride);
        const groups = 2 + random(7);
        const map = Uint8Array.from({ length: mapEntries(CONTEXT_ROW, stride, phase, n) }, () => random(groups));
        contexts.push({ ctx: { kind: CONTEXT_ROW, groups, stride, run: 1, phase, map }, n });
      }
      for (const [run, T] of [[1, 2], [1, 128], [3, 5], [100, 256], [2640, 5]] as const) {
        const groups = 2 + random(7);
        const map = Uint8Array.from({ length: T }, () => random(groups));
        contexts.push({ ctx: { kind: CONTEXT_LANE, groups, stride: T, run, phase: random(run * T), map }, n });
      }
    }
    // Rows longer than any chunk: the unit's 22-bit counters saturate, the first row ends after stride − phase rounds.
    contexts.push({ ctx: { kind: CONTEXT_ROW, groups: 2, stride: 2 ** 40, run: 1, phase: 2 ** 40 - 3, map: Uint8Array.of(1, 0) }, n: 320 });
    for (const { ctx, n } of contexts) {
      const cfg = contextConfig(ctx);
      const ram = new GroupMapRam();
      const loader = new MapLoader();
      loader.begin(ram, cfg);
      let mapClocks = 0;
      while (loader.busy) {
        loader.step();
        mapClocks++;
      }
      expect(mapClocks).toBe(ctx.kind === CONTEXT_LANE ? ctx.stride : 0);
      const unit = new ContextUnit();
      unit.start(cfg, ram, 32);
      const groups = Array.from({ length: n }, (_, e) => unit.issue(e % 32));
      expect(groups).toEqual(Array.from({ length: n }, (_, e) => groupOf(ctx, e)));
      expect(unit.taken).toBe(ctx.kind === CONTEXT_ROW ? ctx.map.length : 0);
    }
  });
});

// ---- synthetic tensors --------------------------------------------------------

describe("hw: synthetic tensors, model = Wasm word for word", () => {
  const cases: [CodedDtype, number][] = [
    ["bf16", 0], ["bf16", 2], ["bf16", 4],
    ["fp16", 0], ["fp16", 1], ["fp16", 4],
    ["fp32", 0], ["fp32", 3], ["fp32", 4],
    ["u8", 0],
  ];
  for (const [dtype, k] of cases) {
    it(`${dtype} k=${k}: bit-exact, exact clocks 2^P + ⌊(n−1)/N⌋·max(N,D) + (n−1) mod N + D + tail, no stalls`, async () => {
      const n = 20011;
      const stream = encode(tensor(dtype, n), { dtype, k });
      const [job, ...more] = jobsOf(stream);
      expect(more).toHaveLength(0);
      expect(job!.k).toBe(k);
      const report = await exact(stream, { ...WIDE, depth: 5 });
      expect(report.symbols).toBe(n);
      expect(report.stall_cycles).toBe(0);
      expect(report.setup_cycles).toBe(1 << job!.precision);
      expect(report.run_cycles).toBe(runClocks(n, job!.lanes, 5));
      expect(report.tail_cycles).toBe(tailClocks(job!));
      expect(report.cycles).toBe((1 << job!.precision) + runClocks(n, job!.lanes, 5) + tailClocks(job!));
    });
  }

  it("byte tensors run through the core too (code = whole byte, no raw bits)", async () => {
    const stream = encode(tensor("u8", 70000), { dtype: "u8" });
    const report = await exact(stream);
    expect(report.chunks.verified).toBe(1);
    expect(report.symbols).toBe(70000);
  });
});

describe("hw: pipeline depth and interleaving", () => {
  it("N ≥ D: one symbol per clock; N < D: N symbols every D clocks (a lane waits for its update)", async () => {
    const n = 100003;
    const stream = encode(tensor("bf16", n), { dtype: "bf16" });
    const lanes = jobsOf(stream)[0]!.lanes;
    expect(lanes).toBe(32);
    for (const depth of [3, 8, 32, 33, 40, 64]) {
      const r = await exact(stream, { ...WIDE, depth });
      expect(r.run_cycles).toBe(runClocks(n, lanes, depth));
      expect(r.stall_cycles).toBe(0);
      const rounds = Math.ceil(n / lanes);
      expect(r.bubble_cycles).toBe((rounds - 1) * Math.max(0, depth - lanes));
      if (depth <= lanes) expect(r.run_cycles).toBe(n + depth - 1);
    }
    // Twice the depth with N = 32 lanes: every round of 32 symbols takes 64 clocks.
    const full = await exact(stream, { ...WIDE, depth: 32 });
    const half = await exact(stream, { ...WIDE, depth: 64 });
    expect(full.run_cycles).toBe(n + 31);
    expect(half.run_cycles).toBe(64 * Math.floor((n - 1) / 32) + ((n - 1) % 32) + 64);
  });

  it("few lanes (N = 4 for a small chunk) at depth 8 halve the rate", async () => {
    const n = 3001;
    const stream = encode(tensor("fp16", n), { dtype: "fp16" });
    expect(jobsOf(stream)[0]!.lanes).toBe(4);
    const r = await exact(stream, { ...WIDE, depth: 8 });
    expect(r.run_cycles).toBe(Math.floor((n - 1) / 4) * 8 + ((n - 1) % 4) + 8);
    expect(r.bubble_cycles).toBe((Math.ceil(n / 4) - 1) * 4);
  });

  it("the split table organisation decodes identically with one more stage", async () => {
    const n = 50000;
    const stream = encode(tensor("bf16", n), { dtype: "bf16", k: 2 });
    const job = jobsOf(stream)[0]!;
    for (const depth of [4, 7]) {
      const r = await exact(stream, { ...WIDE, depth, table: "split" });
      expect(r.run_cycles).toBe(runClocks(n, job.lanes, depth));
      expect(r.table_bits).toBe(tableBits("split", job.precision, job.codeBits));
    }
    await expect(verifyStream(stream, { config: { depth: 3, table: "split" } })).rejects.toThrow(/depth/);
  });
});

// ---- channel contexts (mode 3) ---------------------------------------------------

/** Runs a stream through the model at depth `depth`, keeping each chunk's result. */
async function perChunk(stream: Uint8Array, config: Partial<SystemConfig>): Promise<{ report: HwReport; results: ChunkResult[] }> {
  const results: ChunkResult[] = [];
  const report = await verifyStream(stream, { config, onChunk: (r) => void results.push(r) });
  expect(report.failures).toEqual([]);
  expect(report.mismatches).toEqual([]);
  expect(report.bit_exact).toBe(true);
  return { report, results };
}

/**
 * Every chunk a mode-3 chunk of `kind`, decoded word for word as the Wasm
 * decoder does, with exact clocks: G·2^P table fill (one slot per clock)
 * beside T map writes for a lane context, then ⌊(n−1)/32⌋·max(32, D) +
 * (n−1) mod 32 + D clocks of run, no stalls. Returns the stream's contexts.
 */
async function contextExact(stream: Uint8Array, kind: number): Promise<ChannelContext[]> {
  const contexts = jobsOf(stream).map((j) => {
    const h = readChunkHeader(stream.subarray(j.offset, j.offset + j.length), j.layout, j.n, j.version);
    expect(h.mode).toBe(MODE_CONTEXT);
    expect(h.context!.kind).toBe(kind);
    return h.context!;
  });
  for (const depth of [5, 40]) {
    const { report, results } = await perChunk(stream, { ...WIDE, depth });
    expect(report.chunks.context).toBe(contexts.length);
    expect(report.stall_cycles).toBe(0);
    for (const r of results) {
      const { job, stats } = r;
      const fill = job.tables.length << job.precision;
      const mapWrites = kind === CONTEXT_LANE ? job.context.map.length : 0;
      expect([stats.tableFillCycles, stats.mapFillCycles, stats.setupCycles]).toEqual([fill, mapWrites, Math.max(fill, mapWrites)]);
      expect(stats.runCycles).toBe(runClocks(job.n, 32, depth));
      expect(stats.tailCycles).toBe(tailClocks(job));
      expect(r.finalStates).toEqual(carriedStates(job, r.output));
    }
    if (results.length === 1) expect(report.cycles).toBe(results[0]!.stats.setupCycles + results[0]!.stats.runCycles + results[0]!.stats.tailCycles);
  }
  const jobs = jobsOf(stream);
  const split = await exact(stream, { ...WIDE, depth: 4, table: "split" });
  expect(split.run_cycles).toBe(jobs.reduce((s, j) => s + runClocks(j.n, 32, 4), 0));
  expect(split.table_bits).toBe(Math.max(...jobs.map((j) => tableBits("split", j.precision, j.codeBits, j.tables.length))));
  return contexts;
}

/** bf16 weights whose scale follows the last axis: 4 channel classes 16 binades apart, T channels. */
function channelTensor(rows: number, T: number): Uint16Array {
  const f = weights(rows * T, 11);
  return Uint16Array.from(new Uint32Array(f.map((v, i) => v * 2 ** (-4 * ((i % T) % 4))).buffer), (b) => b >>> 16);
}

describe("hw: channel contexts (mode 3)", () => {
  it("a lane context of T = 8192 channels: the map's T writes outlast the G·2^P table fill", async () => {
    const stream = encode(channelTensor(4, 8192), { dtype: "bf16", shape: [4, 8192] });
    const [ctx] = await contextExact(stream, CONTEXT_LANE);
    const job = jobsOf(stream)[0]!;
    expect(ctx!.stride).toBe(8192);
    expect(job.tables.length << job.precision).toBeLessThan(8192);
  });

  it("a corrupted group map is caught by the model and by the Wasm decoder", async () => {
    const stream = encode(channelTensor(4, 1024), { dtype: "bf16", shape: [4, 1024] }).slice();
    const ref = chunkRefs(stream).find(isRans)!;
    const chunk = stream.subarray(ref.offset, ref.offset + ref.length);
    const ctx = readChunkHeader(chunk, ref.layout, ref.n, ref.version).context!;
    // The context follows mode, kp, lanes and checksum (7 bytes); its map is its last bytes.
    const w = new ByteWriter();
    writeContext(w, ctx);
    const stored = w.finish();
    expect(chunk.subarray(7, 7 + stored.length)).toEqual(stored);
    const width = 32 - Math.clz32(ctx.groups - 1);
    const mapStart = 7 + stored.length - Math.ceil((ctx.map.length * width) / 8);
    // Entry 0 (bits 0 … width−1 of the map) names another group that exists.
    expect(ctx.map[0]! ^ 1).toBeLessThan(ctx.groups);
    chunk[mapStart]! ^= 1;
    expect(readChunkHeader(chunk, ref.layout, ref.n, ref.version).context!.map[0]).toBe(ctx.map[0]! ^ 1);
    const r = await verifyStream(stream);
    expect(r.bit_exact).toBe(false);
    expect(r.failed_chunks).toBe(1);
    expect(r.failures[0]!.model.join("; ")).toMatch(/payload overrun|ends in state|checksum/);
    expect(r.failures[0]!.wasm).toMatch(/^(CORRUPT_STREAM|CHECKSUM_MISMATCH): /);
  });

  const cnn = join(process.cwd(), "..", "shared", "data", "cnn", "human.bf16.safetensors");
  describe.skipIf(!existsSync(cnn))(`real bf16 weights from ${cnn} (absent: skipped)`, () => {
    const file = existsSync(cnn) ? readFileSync(cnn) : new Uint8Array(0);
    const tensors = existsSync(cnn) ? parseSafetensors(file).tensors : [];
    const bf16 = (name: string) => {
      const t = tensors.find((x) => x.name === name)!;
      return new Uint16Array(Uint8Array.prototype.slice.call(file, t.begin, t.end).buffer);
    };
    /** A row-major [rows, cols] matrix transposed to [cols, rows]. */
    const transpose = (d: Uint16Array, rows: number, cols: number) => {
      const out = new Uint16Array(d.length);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = d[r * cols + c]!;
      return out;
    };

    it("rows: a dense kernel as [256 outputs, 1024 inputs], 3 chunks starting mid-row (phases)", async () => {
      const data = transpose(bf16("faceres-deep/feats/kernel"), 1024, 256);
      const contexts = await contextExact(encode(data, { dtype: "bf16", shape: [256, 1024], chunkElements: 100000 }), CONTEXT_ROW);
      expect(contexts.map((c) => c.stride)).toEqual([32, 32, 32]);
      expect(contexts.map((c) => c.phase)).toEqual([0, 21, 10]);
    });

    it("lanes, last axis: a 3×3 conv's 128 output channels, 3 chunks with phases and a partial last round", async () => {
      const stream = encode(bf16("nanodet/PartitionedCall/split_28"), { dtype: "bf16", shape: [3, 3, 128, 128], chunkElements: 50001 });
      const contexts = await contextExact(stream, CONTEXT_LANE);
      expect(contexts.map((c) => [c.stride, c.run, c.phase])).toEqual([[128, 1, 0], [128, 1, 81], [128, 1, 34]]);
    });

    it("lanes, first axis of a small tensor: [256, 100], 100 consecutive elements per channel", async () => {
      const [ctx] = await contextExact(encode(bf16("faceres-deep/age_pred/kernel"), { dtype: "bf16", shape: [256, 100] }), CONTEXT_LANE);
      expect([ctx!.stride, ctx!.run]).toEqual([256, 100]);
    });
  });
});

describe("hw: cores, buses, memory and back-pressure", () => {
  const n = 200000;
  const stream = encode(tensor("bf16", n), { dtype: "bf16", chunkElements: 20000 });

  it("more cores on separate chunks: same words, fewer clocks", async () => {
    let previous = Infinity;
    for (const cores of [1, 2, 3, 4]) {
      const r = await exact(stream, { cores });
      expect(r.chunks.verified).toBe(10);
      expect(r.symbols).toBe(n);
      expect(r.cycles).toBeLessThan(previous);
      previous = r.cycles;
    }
  });

  it("a 1-byte bus starves fp32 (3 raw bytes per element): raw-FIFO stalls, clocks ≥ bytes fetched", async () => {
    const fp32 = encode(tensor("fp32", 30000), { dtype: "fp32", k: 0 });
    const job = jobsOf(fp32)[0]!;
    const narrow = await exact(fp32, { busBytes: 1 });
    expect(narrow.stalls.raw_fifo_empty).toBeGreaterThan(0);
    expect(narrow.cycles).toBeGreaterThanOrEqual(job.words.length + job.raw.length);
    const wide = await exact(fp32, { busBytes: 16 });
    expect(wide.stall_cycles).toBe(0);
    const two = await exact(fp32, { busBytes: 2 });
    expect(two.stall_cycles).toBeGreaterThan(0);
    expect(two.stall_cycles).toBeLessThan(narrow.stall_cycles);
  });

  it("shared memory bandwidth limits four cores; every byte still arrives", async () => {
    const r = await exact(stream, { cores: 4, memBytesPerCycle: 2, memLatency: 100 });
    const bytes = jobsOf(stream).reduce((s, j) => s + j.words.length + j.raw.length, 0);
    expect(r.cycles).toBeGreaterThanOrEqual(Math.floor(bytes / 2));
    expect(r.stalls.word_fifo_empty + r.stalls.raw_fifo_empty).toBeGreaterThan(0);
  });

  it("output back-pressure: a 1-byte port for bf16 stalls the ring, half a symbol per clock", async () => {
    const r = await exact(stream, { outBytes: 1 });
    expect(r.stalls.output_full).toBeGreaterThan(0);
    expect(r.cycles).toBeGreaterThanOrEqual(2 * n);
    // The port moves one byte per clock; the 4-word output FIFO and the tail buffer let the run end a few words early.
    const tails = jobsOf(stream).reduce((s, j) => s + tailClocks(j), 0);
    expect(r.run_cycles).toBeGreaterThanOrEqual(2 * (n - 4 * 10 - tails));
  });

  it("two table buffers hide the next chunk's 2^P table fill", async () => {
    const one = await exact(stream, { tableBuffers: 1 });
    const two = await exact(stream, { tableBuffers: 2 });
    const fill = jobsOf(stream).reduce((s, j) => s + (1 << j.precision), 0);
    expect(one.setup_cycles).toBeGreaterThanOrEqual(fill);
    expect(two.setup_cycles).toBeLessThan(one.setup_cycles - fill / 2);
  });
});

// ---- corruption and mismatches -------------------------------------------------

describe("hw: faults", () => {
  it("a flipped payload bit is caught by the model and by the Wasm decoder", async () => {
    const stream = encode(tensor("bf16", 30000), { dtype: "bf16" }).slice();
    const ref = chunkRefs(stream).find(isRans)!;
    const h = readChunkHeader(stream.subarray(ref.offset, ref.offset + ref.length), ref.layout, ref.n, ref.version);
    stream[ref.offset + h.payloadOffset + (h.payloadLength >> 1)]! ^= 0x10;
    const r = await verifyStream(stream);
    expect(r.bit_exact).toBe(false);
    expect(r.failed_chunks).toBe(1);
    expect(r.failures[0]!.model.length).toBeGreaterThan(0);
    expect(r.failures[0]!.wasm).toMatch(/^(CORRUPT_STREAM|CHECKSUM_MISMATCH): /);
  });

  it("a mismatch names chunk, lane, symbol and clock, with both values", async () => {
    const stream = encode(tensor("bf16", 30000), { dtype: "bf16" });
    const lanes = jobsOf(stream)[0]!.lanes;
    let clock = -1;
    const r = await verifyStream(stream, {
      inject: (result) => {
        result.output[2 * 777]! ^= 1;
        clock = result.cycleOf[777]!;
      },
    });
    expect(r.bit_exact).toBe(false);
    expect(r.mismatched_chunks).toBe(1);
    const m = r.mismatches[0]!;
    expect([m.chunk, m.symbol, m.lane, m.cycle, m.words]).toEqual([0, 777, 777 % lanes, clock, 1]);
    expect(Number(m.model) ^ Number(m.wasm)).toBe(1);
    expect(m.model).toMatch(/^0x[0-9a-f]{4}$/);
  });
});

// ---- real weights -------------------------------------------------------------

describe("hw: real weights", () => {
  it("fixture stories260K.bf16 via compress(): bit-exact, every chunk, no stalls", async () => {
    const stream = compress(readFileSync("fixtures/stories260K.bf16.safetensors"));
    const r = await exact(stream);
    expect(r.symbols).toBe(260032);
    expect(r.chunks.verified).toBe(r.chunks.rans);
    expect(r.stall_cycles).toBe(0);
    expect(r.index_checksum_ok).toBe(true);
  });

  const data = join(process.cwd(), "..", "shared", "data");
  const files = existsSync(data) ? walk(data) : [];
  const FULL_LIMIT = 12 << 20;
  const SAMPLE = 64;
  describe.skipIf(files.length === 0)(`real files in ${data} (absent: skipped)`, () => {
    for (const file of files.filter((f) => f.endsWith(".safetensors") || f.endsWith(".gguf"))) {
      const big = statSync(file).size > FULL_LIMIT;
      const name = file.slice(data.length + 1);
      it(big ? `${name}: bit-exact on a deterministic sample of ${SAMPLE} rANS chunks (file over 12 MiB)` : `${name}: bit-exact on every chunk`, async () => {
        // compressAsync takes GGUF as well; one thread codes inline, as compress() does.
        const stream = await compressAsync(readFileSync(file), { threads: 1 });
        const r = await verifyStream(stream, { config: { cores: 2 }, ...(big ? { sample: SAMPLE } : {}) });
        expect(r.failures).toEqual([]);
        expect(r.mismatches).toEqual([]);
        expect(r.bit_exact).toBe(true);
        expect(r.chunks.verified).toBe(big ? Math.min(SAMPLE, r.chunks.rans) : r.chunks.rans);
      });
    }
  });
});

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)])).sort();
}

// ---- token factory ----------------------------------------------------------------

describe("hw: token factory", () => {
  const base = { engines: 4, bandwidthGBs: 100, params: 7e9, ratio: 1.5, bytesPerParam: 2, tokensPerPass: 1 };

  it("memory-bound: separate copies, one broadcast, one compressed broadcast", () => {
    const r = tokenFactory({ ...base, decoderGsym: 100 });
    const [separate, broadcast, compressed] = r.scenarios;
    // Pass time = bytes read per pass / bandwidth.
    expect(separate!.pass_seconds).toBeCloseTo((4 * 14e9) / 100e9, 9);
    expect(broadcast!.pass_seconds).toBeCloseTo(14e9 / 100e9, 9);
    expect(compressed!.pass_seconds).toBeCloseTo(14e9 / 1.5 / 100e9, 9);
    expect(compressed!.tokens_per_second).toBeCloseTo(4 / (14e9 / 1.5 / 100e9), 6);
    expect(compressed!.bytes_per_token).toBeCloseTo(14e9 / 1.5 / 4, 0);
    expect(r.scenarios.map((s) => s.bottleneck)).toEqual(["memory", "memory", "memory"]);
    expect(r.speedup_vs_separate).toBeCloseTo(6, 9);
    expect(r.decoder_gsym_needed).toBeCloseTo(75, 9);
    expect(r.paper_cores_needed).toBe(94);
  });

  it("decoder-bound below bandwidth × ratio / bytes per weight", () => {
    const r = tokenFactory({ ...base, decoderGsym: 10 });
    const compressed = r.scenarios[2]!;
    expect(compressed.bottleneck).toBe("decoder");
    expect(compressed.pass_seconds).toBeCloseTo(7e9 / 10e9, 9);
    expect(r.decoder_sweep.map((d) => d.bottleneck)).toEqual(["decoder", "decoder", "decoder", "memory", "memory"]);
  });

  it("engine compute caps every scenario once batches are large", () => {
    const r = tokenFactory({ ...base, decoderGsym: 100, tokensPerPass: 1024, engineTflops: 100 });
    // 2 FLOP per weight per token: 2 · 7e9 · 1024 / 1e14 = 0.143 s per pass, over the 0.093 s of memory.
    expect(r.scenarios[2]!.bottleneck).toBe("engines");
    expect(r.scenarios[2]!.pass_seconds).toBeCloseTo((2 * 7e9 * 1024) / 1e14, 9);
    expect(r.scenarios[0]!.bottleneck).toBe("memory");
  });
});

// ---- CLI ------------------------------------------------------------------------

describe("hw: hwMain", () => {
  const dir = mkdtempSync(join(tmpdir(), "ansf-hw-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(command: "hw-sim" | "hw-vectors", argv: string[]) {
    let stdout = "";
    let stderr = "";
    const out = vi.spyOn(process.stdout, "write").mockImplementation((s) => ((stdout += String(s)), true));
    const err = vi.spyOn(process.stderr, "write").mockImplementation((s) => ((stderr += String(s)), true));
    try {
      const code = await hwMain(command, argv);
      return { code, stdout, stderr };
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  }

  it("hw-sim reports usage errors and missing files with their codes, not as internal errors", async () => {
    const bogus = await run("hw-sim", ["--bogus"]);
    expect(bogus.code).toBe(1);
    expect(bogus.stderr).toMatch(/^ansfloat: hw-sim: Unknown option '--bogus'.*\[BAD_ARGUMENT\]\n$/);
    const missing = await run("hw-sim", [join(dir, "nowhere.ansf")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/\[IO_ERROR\]\n$/);
  });

  it("hw-sim --json reports bit_exact, symbols, cycles, stall_cycles, symbols_per_cycle", async () => {
    const file = join(dir, "t.ansf");
    writeFileSync(file, encode(tensor("bf16", 5000), { dtype: "bf16" }));
    const { code, stdout, stderr } = await run("hw-sim", [file, "--json", "--cores", "2", "--depth", "6", "--bus-bytes", "8", "--mhz", "500"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const r = JSON.parse(stdout);
    expect(r.bit_exact).toBe(true);
    expect(r.symbols).toBe(5000);
    expect(r.stall_cycles).toBe(0);
    expect(r.cycles).toBeGreaterThan(5000);
    expect(r.symbols_per_cycle).toBeCloseTo(5000 / r.cycles, 12);
    expect(r.config).toMatchObject({ cores: 2, depth: 6, busBytes: 8, mhz: 500 });
    const text = await run("hw-sim", [file]);
    expect(text.stdout).toMatch(/bit-exact/);
    expect(text.stdout).toMatch(/800 M bf16\/s takes \d+ core/);
  });

  it("hw-sim exits 1 with one line `ansfloat: FILE: message` on a corrupt stream, a bad option, a missing file", async () => {
    const file = join(dir, "bad.ansf");
    const stream = encode(tensor("bf16", 5000), { dtype: "bf16" }).slice();
    const ref = chunkRefs(stream).find(isRans)!;
    const h = readChunkHeader(stream.subarray(ref.offset, ref.offset + ref.length), ref.layout, ref.n, ref.version);
    stream[ref.offset + h.payloadOffset + 3]! ^= 0x40;
    writeFileSync(file, stream);
    const bad = await run("hw-sim", [file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`^ansfloat: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: chunk 0 .*model: .*wasm: (CORRUPT_STREAM|CHECKSUM_MISMATCH)`));
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    const option = await run("hw-sim", [file, "--depth", "2"]);
    expect(option.code).toBe(1);
    expect(option.stderr).toMatch(/^ansfloat: .*depth/);
    const missing = await run("hw-sim", [join(dir, "nope.ansf")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^ansfloat: .*nope\.ansf: /);
  });

  it("hw-sim --token-factory", async () => {
    const { code, stdout } = await run("hw-sim", ["--token-factory", "--json", "--engines", "8", "--bandwidth-gbs", "200", "--decoder-gsym", "50", "--params", "1e9", "--ratio", "1.4"]);
    expect(code).toBe(0);
    const r = JSON.parse(stdout);
    expect(r.params).toMatchObject({ engines: 8, bandwidthGBs: 200, decoderGsym: 50, params: 1e9, ratio: 1.4 });
    expect(r.scenarios.map((s: { name: string }) => s.name)).toEqual(["separate", "broadcast", "compressed"]);
    const text = await run("hw-sim", ["--token-factory"]);
    expect(text.stdout).toMatch(/bottleneck/);
  });

  it("hw-vectors writes $readmemh files an RTL bench can check against", async () => {
    const file = join(dir, "v.ansf");
    const data = tensor("fp16", 9000);
    writeFileSync(file, encode(data, { dtype: "fp16", k: 1 }));
    const out = join(dir, "vectors");
    const { code, stdout } = await run("hw-vectors", [file, out]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/1 chunks/);
    const job = jobsOf(readFileSync(file))[0]!;
    const chunk = join(out, `chunk_${String(job.id).padStart(5, "0")}`);
    const lines = (f: string) => readFileSync(join(chunk, f), "utf8").trimEnd().split("\n");
    const expected = lines("expected.hex");
    expect(expected).toHaveLength(9000);
    const words = new Uint16Array(data.buffer);
    expect(expected.every((l, i) => parseInt(l, 16) === words[i])).toBe(true);
    expect(lines("states.hex")).toHaveLength(job.lanes);
    expect(lines("payload.hex")).toHaveLength(job.payloadBytes / 2);
    expect(lines("raw.hex")).toHaveLength(job.raw.length);
    const slots = lines("slot_table.hex");
    expect(slots).toHaveLength(1 << job.precision);
    expect(slots[0]!.length).toBe(Math.ceil((2 * job.precision + 1 + job.codeBits) / 4));
    expect(lines("sym_info.hex")).toHaveLength(1 << job.codeBits);
    const meta = JSON.parse(readFileSync(join(chunk, "chunk.json"), "utf8"));
    expect(meta).toMatchObject({ n: 9000, k: 1, lanes: 16, precision: job.precision, raw_bits: 10, carried_bits: 256 });
    expect(meta.final_states).toEqual(Array.from(carriedStates(job, data), (x) => `0x${x.toString(16).padStart(8, "0")}`));
    expect(readFileSync(join(out, "README.md"), "utf8")).toMatch(/out_tready/);
  });

  it("hw-vectors writes all G tables, the group map and the context unit's registers for a mode-3 chunk", async () => {
    const file = join(dir, "c.ansf");
    writeFileSync(file, encode(channelTensor(4, 1024), { dtype: "bf16", shape: [4, 1024] }));
    const out = join(dir, "vectors-context");
    const { code } = await run("hw-vectors", [file, out]);
    expect(code).toBe(0);
    const job = jobsOf(readFileSync(file))[0]!;
    const G = job.tables.length;
    expect(G).toBeGreaterThan(1);
    const chunk = join(out, `chunk_${String(job.id).padStart(5, "0")}`);
    const lines = (f: string) => readFileSync(join(chunk, f), "utf8").trimEnd().split("\n");
    expect(lines("slot_table.hex")).toHaveLength(G << job.precision);
    expect(lines("sym_table.hex")).toHaveLength(G << job.precision);
    expect(lines("sym_info.hex")).toHaveLength(G << job.codeBits);
    expect(lines("codes.hex")).toHaveLength(job.tables.reduce((s, t) => s + t.filter((f) => f > 0).length, 0));
    // Each table's slots hold only its own codes: slot s of table g has code c with a nonzero frequency in table g.
    const slots = lines("slot_table.hex").map((l) => BigInt(`0x${l}`));
    slots.forEach((e, s) => expect(job.tables[s >> job.precision]![Number(e >> BigInt(2 * job.precision + 1))]).toBeGreaterThan(0));
    expect(lines("group_map.hex").map((l) => parseInt(l, 16))).toEqual([...job.context.map]);
    const meta = JSON.parse(readFileSync(join(chunk, "chunk.json"), "utf8"));
    expect(meta).toMatchObject({ groups: G, context: "lane", map_entries: 1024, run_last: 0, channels_last: 1023, within0: 0, channel0: 0 });
    expect(meta.model.tableFillCycles).toBe(G << job.precision);
    expect(meta.model.mapFillCycles).toBe(1024);
    expect(readFileSync(join(out, "README.md"), "utf8")).toMatch(/map_tdata/);
  });
});
