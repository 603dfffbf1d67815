// Parameters of the modelled decoder and how they shape the pipeline.

import { AnsfError } from "../errors.js";

/**
 * Decode-table organisation.
 * - `slot`: one block RAM of 2^P entries {freq, bias, code}; one lookup per symbol.
 * - `split`: a 2^P-entry slot→code RAM, then a per-code {freq, start} RAM and a
 *   P-bit subtractor for the bias: fewer bits, one more pipeline stage.
 */
export type TableOrg = "slot" | "split";

export interface CoreConfig {
  /** D: pipeline stages a lane state passes through between two of its symbols. */
  depth: number;
  table: TableOrg;
  /** Bytes the core's input port accepts per clock (one beat per clock). */
  busBytes: number;
  /** Capacity of each input FIFO (renormalisation words; raw plane), bytes, a power of two. */
  fifoBytes: number;
  /** Clocks from a read request to its data landing in a FIFO (≥ 1: memory output is registered). */
  memLatency: number;
  /** Bytes the output port sends per clock; 0 means one element per clock (no back-pressure). */
  outBytes: number;
  /** Output FIFO depth in words. */
  outFifo: number;
  /** Decode-table buffers: 2 lets the next chunk's table fill while this one decodes. */
  tableBuffers: 1 | 2;
}

export interface SystemConfig extends CoreConfig {
  /** Decoder cores, each on its own chunk. */
  cores: number;
  /** Memory bandwidth shared by all cores, bytes per clock; null: every core always gets its full bus. */
  memBytesPerCycle: number | null;
  /** Clock for throughput figures (does not change cycle counts). */
  mhz: number;
}

export const DEFAULTS: SystemConfig = {
  depth: 4,
  table: "slot",
  busBytes: 4,
  fifoBytes: 0, // 0: derived by withDefaults from bus width and latency
  memLatency: 32,
  outBytes: 0,
  outFifo: 4,
  tableBuffers: 2,
  cores: 1,
  memBytesPerCycle: null,
  mhz: 400,
};

/** Smallest depth an organisation allows: lookup(s), multiply-add, renormalise. */
export function minDepth(table: TableOrg): number {
  return table === "slot" ? 3 : 4;
}

export const MAX_DEPTH = 64;

/** Completes a partial configuration and checks every field. */
export function withDefaults(partial: Partial<SystemConfig> = {}): SystemConfig {
  const cfg: SystemConfig = { ...DEFAULTS, ...definedOnly(partial) };
  const bad = (why: string) => new AnsfError("BAD_ARGUMENT", why);
  const int = (v: number, lo: number, hi: number, name: string) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw bad(`${name} must be an integer in [${lo}, ${hi}], got ${v}`);
  };
  if (cfg.table !== "slot" && cfg.table !== "split") throw bad(`table must be slot or split, got ${String(cfg.table)}`);
  int(cfg.depth, minDepth(cfg.table), MAX_DEPTH, `depth (${cfg.table} table)`);
  int(cfg.busBytes, 1, 256, "bus bytes");
  int(cfg.memLatency, 1, 4096, "memory latency");
  int(cfg.outBytes, 0, 256, "output bytes per clock");
  int(cfg.outFifo, 1, 1024, "output FIFO depth");
  int(cfg.cores, 1, 1024, "cores");
  if (cfg.tableBuffers !== 1 && cfg.tableBuffers !== 2) throw bad(`table buffers must be 1 or 2, got ${cfg.tableBuffers}`);
  if (cfg.memBytesPerCycle !== null && !(cfg.memBytesPerCycle > 0)) throw bad(`memory bandwidth must be positive`);
  if (!(cfg.mhz > 0)) throw bad(`clock must be positive, got ${cfg.mhz} MHz`);
  if (cfg.fifoBytes === 0) {
    // Enough to keep a full-rate stream going across the memory latency.
    cfg.fifoBytes = pow2AtLeast(Math.max(64, cfg.busBytes * (cfg.memLatency + 2)));
  }
  int(cfg.fifoBytes, 4, 1 << 20, "FIFO bytes");
  if ((cfg.fifoBytes & (cfg.fifoBytes - 1)) !== 0) throw bad(`FIFO bytes must be a power of two, got ${cfg.fifoBytes}`);
  // A FIFO must take a whole beat and a whole 32-bit lane state.
  if (cfg.fifoBytes < cfg.busBytes) throw bad(`FIFO of ${cfg.fifoBytes} bytes cannot take a ${cfg.busBytes}-byte beat`);
  return cfg;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function pow2AtLeast(v: number): number {
  let p = 1;
  while (p < v) p *= 2;
  return p;
}

/**
 * What each of the D stages does. Compute stages act on the lane token passing
 * through; register stages only delay it (their contents are whatever the
 * previous stage produced, so they change timing, never values). Extra depth
 * goes where a real design needs it for clock rate: block-RAM output
 * registers first, then the DSP's M and P registers, then fabric retiming
 * registers in front of the renormaliser.
 */
export type StageRole = "lookup" | "sym" | "info" | "mul" | "renorm" | "bram-reg" | "dsp-mreg" | "dsp-preg" | "retime";

export function stagePlan(depth: number, table: TableOrg): StageRole[] {
  let extra = depth - minDepth(table);
  /** Spends one extra stage, if any is left. */
  const spare = (): boolean => {
    if (extra === 0) return false;
    extra--;
    return true;
  };
  const lookups: StageRole[] = table === "slot" ? ["lookup"] : ["sym", "info"];
  const plan: StageRole[] = [];
  const bramRegs = lookups.map(spare);
  lookups.forEach((role, i) => {
    plan.push(role);
    if (bramRegs[i]) plan.push("bram-reg");
  });
  plan.push("mul");
  if (spare()) plan.push("dsp-mreg");
  if (spare()) plan.push("dsp-preg");
  while (spare()) plan.push("retime");
  plan.push("renorm");
  return plan;
}

/** Bits of a chunk's G decode tables (one buffer) for precision P and codes of `codeBits` bits. */
export function tableBits(table: TableOrg, precision: number, codeBits: number, groups = 1): number {
  // freq ∈ [1, 2^P] needs P + 1 bits; bias = slot − start(code) < freq ≤ 2^P fits P bits
  // (bias = 2^P would need freq > 2^P); start < 2^P fits P bits.
  const freqBits = precision + 1;
  if (table === "slot") return groups * (1 << precision) * (freqBits + precision + codeBits);
  return groups * ((1 << precision) * codeBits + (1 << codeBits) * (freqBits + precision));
}
