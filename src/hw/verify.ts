// hw-sim's engine: every chunk through the cycle model, every chunk through
// the Wasm decoder in a worker, word-by-word comparison, and the figures.

import { FOOTER_BYTES, parseContainer } from "../container.js";
import { CONTEXT_LANE } from "../context.js";
import { hex } from "./bits.js";
import { stagePlan, tableBits, withDefaults, type SystemConfig } from "./config.js";
import { GROUP_BITS } from "./context-unit.js";
import type { ChunkResult } from "./core.js";
import { ansfH32 } from "./h32.js";
import { chunkJob, chunkRefs, isContext, isDeflate, isRans, isStored, sample, type ChunkJob, type ChunkRef } from "./job.js";
import { HwSystem } from "./system.js";
import { WasmReference, type ReferenceResult } from "./wasm-side.js";

/** Liguori's FPGA decoder: over 800 M bf16 per second. */
export const PAPER_SYMBOLS_PER_SECOND = 800e6;

export interface VerifyOptions {
  config?: Partial<SystemConfig>;
  /** Verify only this many rANS chunks, spread evenly over the stream (always the first and last). */
  sample?: number;
  /** Called for each verified rANS chunk with the model's result and the Wasm bytes (when it decoded). */
  onChunk?: (result: ChunkResult, reference: Uint8Array | undefined) => void | Promise<void>;
  /** Fault injection, to check the checker: may alter a model result before it is compared. */
  inject?: (result: ChunkResult) => void;
}

export interface Mismatch {
  chunk: number;
  segment: number;
  segment_chunk: number;
  lane: number;
  /** Element (symbol) index within the chunk. */
  symbol: number;
  /** Clock at which the model assembled that element. */
  cycle: number;
  model: string;
  wasm: string;
  /** Differing words in the chunk. */
  words: number;
}

export interface ChunkFailure {
  chunk: number;
  segment: number;
  segment_chunk: number;
  /** What the model's integrity checks flagged (empty: nothing). */
  model: string[];
  /** The Wasm decoder's error, null when it decoded the chunk. */
  wasm: string | null;
}

export interface HwReport {
  bit_exact: boolean;
  /** rans counts mode-1 and mode-3 chunks; context, the mode-3 ones among those verified. */
  chunks: { total: number; rans: number; context: number; verified: number; sampled: boolean; stored: number; deflate: number };
  symbols: number;
  cycles: number;
  stall_cycles: number;
  stalls: { word_fifo_empty: number; raw_fifo_empty: number; output_full: number };
  bubble_cycles: number;
  setup_cycles: number;
  run_cycles: number;
  /** Clocks after the runs that emit the words of the last elements with the raw bits their lane states carried (version 3). */
  tail_cycles: number;
  /** Symbols per clock of the whole system (all cores, first to last clock). */
  symbols_per_cycle: number;
  /** Symbols per clock per core while it had a chunk (setup, run and drain included). */
  core_symbols_per_cycle: number;
  /** Symbols per clock per core while decoding (setup excluded). */
  run_symbols_per_cycle: number;
  words: number;
  /** Bits of the largest set of decode tables (G·2^P slots) any verified chunk needs, per buffer. */
  table_bits: number;
  table_bits_per_core: number;
  /** Bits of the largest lane-context group map (T entries) any verified chunk needs, per buffer. */
  map_bits: number;
  index_checksum_ok: boolean;
  config: SystemConfig & { stages: string[] };
  throughput: {
    mhz: number;
    symbols_per_second: number;
    /** Cores at `mhz` for Liguori's 800 M bf16/s, at this stream's per-core rate. */
    cores_for_800m: number;
    /** Clock for 800 M/s with the configured cores. */
    mhz_for_800m: number;
  };
  /** Chunks whose words differ, and the first MAX_REPORTED of them. */
  mismatched_chunks: number;
  mismatches: Mismatch[];
  /** Chunks flagged by an integrity check of either decoder, and the first MAX_REPORTED. */
  failed_chunks: number;
  failures: ChunkFailure[];
}

const MAX_REPORTED = 10;

export async function verifyStream(stream: Uint8Array, options: VerifyOptions = {}): Promise<HwReport> {
  const cfg = withDefaults(options.config);
  const index = parseContainer(stream);
  const refs = chunkRefs(stream, index);
  const rans = refs.filter(isRans);
  const chosen = options.sample === undefined ? rans : sample(rans, options.sample);
  const others = refs.filter((r) => !isRans(r));
  const jobs = chosen.map((r) => chunkJob(stream, r));
  const report = emptyReport(cfg, refs, rans, chosen, indexChecksumOk(stream));
  for (const j of jobs) {
    report.table_bits = Math.max(report.table_bits, tableBits(cfg.table, j.precision, j.codeBits, j.tables.length));
    if (j.context.kind === CONTEXT_LANE) report.map_bits = Math.max(report.map_bits, j.context.map.length * GROUP_BITS);
  }
  report.table_bits_per_core = report.table_bits * cfg.tableBuffers;

  const reference = new WasmReference(stream);
  try {
    reference.request([...chosen, ...others]);
    const system = new HwSystem(cfg, jobs);
    let runCycles = 0;
    while (!system.done) {
      for (const r of system.step()) {
        const ref = await reference.result(r.job.id);
        options.inject?.(r);
        check(report, r, ref);
        accumulate(report, r);
        runCycles += r.stats.runCycles;
        await options.onChunk?.(r, ref.bytes);
      }
    }
    for (const r of others) checkBypass(report, stream, r, await reference.result(r.id));
    report.cycles = system.cycle;
    const busy = system.cores.reduce((s, c) => s + c.busyCycles, 0);
    report.symbols_per_cycle = ratio(report.symbols, report.cycles);
    report.core_symbols_per_cycle = ratio(report.symbols, busy);
    report.run_symbols_per_cycle = ratio(report.symbols, runCycles);
  } finally {
    reference.close();
  }
  report.bit_exact = report.mismatched_chunks === 0 && report.failed_chunks === 0 && report.index_checksum_ok;
  const perCore = report.core_symbols_per_cycle;
  report.throughput = {
    mhz: cfg.mhz,
    symbols_per_second: report.symbols_per_cycle * cfg.mhz * 1e6,
    cores_for_800m: perCore > 0 ? Math.ceil(PAPER_SYMBOLS_PER_SECOND / (perCore * cfg.mhz * 1e6)) : 0,
    mhz_for_800m: perCore > 0 ? PAPER_SYMBOLS_PER_SECOND / 1e6 / (perCore * cfg.cores) : 0,
  };
  return report;
}

function ratio(a: number, b: number): number {
  return b > 0 ? a / b : 0;
}

function emptyReport(cfg: SystemConfig, refs: ChunkRef[], rans: ChunkRef[], chosen: ChunkRef[], indexOk: boolean): HwReport {
  return {
    bit_exact: false,
    chunks: {
      total: refs.length, rans: rans.length, context: chosen.filter(isContext).length, verified: chosen.length, sampled: chosen.length < rans.length,
      stored: refs.filter(isStored).length, deflate: refs.filter(isDeflate).length,
    },
    symbols: 0, cycles: 0, stall_cycles: 0,
    stalls: { word_fifo_empty: 0, raw_fifo_empty: 0, output_full: 0 },
    bubble_cycles: 0, setup_cycles: 0, run_cycles: 0, tail_cycles: 0,
    symbols_per_cycle: 0, core_symbols_per_cycle: 0, run_symbols_per_cycle: 0, words: 0,
    table_bits: 0, table_bits_per_core: 0, map_bits: 0,
    index_checksum_ok: indexOk,
    config: { ...cfg, stages: stagePlan(cfg.depth, cfg.table) },
    throughput: { mhz: cfg.mhz, symbols_per_second: 0, cores_for_800m: 0, mhz_for_800m: 0 },
    mismatched_chunks: 0,
    mismatches: [],
    failed_chunks: 0,
    failures: [],
  };
}

function accumulate(report: HwReport, r: ChunkResult): void {
  const s = r.stats;
  report.symbols += r.job.n;
  report.stall_cycles += s.stallCycles;
  report.stalls.word_fifo_empty += s.stallWord;
  report.stalls.raw_fifo_empty += s.stallRaw;
  report.stalls.output_full += s.stallOut;
  report.bubble_cycles += s.bubbleCycles;
  report.setup_cycles += s.setupCycles;
  report.run_cycles += s.runCycles;
  report.tail_cycles += s.tailCycles;
  report.words += s.words;
}

function where(job: ChunkRef) {
  return { chunk: job.id, segment: job.segment, segment_chunk: job.chunk };
}

/** Compares a modelled chunk with the Wasm decoder's output, word by word. */
function check(report: HwReport, r: ChunkResult, ref: ReferenceResult): void {
  const job = r.job;
  const wasmError = ref.error ? `${ref.error.code}: ${ref.error.message}` : null;
  if (r.errors.length > 0 || wasmError) fail(report, { ...where(job), model: r.errors, wasm: wasmError });
  if (!ref.bytes) return;
  const m = firstMismatch(job, r, ref.bytes);
  if (m) {
    report.mismatched_chunks++;
    if (report.mismatches.length < MAX_REPORTED) report.mismatches.push(m);
  }
}

function fail(report: HwReport, failure: ChunkFailure): void {
  report.failed_chunks++;
  if (report.failures.length < MAX_REPORTED) report.failures.push(failure);
}

function firstMismatch(job: ChunkJob, r: ChunkResult, wasm: Uint8Array): Mismatch | undefined {
  const width = job.layout.width;
  const bits = 8 * width;
  let first = -1;
  let words = 0;
  for (let e = 0; e < job.n; e++) {
    const at = e * width;
    let same = true;
    for (let b = 0; b < width; b++) if (r.output[at + b] !== wasm[at + b]) same = false;
    if (!same) {
      words++;
      if (first < 0) first = e;
    }
  }
  if (first < 0) return undefined;
  const word = (bytes: Uint8Array) => {
    let v = 0;
    for (let b = width - 1; b >= 0; b--) v = (v * 256 + bytes[first * width + b]!) >>> 0;
    return `0x${hex(v, bits)}`;
  };
  return { ...where(job), lane: first % job.lanes, symbol: first, cycle: r.cycleOf[first]!, model: word(r.output), wasm: word(wasm), words };
}

/**
 * Stored chunks bypass the core (a plain copy); deflate chunks (JSON headers)
 * are for the host. Both are checked here against the Wasm decoder and, with
 * this module's own ANSF-H32, against their stored checksums.
 */
function checkBypass(report: HwReport, stream: Uint8Array, ref: ChunkRef, result: ReferenceResult): void {
  const failed = (model: string[]) => {
    const wasm = result.error ? `${result.error.code}: ${result.error.message}` : null;
    fail(report, { ...where(ref), model, wasm });
  };
  if (!result.bytes) return failed([]);
  if (isStored(ref)) {
    // mode u8, checksum u32, then the bytes verbatim.
    const copy = stream.subarray(ref.offset + 5, ref.offset + ref.length);
    if (!Buffer.from(copy).equals(Buffer.from(result.bytes))) return failed(["stored chunk differs from the Wasm output"]);
  }
  if (ansfH32(result.bytes) !== ref.checksum) failed([`checksum of the ${isStored(ref) ? "stored" : "inflated"} bytes differs from the stored one`]);
}

/** The index checksum, recomputed with this module's ANSF-H32 from the footer. */
function indexChecksumOk(stream: Uint8Array): boolean {
  const footer = new DataView(stream.buffer, stream.byteOffset + stream.length - FOOTER_BYTES, FOOTER_BYTES);
  const offset = Number(footer.getBigUint64(0, true));
  const length = footer.getUint32(8, true);
  const body = stream.subarray(offset, offset + length - 4);
  const stored = new DataView(stream.buffer, stream.byteOffset + offset + length - 4, 4).getUint32(0, true);
  return ansfH32(body) === stored;
}
