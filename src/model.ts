// The frequency model of a chunk: code counts normalised to a power-of-two
// total, its exact coding cost, and its compact serialised form.

import { BitReader, BitWriter } from "./bytes.js";
import { AnsfError } from "./errors.js";
import { FRESH, type ArrayRoom } from "./scratch.js";
import type { Core } from "./wasm.js";

/**
 * Code counts, sparse: the codes present (ascending) and their counts.
 * Models are built per candidate k, and with k = 4 the alphabet has 4096
 * codes of which typically a few hundred occur, so everything before the
 * final table works on the present codes only.
 */
export interface Histogram {
  alphabet: number;
  symbols: Uint32Array;
  counts: Uint32Array;
  total: number;
}

/**
 * log2 of the integers below 2^16, read from a table built on first use:
 * Math.log2 costs about 15 ns a call and the encoder makes it per present
 * code, per candidate coding, per chunk. The table holds Math.log2's own
 * values, so no choice changes.
 */
const TABLE_SIZE = 1 << 16;
let log2Table: Float64Array | undefined;

function logTable(): Float64Array {
  if (log2Table) return log2Table;
  log2Table = new Float64Array(TABLE_SIZE);
  for (let i = 1; i < TABLE_SIZE; i++) log2Table[i] = Math.log2(i);
  return log2Table;
}

/** Math.log2(n) for a positive integer n. */
export function log2Of(n: number): number {
  return n < TABLE_SIZE ? logTable()[n]! : Math.log2(n);
}

/**
 * Copies of the counts the Wasm histograms spread n elements over (see
 * countKeys in assembly/split.ts): 4 from 2^16 elements, 1 below, where
 * clearing and adding up the copies costs more than it saves.
 */
export function countWays(n: number): 1 | 4 {
  return n >= 1 << 16 ? 4 : 1;
}

/**
 * The counts of the codes (v >> shift) & (2^bits - 1) of n elements of
 * `width` bytes at `src`, by the Wasm histogram: the address of 2^bits u32
 * counts in the core's memory (room for countWays(n) copies behind them).
 */
export function countCodes(core: Core, width: number, src: number, n: number, shift: number, bits: number): number {
  const ways = countWays(n);
  const counts = core.alloc((4 * ways) << bits);
  core.fn.histogram(width, src, n, shift, bits, counts, ways);
  return counts;
}

/** The sparse form of dense counts. */
export function sparse(dense: ArrayLike<number>, room: ArrayRoom = FRESH): Histogram {
  let present = 0;
  for (let s = 0; s < dense.length; s++) if (dense[s] !== 0) present++;
  const symbols = room.u32(present);
  const counts = room.u32(present);
  let total = 0;
  for (let s = 0, i = 0; i < present; s++) {
    const c = dense[s]!;
    if (c === 0) continue;
    symbols[i] = s;
    counts[i] = c;
    // Summed from the u32 copy, not from `dense` (doubles when it is a Float64Array), so that the total is a small integer to the JIT too.
    total += counts[i++]!;
  }
  return { alphabet: dense.length, symbols, counts, total };
}

/** The sparse form of `size` dense u32 counts at `counts` in the core's memory, compacted there; its arrays are the core's scratch. */
export function sparseAt(core: Core, counts: number, size: number): Histogram {
  const symbolsPtr = core.alloc(4 * size);
  const countsPtr = core.alloc(4 * size);
  const present = core.fn.compactCounts(counts, size, symbolsPtr, countsPtr);
  const buffer = core.fn.memory.buffer;
  const symbols = core.scratch.u32(present);
  symbols.set(new Uint32Array(buffer, symbolsPtr, present));
  const found = core.scratch.u32(present);
  found.set(new Uint32Array(buffer, countsPtr, present));
  let total = 0;
  for (let i = 0; i < present; i++) total += found[i]!;
  return { alphabet: size, symbols, counts: found, total };
}

/** The histogram of codes >> shift: dropping the lowest bits of each code. */
export function coarsen(h: Histogram, shift: number, room: ArrayRoom = FRESH): Histogram {
  if (shift === 0) return h;
  let present = 0;
  for (let i = 0, last = -1; i < h.symbols.length; i++) {
    const s = h.symbols[i]! >>> shift;
    if (s !== last) present++;
    last = s;
  }
  const symbols = room.u32(present);
  const counts = room.u32(present);
  for (let i = 0, j = -1; i < h.symbols.length; i++) {
    const s = h.symbols[i]! >>> shift;
    if (j < 0 || symbols[j] !== s) symbols[++j] = s;
    counts[j]! += h.counts[i]!;
  }
  return { alphabet: h.alphabet >>> shift, symbols, counts, total: h.total };
}

/** The counts of several histograms over one alphabet, added. */
export function sumHistograms(parts: readonly Histogram[], room: ArrayRoom = FRESH): Histogram {
  // Dense over the span of codes present only: k = 7 alphabets have 2^15 codes, of which a few hundred occur.
  const present = parts.filter((h) => h.symbols.length > 0);
  const low = Math.min(...present.map((h) => h.symbols[0]!));
  const high = Math.max(...present.map((h) => h.symbols[h.symbols.length - 1]! + 1));
  const span = room.f64(Math.max(0, high - low));
  for (const h of present) h.symbols.forEach((s, i) => (span[s - low]! += h.counts[i]!));
  const sum = sparse(span, room);
  for (let i = 0; i < sum.symbols.length; i++) sum.symbols[i]! += low;
  return { alphabet: parts[0]!.alphabet, symbols: sum.symbols, counts: sum.counts, total: sum.total };
}

/** The counts at every k from 0 to maxK (index k) from those at maxK, each coarsened from the next. */
export function coarsenings(finest: Histogram, maxK: number, room: ArrayRoom = FRESH): Histogram[] {
  const ladder: Histogram[] = [];
  ladder[maxK] = finest;
  for (let k = maxK - 1; k >= 0; k--) ladder[k] = coarsen(ladder[k + 1]!, 1, room);
  return ladder;
}

/** Logarithms the Wasm normaliser reads (assembly/normalize.ts): every frequency and remainder up to 2^15. */
const NORMALIZER_LOGS = (1 << 15) + 1;
/** The most codes a table has (2^15): the size of the normaliser's regions for counts, codes and frequencies. */
const NORMALIZER_CODES = 1 << 15;

/**
 * A core's normaliser with views of its regions for counts, codes and
 * frequencies, made once: for a table of a few dozen codes, making views and fetching
 * addresses at every call cost more than the normalising.
 */
class Normalizer {
  private counts!: Uint32Array;
  private symbols!: Uint32Array;
  private freqs!: Uint32Array;

  constructor(readonly fn: Core["fn"]) {
    const logs = new Float64Array(fn.memory.buffer, fn.normalizeLogs(), 3 * NORMALIZER_LOGS);
    // Math.log2's own values, so that the Wasm normaliser chooses as JavaScript arithmetic would.
    for (let i = 1; i < NORMALIZER_LOGS; i++) {
      logs[i] = log2Of(i);
      logs[NORMALIZER_LOGS + i] = Math.log2((i + 1) / i);
      logs[2 * NORMALIZER_LOGS + i] = Math.log2(i / (i - 1));
    }
    this.view();
  }

  /** (Re)makes the views: growing the memory detaches the old ones (their length falls to 0). */
  private view(): void {
    this.counts = new Uint32Array(this.fn.memory.buffer, this.fn.normalizeCounts(), NORMALIZER_CODES);
    this.symbols = new Uint32Array(this.fn.memory.buffer, this.fn.normalizeSymbols(), NORMALIZER_CODES);
    this.freqs = new Uint32Array(this.fn.memory.buffer, this.fn.normalizeFreqs(), NORMALIZER_CODES);
  }

  /** Hands h's counts and codes to the normaliser. */
  countsOf(h: Histogram): Core["fn"] {
    if (this.counts.length === 0) this.view();
    this.counts.set(h.counts);
    this.symbols.set(h.symbols);
    return this.fn;
  }

  /** The `present` frequencies the normaliser left, in an array from `room`. */
  freqsOut(present: number, room: ArrayRoom): Uint32Array {
    const out = room.u32(present);
    for (let i = 0; i < present; i++) out[i] = this.freqs[i]!;
    return out;
  }
}

const normalizers = new WeakMap<Core, Normalizer>();

/** The core's normaliser (assembly/normalize.ts), its logarithm tables filled on first use. */
function normalizerOf(core: Core): Normalizer {
  let n = normalizers.get(core);
  if (!n) normalizers.set(core, (n = new Normalizer(core.fn)));
  return n;
}

/**
 * The counts' table at this precision and resolution, normalised by the
 * core's normaliser (assembly/normalize.ts), with what it costs; its
 * frequencies in an array from `room`. Null when more codes are present
 * than slots.
 *  - Full resolution: frequencies summing to exactly 2^P, each at least 1,
 *    minimising the coded size sum(c · log2(2^P / f)); the first largest is
 *    the residual, which saves most bits when every bit is written.
 *  - R significant bits: every frequency but the residual's (the most
 *    frequent code, where the others' rounding costs least per slot) of at
 *    most R significant bits, near that least size. Each starts at the
 *    representable value nearest (in ratio) its proportional share; where
 *    rare codes rounded up to a whole slot leave the residual nothing, the
 *    codes that lose least per slot freed step down; then two passes move
 *    single frequencies one representable step, against the residual, where
 *    that shortens the payload (more passes moved almost nothing on the
 *    real files).
 */
export function modelTable(core: Core, h: Histogram, precision: number, resolution: number, room: ArrayRoom = FRESH): ModelTable | null {
  const present = h.counts.length;
  if (present === 0 || present > 1 << precision) return null;
  const normalizer = normalizerOf(core);
  const fn = normalizer.countsOf(h);
  let residual: number;
  if (resolution === FULL_RESOLUTION) {
    fn.normalize(present, h.total, precision);
    residual = fn.largestFreq(present);
  } else {
    residual = fn.normalizeResolved(present, h.total, precision, resolution);
  }
  return {
    counts: h,
    freqs: normalizer.freqsOut(present, room),
    residual,
    shape: undefined,
    payloadBits: fn.payloadBits(present, precision),
    modelBits: fn.modelBits(present, h.alphabet, residual, resolution),
  };
}

/**
 * The counts' shaped table at this precision (docs/FORMAT.md §Shaped
 * model): the shape the core's fit finds smallest (assembly/shape.ts),
 * searched near `from` when given, its frequencies in an array from `room`.
 * Null when no shape makes a table, or none could take fewer than `limit`
 * bits, payload and model.
 * The codes are exponent fields with `k` mantissa bits below them.
 */
export function shapedTable(core: Core, h: Histogram, k: number, precision: number, from: Shape | undefined, limit: number, room: ArrayRoom = FRESH): ModelTable | null {
  const present = h.counts.length;
  if (present === 0 || present > 1 << precision) return null;
  const normalizer = normalizerOf(core);
  const fn = normalizer.countsOf(h);
  // No shape's table is smaller than the entropy of the counts and the least its model can take.
  if (entropyBits(h) + fn.symbolSetBits(present, h.alphabet) + SHAPE_LEAST_BITS >= limit) return null;
  // From scratch the fit starts with steps of 8 (half an exponent in scale, 0.5 in β); from a shape, of 1.
  const bits = from ? fn.shapeFit(present, h.alphabet, k, precision, from.beta, from.scale, 1) : fn.shapeFit(present, h.alphabet, k, precision, -1, 0, 8);
  if (bits === Infinity) return null;
  const scale = fn.shapeScale();
  return {
    counts: h,
    freqs: normalizer.freqsOut(present, room),
    residual: -1,
    shape: { beta: fn.shapeBeta(), scale, scaleOffset: scale - fn.shapeScaleBase(present) },
    payloadBits: fn.payloadBits(present, precision),
    modelBits: fn.shapeModelBits(present, h.alphabet, scale),
  };
}

/** Order-0 entropy of the counts in bits (the ideal a model could reach). */
export function entropyBits(h: Histogram): number {
  let cLogC = 0;
  for (let i = 0; i < h.counts.length; i++) cLogC += h.counts[i]! * log2Of(h.counts[i]!);
  return h.total * log2Of(h.total) - cLogC;
}

/**
 * How a model's frequencies are written, as kp bit 7 says (versions 1 to 3
 * write the symbol set alike): MODEL_GAMMA, gamma(freq) per present code,
 * in version-1 streams; MODEL_LOG, log-delta with the last code's frequency
 * implied (versions 2 and 3). Version 4 sets the bit (MODEL_LOG) and writes
 * log-delta at a chunk's resolution, any code implied (serializeModel; read
 * by the Wasm core, header-bits.ts).
 */
export const MODEL_GAMMA = 0;
export const MODEL_LOG = 1;

/** A shaped model's two numbers: β = (beta + 1) / 16, and log2 s in 1/16 units, written less shapeScaleBase (scaleOffset). */
export interface Shape {
  beta: number;
  scale: number;
  scaleOffset: number;
}

/** A table as written: its counts' present codes, their frequencies and which one is implied, and what it costs. */
export interface ModelTable {
  counts: Histogram;
  freqs: Uint32Array;
  /** Index (into counts.symbols) of the code whose frequency is what the others leave of 2^P; -1 in a shaped table. */
  residual: number;
  /** The shape a shaped table's frequencies come from; undefined where they are written. */
  shape: Shape | undefined;
  /** Bits the rANS payload takes for the counts under these frequencies (ideal, exact to rounding). */
  payloadBits: number;
  /** Bits the model takes as writeModels writes it at the table's resolution. */
  modelBits: number;
}

// Frequencies of limited resolution (docs/FORMAT.md §Frequency model,
// version 4). A model with R significant bits per frequency writes at most
// R − 1 bits below each leading one, and one code, the residual, takes what
// the others leave of 2^P. Counts known from a few thousand elements do not
// deserve every bit of their frequencies: on stories260K's 64- to 4096-element
// tensors, 1 to 3 significant bits cost less payload than the bits they save.

/** The resolution that writes every bit of every frequency (versions 1–3 alike). */
export const FULL_RESOLUTION = 0;
/** The largest resolution a chunk can name (4 bits in its lanes byte). */
export const MAX_RESOLUTION = 15;

/** Bits a frequency of bit length L (floor(log2 f)) writes below its leading one at a resolution of that many significant bits. */
export function keptBits(length: number, resolution: number): number {
  return resolution === FULL_RESOLUTION ? length : Math.min(length, resolution - 1);
}

/** The kind bit of a version-5 model: frequencies written, or computed from a shape. */
const MODEL_WRITTEN = 0;
const MODEL_SHAPED = 1;
/** Bits of a shaped model's β field. */
const SHAPE_BETA_BITS = 6;
/** The least a shaped model takes beside its symbol set: kind, β and a one-bit scale offset. */
const SHAPE_LEAST_BITS = 1 + SHAPE_BETA_BITS + 1;

/** Zigzag: 0, -1, 1, -2, … as 0, 1, 2, 3, … */
function zigzag(d: number): number {
  return d >= 0 ? 2 * d : -2 * d - 1;
}

/** Bits that name one of `present` codes: ceil(log2 present). */
function indexBits(present: number): number {
  return present > 1 ? 32 - Math.clz32(present - 1) : 0;
}

/**
 * Serialised model: the symbol set as runs of present codes, from the
 * highest down: gamma(runs), gamma(zigzag(top - alphabet / 2) + 1) where top
 * is one past the highest present code, then per run gamma(gap) (absent
 * codes above it; none before the first) and gamma(length). Exponent
 * histograms are a long run and a few rare codes below it, and weights lie
 * mostly just below 1.0 (the middle exponent), so the top costs a few bits
 * where the lowest code from 0 took 15 to 17. Then the residual's index
 * among the present codes, and the frequencies of the others: for each, its
 * bit length L = floor(log2 f) as gamma(zigzag(L - previous L) + 1) and the
 * keptBits(L, resolution) bits below its leading one. Neighbouring codes of
 * a smooth distribution have frequencies of similar size, so the lengths
 * cost 1 to 3 bits; about a third less than gamma(f) on trained weights'
 * exponents. The search counts these bits without writing them: modelBits
 * in assembly/normalize.ts, which a test holds to this writer. From version
 * 5 a bit first says which kind the model is; a shaped one writes, after
 * the symbol set, β and the scale instead (docs/FORMAT.md §Shaped model;
 * shapeModelBits in assembly/shape.ts counts it).
 */
function serializeModel(t: ModelTable, resolution: number, w: BitWriter): void {
  const { symbols, alphabet } = t.counts;
  w.bits(t.shape ? MODEL_SHAPED : MODEL_WRITTEN, 1);
  let runs = 0;
  for (let i = 0; i < symbols.length; i++) if (i === 0 || symbols[i]! !== symbols[i - 1]! + 1) runs++;
  w.gamma(runs);
  w.gamma(zigzag(symbols[symbols.length - 1]! + 1 - alphabet / 2) + 1);
  // The lowest code of the run above, once there is one.
  let floor = -1;
  for (let i = symbols.length - 1; i >= 0; ) {
    const end = symbols[i]! + 1;
    let length = 1;
    while (i - length >= 0 && symbols[i - length] === end - 1 - length) length++;
    if (floor >= 0) w.gamma(floor - end);
    w.gamma(length);
    floor = end - length;
    i -= length;
  }
  if (t.shape) {
    w.bits(t.shape.beta, SHAPE_BETA_BITS);
    w.gamma(zigzag(t.shape.scaleOffset) + 1);
    return;
  }
  w.bits(t.residual, indexBits(symbols.length));
  let previous = 0;
  for (let i = 0; i < t.freqs.length; i++) {
    if (i === t.residual) continue;
    const f = t.freqs[i]!;
    const length = 31 - Math.clz32(f);
    const kept = keptBits(length, resolution);
    w.gamma(zigzag(length - previous) + 1);
    w.bits(f >>> (length - kept), kept);
    previous = length;
  }
}

/** Writes a chunk's models one after another into its bitstream. */
export function writeModels(w: BitWriter, tables: readonly ModelTable[], resolution: number): void {
  for (const t of tables) serializeModel(t, resolution, w);
}

/** A malformed frequency model. */
function modelError(why: string): AnsfError {
  return new AnsfError("CORRUPT_STREAM", `frequency model: ${why}`);
}

/** The present codes, ascending: the symbol set of a version 1 to 3 model, runs from code 0 up. */
function readBottomUp(r: BitReader, alphabet: number): number[] {
  const runCount = r.gamma(17);
  if (runCount > alphabet) throw modelError(`${runCount} runs in an alphabet of ${alphabet}`);
  const present: number[] = [];
  let next = 0;
  for (let i = 0; i < runCount; i++) {
    const start = next + r.gamma(17) - 1;
    const length = r.gamma(17);
    if (start + length > alphabet) throw modelError(`run [${start}, ${start + length}) outside the alphabet of ${alphabet}`);
    for (let s = start; s < start + length; s++) present.push(s);
    next = start + length;
  }
  return present;
}

/**
 * Reads one model of a version 1 to 3 chunk (`scheme` MODEL_GAMMA or
 * MODEL_LOG) from `r`, validated: every code inside the alphabet, every
 * frequency at least 1, total exactly 2^P. Fills `freqs` (alphabet zeros).
 */
export function readModel(r: BitReader, alphabet: number, precision: number, scheme: number, freqs: Uint32Array): Uint32Array {
  const present = readBottomUp(r, alphabet);
  const total = 1 << precision;
  let sum = 0;
  let previous = 0;
  for (let i = 0; i < present.length; i++) {
    const last = i === present.length - 1;
    let f: number;
    if (scheme === MODEL_GAMMA) f = r.gamma(17);
    else if (last) f = total - sum;
    else {
      const z = r.gamma(6) - 1;
      const length = previous + (z & 1 ? -(z + 1) / 2 : z / 2);
      if (length < 0 || length > precision) throw modelError(`a frequency of ${length + 1} bits at precision ${precision}`);
      f = (1 << length) | r.bits(length);
      previous = length;
    }
    sum += f;
    if (f < 1 || sum > total) throw modelError(`frequencies exceed 2^${precision}`);
    freqs[present[i]!] = f;
  }
  if (sum !== total) throw modelError(`frequencies sum to ${sum}, not 2^${precision}`);
  return freqs;
}
