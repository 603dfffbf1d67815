// The cycle model of the hardware decoder (src/hw/): bit-exact agreement
// with the Wasm decoder, exact clock counts where they follow from the
// pipeline, stalls where the model must stall, and the CLI.

import { afterAll, describe, expect, it, vi } from "vitest";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readChunkHeader } from "../src/chunk.js";
import { compress, compressAsync, encode, type CodedDtype } from "../src/index.js";
import { core } from "../src/wasm.js";
import { hwMain } from "../src/hw/cli.js";
import { stagePlan, tableBits, type SystemConfig } from "../src/hw/config.js";
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

  it("table bits: 2^P × (freq P+1, bias P, code E+k), or split into slot→code and code→{freq, start}", () => {
    expect(tableBits("slot", 11, 8)).toBe(2048 * (12 + 11 + 8));
    expect(tableBits("split", 11, 8)).toBe(2048 * 8 + 256 * (12 + 11));
  });

  it("the table builder fills slot entries {freq, bias, code} run by run", () => {
    const freqs = new Uint32Array(8);
    freqs[1] = 1000;
    freqs[4] = 1;
    freqs[6] = 1047;
    const t = buildTable(freqs, 11);
    expect([t.sym[0], t.freq[0], t.bias[0]]).toEqual([1, 1000, 0]);
    expect([t.sym[999], t.bias[999]]).toEqual([1, 999]);
    expect([t.sym[1000], t.freq[1000], t.bias[1000]]).toEqual([4, 1, 0]);
    expect([t.sym[2047], t.freq[2047], t.bias[2047]]).toEqual([6, 1047, 1046]);
    expect([t.infoStart[6], t.infoFreq[6]]).toEqual([1001, 1047]);
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
    it(`${dtype} k=${k}: bit-exact, exact clocks 2^P + ⌊(n−1)/N⌋·max(N,D) + (n−1) mod N + D, no stalls`, async () => {
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
      expect(report.cycles).toBe((1 << job!.precision) + runClocks(n, job!.lanes, 5));
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
    // The port moves one byte per clock; the 4-word output FIFO lets the run end a few words early.
    expect(r.run_cycles).toBeGreaterThanOrEqual(2 * (n - 4 * 10));
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
    const h = readChunkHeader(stream.subarray(ref.offset, ref.offset + ref.length), ref.layout, ref.n);
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
    const h = readChunkHeader(stream.subarray(ref.offset, ref.offset + ref.length), ref.layout, ref.n);
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
    expect(meta).toMatchObject({ n: 9000, k: 1, lanes: job.lanes, precision: job.precision, raw_bits: 10 });
    expect(meta.final_states).toEqual(Array(job.lanes).fill("0x00010000"));
    expect(readFileSync(join(out, "README.md"), "utf8")).toMatch(/out_tready/);
  });
});
