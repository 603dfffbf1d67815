// One decoder core, clock by clock.
//
//            +-----------------------------------------------------------+
//            |        recirculation line, N − D registers (if N > D)      |
//            v                                                           |
//  loader -> [0 LOOKUP] -> [.. regs ..] -> [MUL] -> [.. regs ..] -> [D−1 RENORM] ->+
//              |  slot = {group, x mod 2^P}  y = freq·(x >> P) + bias      |  x = y < 2^16 ? y<<16 | word : y
//              v                                                          v
//           decode tables (BRAM)                    word FIFO (16 bit), raw FIFO (w bit) -> output FIFO -> port
//
// The N lane states are tokens on a ring of R = max(N, D) registers: the D
// pipeline registers plus a recirculation line (an addressable shift
// register, SRL-style, so N is a per-chunk setting). A token moves one
// register per clock, so each lane returns to the LOOKUP stage every R clocks
// and its next symbol issues only after its previous update has left the
// pipeline. With N ≥ D the core issues one symbol per clock; with N < D the
// ring carries D − N bubbles and issues N symbols every D clocks.
//
// Tokens enter the lookup stage in lane order 0, 1, …, N − 1, 0, 1, … and the
// pipeline is in order, so symbols renormalise in exactly the decoder's
// symbol order (round by round, lanes ascending) and the word FIFO is popped
// in the order the encoder's words were laid out. A design that retired
// lanes out of order would need per-lane word streams; this one does not.
//
// A mode-3 chunk has G tables; the context unit (context-unit.ts) hands each
// issuing token its element's group, which rides with the token to the
// lookup stage(s) and completes the table address.
//
// From version 3 the lane states carry the raw plane's last H = min(16·N, n·w)
// bits (docs/FORMAT.md §Lane states). The assembler takes a field's bits
// from the raw FIFO while the stored plane lasts and zeros after it; words
// from the first element whose field reaches past the stored plane on wait
// in a tail buffer. As each lane ends, its state less 2^16 goes into a
// 16·N-bit carry register; once the last lane has ended, the tail words
// leave one per clock, each ORed with its carried bits.
//
// Stalls freeze the whole ring for a clock (one clock enable): the
// renormaliser needs a word the word FIFO lacks, the output assembler needs
// raw bits the raw FIFO lacks, or the output FIFO is full.
//
// Signal widths: x, y 32 bits; slot, bias P ≤ 15 bits; group 3 bits; freq P + 1 ≤ 16 bits;
// x >> P 32 − P ≤ 21 bits; code E + k ≤ 15 bits; word 16 bits; raw field
// w ≤ 24 bits; output word 8·width ≤ 32 bits; lane 5 bits (N ≤ 32); carry
// register 16·N ≤ 512 bits, tail buffer ⌈H/w⌉ ≤ 512 words. The
// multiply is 16 × 21 bits, inside one DSP48E2 (27 × 18) with its post-adder
// taking the bias; its result freq·(x >> P) + bias < freq·((x >> P) + 1)
// ≤ 2^P · 2^(32−P) = 2^32 fits 32 bits, so Math.imul's low 32 bits are the
// exact product and the top bits of the DSP output are provably zero.

import { LANE_STATE_BITS, laneCarriedBits } from "../chunk.js";
import { stagePlan, type CoreConfig, type StageRole } from "./config.js";
import { CONTEXT_ROW } from "../context.js";
import { ContextUnit, GroupMapRam, MapLoader } from "./context-unit.js";
import { FetchUnit } from "./fetch.js";
import { ansfH32 } from "./h32.js";
import type { ChunkJob } from "./job.js";
import type { MemoryArbiter } from "./memory.js";
import { OutputPort } from "./port.js";
import { DecodeTable, TableBuilder } from "./table.js";

const RANS_L = 0x10000;
const REGISTER_ROLES = new Set<StageRole>(["bram-reg", "dsp-mreg", "dsp-preg", "retime"]);

/** A lane token, i.e. the contents of one ring register. */
class Token {
  /** A lane occupies this register (false: a bubble). */
  valid = false;
  lane = 0;
  /** Decoding a symbol on this pass (false: the state rides along unchanged). */
  active = false;
  /** Element being decoded: the model's bookkeeping, not a hardware signal. */
  element = 0;
  x = 0;
  /** Table of this symbol, from the context unit (0 for a one-table chunk). */
  group = 0;
  slot = 0;
  freq = 0;
  bias = 0;
  sym = 0;
  y = 0;
}

export interface ChunkStats {
  core: number;
  /** Clock at which the chunk became the core's current chunk. */
  start: number;
  /** Clock of its first symbol issue, of its last renormalisation, and of its last output word. */
  firstIssue: number;
  runEnd: number;
  end: number;
  /** From start to first issue: state load, table fill not hidden, ring spin. */
  setupCycles: number;
  /** From first issue to last renormalisation, inclusive. */
  runCycles: number;
  /** After the run: clocks that emit the tail words with their carried raw bits (version 3), one word per clock. */
  tailCycles: number;
  /** Run clocks with the ring frozen, and why (one cause per clock, in this order). */
  stallCycles: number;
  stallWord: number;
  stallRaw: number;
  stallOut: number;
  /** Run clocks that issued no symbol though symbols remained: ring bubbles (N < D). */
  bubbleCycles: number;
  /** Clocks the table builder spent on this chunk (G·2^P). */
  tableFillCycles: number;
  /** Clocks the map loader spent writing a lane context's T map entries (0 otherwise), alongside the table fill. */
  mapFillCycles: number;
  /** Payload words consumed. */
  words: number;
}

export interface ChunkResult {
  job: ChunkJob;
  /** Decoded bytes, as the output port delivered them. */
  output: Uint8Array;
  /** Clock at which each element was assembled (renormalisation stage). */
  cycleOf: Float64Array;
  finalStates: Uint32Array;
  /** Integrity failures the core flags (empty for a good chunk). */
  errors: string[];
  stats: ChunkStats;
}

/** load: lane states enter the ring; spin: bubbles pass (N < D); wait: for the table; run; tail: the carried raw bits go out; drain: output FIFO empties. */
type Phase = "load" | "spin" | "wait" | "run" | "tail" | "drain";

interface Queued {
  job: ChunkJob;
  buffer: number;
  /** Tables and group map written: the chunk may run. */
  tableReady: boolean;
  tableFillCycles: number;
  mapFillCycles: number;
}

export class DecoderCore {
  private readonly depth: number;
  /** Positions and roles of the stages that compute; the others are plain registers. */
  private readonly stages: { position: number; role: StageRole }[];
  private readonly tables: DecodeTable[];
  /** One group-map RAM per table buffer, filled with it. */
  private readonly maps: GroupMapRam[];
  private readonly builder = new TableBuilder();
  private readonly mapLoader = new MapLoader();
  private readonly context = new ContextUnit();
  private building: Queued | undefined;
  private readonly queue: Queued[] = [];
  private nextBuffer = 0;

  private readonly input: FetchUnit;
  /** Word-stream bytes the loader and the renormaliser have taken. */
  private consumedWords = 0;

  // The ring.
  private ring: Token[] = [];
  private base = 0;
  private ringSize = 0;
  private phase: Phase = "load";
  private loaded = 0;
  private spinLeft = 0;
  private issued = 0;
  private retired = 0;

  private readonly output: OutputPort;

  // The current chunk.
  private job: ChunkJob | undefined;
  private table: DecodeTable | undefined;
  private decoded = new Uint8Array(0);
  private cycleOf = new Float64Array(0);
  private errors: string[] = [];
  /** Stored raw bits the assembler has yet to take; past them a field's bits come from the lane states. */
  private rawLeft = 0;
  /** The first element whose field reaches past the stored raw plane (n when none does). */
  private tailStart = 0;
  /** Tail buffer: the words of elements tailStart … n − 1, stored raw bits only, until the lanes' carried bits are known. */
  private tail = new Uint32Array(0);
  private tailSent = 0;
  /** Carry register: 16 bits per lane, the lane's final state less 2^16. */
  private carry = new Uint16Array(0);
  private stats: ChunkStats | undefined;
  private aborted = false;
  /** Clocks since anything moved: a guard against modelling bugs that would hang. */
  private idle = 0;
  busyCycles = 0;

  constructor(
    readonly id: number,
    private readonly cfg: CoreConfig,
    memory: MemoryArbiter,
  ) {
    const plan = stagePlan(cfg.depth, cfg.table);
    this.depth = plan.length;
    this.stages = plan.map((role, position) => ({ position, role })).filter((s) => !REGISTER_ROLES.has(s.role));
    this.tables = Array.from({ length: cfg.tableBuffers }, () => new DecodeTable());
    this.maps = Array.from({ length: cfg.tableBuffers }, () => new GroupMapRam());
    this.input = new FetchUnit(cfg, memory);
    this.output = new OutputPort(cfg);
  }

  /** A descriptor slot is free (one per table buffer). */
  get canAccept(): boolean {
    return this.queue.length < this.cfg.tableBuffers;
  }

  get queued(): number {
    return this.queue.length;
  }

  accept(job: ChunkJob): void {
    if (!this.canAccept) throw new Error("internal: core descriptor queue full");
    this.queue.push({ job, buffer: this.nextBuffer, tableReady: false, tableFillCycles: 0, mapFillCycles: 0 });
    this.nextBuffer = (this.nextBuffer + 1) % this.cfg.tableBuffers;
  }

  /** One clock. Returns the chunk that completed in it, if any. */
  tick(cycle: number): ChunkResult | undefined {
    if (this.queue.length === 0) return undefined;
    if (!this.job) this.begin(this.queue[0]!, cycle);
    this.busyCycles++;
    let moved = this.input.land(cycle);
    moved = this.datapath(cycle) || moved;
    moved = this.output.send() || moved;
    moved = this.buildTables() || moved;
    moved = this.input.issue(cycle) || moved;
    this.idle = moved ? 0 : this.idle + 1;
    if (this.idle > 4 * this.cfg.memLatency + 100000) throw new Error(`internal: core ${this.id} made no progress for ${this.idle} clocks`);
    if ((this.phase === "drain" && this.output.fifo.level === 0) || this.aborted) return this.finish(cycle);
    return undefined;
  }

  // ---- chunk start and end ------------------------------------------------

  private begin(q: Queued, cycle: number): void {
    const job = q.job;
    this.job = job;
    this.table = this.tables[q.buffer]!;
    this.context.start(job.context, this.maps[q.buffer]!, job.lanes);
    this.input.start(job);
    this.consumedWords = 0;
    this.ringSize = Math.max(job.lanes, this.depth);
    this.ring = Array.from({ length: this.ringSize }, () => new Token());
    this.base = 0;
    this.phase = "load";
    this.loaded = this.issued = this.retired = 0;
    this.spinLeft = this.ringSize - job.lanes;
    this.decoded = new Uint8Array(job.n * job.layout.width);
    this.cycleOf = new Float64Array(job.n);
    this.output.start(this.decoded, this.cycleOf, job.layout.width);
    this.errors = [];
    const storedBits = job.n * job.rawBits - job.carriedBits;
    this.rawLeft = storedBits;
    this.tailStart = job.carriedBits > 0 ? Math.floor(storedBits / job.rawBits) : job.n;
    this.tail = new Uint32Array(job.n - this.tailStart);
    this.tailSent = 0;
    this.carry = new Uint16Array(job.lanes);
    this.aborted = false;
    this.idle = 0;
    this.stats = {
      core: this.id, start: cycle, firstIssue: -1, runEnd: -1, end: -1,
      setupCycles: 0, runCycles: 0, tailCycles: 0, stallCycles: 0, stallWord: 0, stallRaw: 0, stallOut: 0,
      bubbleCycles: 0, tableFillCycles: 0, mapFillCycles: 0, words: 0,
    };
  }

  private finish(cycle: number): ChunkResult {
    const job = this.job!;
    const stats = this.stats!;
    const q = this.queue.shift()!;
    stats.end = cycle;
    stats.tableFillCycles = q.tableFillCycles;
    stats.mapFillCycles = q.mapFillCycles;
    if (stats.firstIssue >= 0) {
      stats.setupCycles = stats.firstIssue - stats.start;
      stats.runCycles = (stats.runEnd >= 0 ? stats.runEnd : cycle) - stats.firstIssue + 1;
    } else {
      stats.setupCycles = cycle - stats.start + 1;
    }
    const finalStates = new Uint32Array(job.lanes);
    for (const t of this.ring) if (t.valid) finalStates[t.lane] = t.x;
    if (!this.aborted) this.endChecks(job);
    const result: ChunkResult = { job, output: this.decoded, cycleOf: this.cycleOf, finalStates, errors: this.errors, stats };
    this.job = undefined;
    this.table = undefined;
    this.ring = [];
    return result;
  }

  /** The end conditions of docs/FORMAT.md, checked as the hardware would flag them. */
  private endChecks(job: ChunkJob): void {
    const wordBytes = 4 * job.lanes + job.payloadBytes;
    if (job.payloadBytes % 2 !== 0) this.errors.push(`payload of ${job.payloadBytes} bytes is not whole 16-bit words`);
    if (this.consumedWords !== wordBytes) {
      this.errors.push(`payload not fully consumed: ${wordBytes - this.consumedWords} of ${job.payloadBytes} bytes left`);
    }
    const rawBitsUsed = job.n * job.rawBits - job.carriedBits;
    const raw = this.input.raw;
    const rawTaken = 8 * (this.input.fetchedRaw - raw.level) + raw.bitOffset;
    if (rawTaken !== rawBitsUsed) this.errors.push(`raw plane: ${rawTaken} bits consumed, expected ${rawBitsUsed}`);
    const rowMap = job.context.kind === CONTEXT_ROW ? job.context.map.length : 0;
    if (this.context.taken !== rowMap) this.errors.push(`group map: ${this.context.taken} row entries taken, the stream has ${rowMap}`);
    const sum = ansfH32(this.decoded);
    if (sum !== job.checksum) {
      this.errors.push(`checksum 0x${sum.toString(16).padStart(8, "0")} differs from the stored 0x${job.checksum.toString(16).padStart(8, "0")}`);
    }
  }

  // ---- table fill --------------------------------------------------------------

  /**
   * One slot per clock into the oldest queued chunk's buffer that is not yet
   * filled and, on the group-map RAM's own port, one map entry per clock.
   */
  private buildTables(): boolean {
    if (!this.building) {
      const q = this.queue.find((c) => !c.tableReady);
      if (!q) return false;
      this.building = q;
      this.builder.begin(this.tables[q.buffer]!, q.job.tables, q.job.precision, q.job.codeBits);
      this.mapLoader.begin(this.maps[q.buffer]!, q.job.context);
    }
    const q = this.building;
    if (this.builder.busy) {
      q.tableFillCycles++;
      this.builder.step();
    }
    if (this.mapLoader.busy) {
      q.mapFillCycles++;
      this.mapLoader.step();
    }
    if (!this.builder.busy && !this.mapLoader.busy) {
      q.tableReady = true;
      this.building = undefined;
    }
    return true;
  }

  // ---- the ring ------------------------------------------------------------

  private at(position: number): Token {
    return this.ring[(this.base + position) % this.ringSize]!;
  }

  /** Clock enable: every token moves one register on; the one leaving R − 1 re-enters at 0. */
  private shift(): Token {
    this.base = this.base === 0 ? this.ringSize - 1 : this.base - 1;
    return this.ring[this.base]!;
  }

  private datapath(cycle: number): boolean {
    const job = this.job!;
    switch (this.phase) {
      case "load": {
        // The loader takes one 32-bit state per clock from the word FIFO into register 0.
        if (this.input.words.level < 4) return false;
        const t = this.shift();
        t.valid = true;
        t.active = false;
        t.lane = this.loaded;
        t.x = this.input.words.popU32();
        this.consumedWords += 4;
        if (t.x < RANS_L) this.errors.push(`lane ${t.lane} starts in state ${t.x}, below 2^16`);
        // A lane with no element at all starts in its final state.
        if (t.lane >= job.n) this.endLane(t.lane, t.x, "codes no element but starts");
        if (++this.loaded === job.lanes) this.phase = this.spinLeft > 0 ? "spin" : "wait";
        return true;
      }
      case "spin": {
        // N < D: bubbles pass until lane 0 is about to re-enter register 0.
        this.shift().active = false;
        if (--this.spinLeft === 0) this.phase = "wait";
        return true;
      }
      case "wait":
        if (!this.queue[0]!.tableReady) return false;
        this.phase = "run";
        this.stats!.firstIssue = cycle;
        return this.run(cycle);
      case "run":
        return this.run(cycle);
      case "tail":
        return this.sendTail(cycle);
      case "drain":
        return false;
    }
  }

  /** One clock of decoding. */
  private run(cycle: number): boolean {
    const job = this.job!;
    const stats = this.stats!;
    const D = this.depth;
    // The token about to enter RENORM sits in register D − 2 now; its y is final.
    const next = this.at(D - 2);
    if (next.active) {
      const needWord = next.y >>> 16 === 0;
      if (needWord && this.input.words.level < 2) {
        if (this.consumedWords + 2 > job.words.length) {
          this.errors.push(`rANS payload overrun at element ${next.element} (lane ${next.lane}, clock ${cycle})`);
          this.aborted = true;
          return false;
        }
        stats.stallCycles++;
        stats.stallWord++;
        return false;
      }
      if (Math.min(job.rawBits, this.rawLeft) > this.input.raw.bits) {
        stats.stallCycles++;
        stats.stallRaw++;
        return false;
      }
      if (this.output.fifo.full) {
        stats.stallCycles++;
        stats.stallOut++;
        return false;
      }
    }

    const issue = this.shift();
    if (issue.valid && this.issued < job.n) {
      issue.active = true;
      issue.element = this.issued++;
      if (issue.lane !== issue.element % job.lanes) throw new Error(`internal: lane ${issue.lane} issued element ${issue.element}`);
      issue.group = this.context.issue(issue.lane);
    } else {
      issue.active = false;
      if (this.issued < job.n) stats.bubbleCycles++;
    }

    const table = this.table!;
    const P = job.precision;
    const slotMask = (1 << P) - 1;
    const codeBits = job.codeBits;
    for (const stage of this.stages) {
      const t = this.at(stage.position);
      if (!t.active) continue;
      switch (stage.role) {
        case "lookup": {
          const s = (t.group << P) | (t.x & slotMask);
          t.freq = table.freq[s]!;
          t.bias = table.bias[s]!;
          t.sym = table.sym[s]!;
          break;
        }
        case "sym":
          t.slot = t.x & slotMask;
          t.sym = table.sym[(t.group << P) | t.slot]!;
          break;
        case "info": {
          const c = (t.group << codeBits) | t.sym;
          t.freq = table.infoFreq[c]!;
          t.bias = (t.slot - table.infoStart[c]!) & slotMask;
          break;
        }
        case "mul":
          t.y = (Math.imul(t.freq, t.x >>> P) + t.bias) >>> 0;
          break;
        case "renorm":
          this.renormalise(t, cycle);
          break;
        default:
          break;
      }
    }
    return true;
  }

  /**
   * A lane's final state must lie in [2^16, 2^16 + 2^b) for the b raw bits
   * it carries (b = 0: exactly 2^16); the bits go into the carry register.
   */
  private endLane(lane: number, x: number, what: string): void {
    const bits = laneCarriedBits(this.job!.carriedBits, lane);
    if (x < RANS_L || x - RANS_L >= 2 ** bits) {
      const range = bits === 0 ? "not 2^16" : `outside [2^16, 2^16 + 2^${bits})`;
      this.errors.push(`lane ${lane} ${what} in state 0x${x.toString(16)}, ${range}`);
      return;
    }
    this.carry[lane] = x - RANS_L;
  }

  /** Bits [from, from + count) of the carry register, lane j's at 16j: a bit select on hardware. */
  private carried(from: number, count: number): number {
    let v = 0;
    for (let i = 0; i < count; i++) {
      const bit = from + i;
      v |= ((this.carry[bit >>> 4]! >>> (bit & (LANE_STATE_BITS - 1))) & 1) << i;
    }
    return v;
  }

  /** Tail clock: the next tail word, ORed with the bits of its field the lanes carried. */
  private sendTail(cycle: number): boolean {
    const job = this.job!;
    if (this.output.fifo.full) return false;
    const e = this.tailStart + this.tailSent;
    const w = job.rawBits;
    const c = job.shift;
    const storedBits = job.n * w - job.carriedBits;
    const stored = Math.max(0, storedBits - e * w);
    const field = this.carried(e * w + stored - storedBits, w - stored) << stored;
    const sign = job.layout.signed ? (field >>> c) & 1 : 0;
    const value = (this.tail[this.tailSent]! | (sign << (8 * job.layout.width - 1)) | (field & ((1 << c) - 1))) >>> 0;
    this.output.fifo.push(value, e, cycle);
    this.stats!.tailCycles++;
    if (++this.tailSent === this.tail.length) this.phase = "drain";
    return true;
  }

  /** RENORM stage: state update, word pop, output assembly, end-of-lane check. */
  private renormalise(t: Token, cycle: number): void {
    const job = this.job!;
    let x = t.y;
    if (x >>> 16 === 0) {
      // y < 2^16, so y << 16 fits 32 bits.
      x = ((x << 16) | this.input.words.popU16()) >>> 0;
      this.consumedWords += 2;
      this.stats!.words++;
    }
    t.x = x;
    // Coding pair back to an element: sign << (8·width − 1) | code << c | low c bits.
    // Past the stored raw plane a field's bits are zero here; the tail adds the carried ones.
    const c = job.shift;
    const stored = Math.min(job.rawBits, this.rawLeft);
    const raw = stored > 0 ? this.input.raw.takeBits(stored) : 0;
    this.rawLeft -= stored;
    const sign = job.layout.signed ? (raw >>> c) & 1 : 0;
    const low = raw & ((1 << c) - 1);
    const value = ((sign << (8 * job.layout.width - 1)) | (t.sym << c) | low) >>> 0;
    if (t.element < this.tailStart) this.output.fifo.push(value, t.element, cycle);
    else this.tail[t.element - this.tailStart] = value;
    // A lane's last symbol must leave it in the encoder's initial state.
    if (t.element + job.lanes >= job.n) this.endLane(t.lane, x, "ends");
    if (++this.retired === job.n) {
      this.phase = this.tail.length > 0 ? "tail" : "drain";
      this.stats!.runEnd = cycle;
    }
  }
}
