// Model normalisation for the encoder's search (docs/FORMAT.md §Frequency
// model): code counts to frequencies summing to exactly 2^P, at full
// resolution or at R significant bits, and what each table costs. The
// search normalises each candidate table (every k, precision, context
// grouping and resolution it weighs), thousands of times per file; here a
// table of 54 codes normalises in 0.7 us at full resolution and 1.6 us at 3
// bits, against 1.7-2.3 and 5.1-5.5 us in the JavaScript this replaced. Its
// choices are that JavaScript's to the bit: the logarithms come from tables
// the caller fills with Math.log2's own values, and every floating-point
// operation is the same one, in the same order.

import { MAX_CODE_BITS, MAX_PRECISION } from "./rans";

/** From version 5 every model starts with a bit: 0 written frequencies, 1 shaped (assembly/shape.ts). */
export const MODEL_KIND_BITS: u32 = 1;

/** Entries of each logarithm table: every frequency and remainder up to 2^15. */
const LOG_ENTRIES: i32 = (1 << MAX_PRECISION) + 1;

// The caller's counts in, the frequencies out: u32 per present code.
const io = memory.data(8 << MAX_CODE_BITS, 16);
const FREQS: usize = 4 << MAX_CODE_BITS;
// log2(i), log2((i + 1) / i) and log2(i / (i - 1)) for i up to 2^15, f64 each.
const logs = memory.data(24 * LOG_ENTRIES, 16);
const GROW: usize = 8 * LOG_ENTRIES;
const SHRINK: usize = 16 * LOG_ENTRIES;
// The fix-up heap: code indices and their keys, a binary max-heap by key.
const heapItems = memory.data(4 << MAX_CODE_BITS, 16);
const heapKeys = memory.data(8 << MAX_CODE_BITS, 16);

/** Where the caller writes the counts to normalise, u32 each. */
export function normalizeCounts(): usize {
  return io;
}

/** Where the caller reads the frequencies, u32 each. */
export function normalizeFreqs(): usize {
  return io + FREQS;
}

/** Where the caller writes the three logarithm tables, LOG_ENTRIES f64 each, one after another. */
export function normalizeLogs(): usize {
  return logs;
}

// @ts-ignore: decorator
@inline function count(i: u32): f64 {
  return f64(load<u32>(io + (usize(i) << 2)));
}

// @ts-ignore: decorator
@inline function freq(i: u32): u32 {
  return load<u32>(io + FREQS + (usize(i) << 2));
}

// @ts-ignore: decorator
@inline function setFreq(i: u32, f: u32): void {
  store<u32>(io + FREQS + (usize(i) << 2), f);
}

// @ts-ignore: decorator
@inline function log2Of(n: u32): f64 {
  return load<f64>(logs + (usize(n) << 3));
}

// @ts-ignore: decorator
@inline function key(i: u32): f64 {
  return load<f64>(heapKeys + (usize(i) << 3));
}

/** Moves the item at i down to its place, after its key fell (or the heap is being built). */
function siftDown(n: u32, i: u32): void {
  const item = load<u32>(heapItems + (usize(i) << 2));
  const k = key(i);
  for (;;) {
    const l = (i << 1) + 1;
    if (l >= n) break;
    const m = l + 1 < n && key(l + 1) > key(l) ? l + 1 : l;
    if (key(m) <= k) break;
    store<u32>(heapItems + (usize(i) << 2), load<u32>(heapItems + (usize(m) << 2)));
    store<f64>(heapKeys + (usize(i) << 3), key(m));
    i = m;
  }
  store<u32>(heapItems + (usize(i) << 2), item);
  store<f64>(heapKeys + (usize(i) << 3), k);
}

/** Heapifies items 0..n-1, whose keys the caller stored. */
function buildHeap(n: u32): void {
  for (let i: u32 = 0; i < n; i++) store<u32>(heapItems + (usize(i) << 2), i);
  for (let i = i32(n >> 1) - 1; i >= 0; i--) siftDown(n, u32(i));
}

/** JavaScript's Math.round for x >= 0: the nearest integer, halves up. */
// @ts-ignore: decorator
@inline function roundHalfUp(x: f64): f64 {
  const r = Math.ceil(x);
  return r - 0.5 > x ? r - 1 : r;
}

/** The gain in bits of one more slot for a code of count c and frequency f, or (not `grow`) minus the loss of one fewer. */
// @ts-ignore: decorator
@inline function slotGain(c: f64, f: u32, grow: bool): f64 {
  if (grow) return c * load<f64>(logs + GROW + (usize(f) << 3));
  return f == 1 ? -Infinity : -c * load<f64>(logs + SHRINK + (usize(f) << 3));
}

/**
 * Frequencies for the `present` counts at normalizeCounts() (whose sum is
 * `total`) summing to exactly 2^precision, each at least 1, minimising the
 * coded size sum(c · log2(2^P / f)): from the rounded proportional share,
 * one slot at a time to (or from) the code that gains most (loses least),
 * kept in a heap. The caller checks 1 <= present <= 2^precision.
 */
export function normalize(present: u32, total: f64, precision: u32): void {
  const slots = u32(1) << precision;
  let sum: u32 = 0;
  for (let i: u32 = 0; i < present; i++) {
    const f = u32(Math.max(1, roundHalfUp((count(i) * f64(slots)) / total)));
    setFreq(i, f);
    sum += f;
  }
  if (sum == slots) return;
  const grow = sum < slots;
  for (let i: u32 = 0; i < present; i++) store<f64>(heapKeys + (usize(i) << 3), slotGain(count(i), freq(i), grow));
  buildHeap(present);
  while (sum != slots) {
    const top = load<u32>(heapItems);
    const f = grow ? freq(top) + 1 : freq(top) - 1;
    setFreq(top, f);
    sum = grow ? sum + 1 : sum - 1;
    store<f64>(heapKeys, slotGain(count(top), f, grow));
    siftDown(present, 0);
  }
}

/** Bits a frequency of bit length L writes below its leading one at `resolution` significant bits (0: all); src/model.ts keptBits. */
// @ts-ignore: decorator
@inline export function keptBits(length: u32, resolution: u32): u32 {
  return resolution == 0 ? length : min(length, resolution - 1);
}

/** Bits that name one of `present` codes, the implied one's index: ceil(log2 present); src/model.ts indexBits. */
// @ts-ignore: decorator
@inline export function indexBits(present: u32): u32 {
  return present > 1 ? 32 - clz(present - 1) : 0;
}

/** The largest frequency of at most `resolution` significant bits not above f (f >= 1). */
function floorTo(f: u32, resolution: u32): u32 {
  const length = 31 - clz(f);
  const dropped = length - keptBits(length, resolution);
  return (f >> dropped) << dropped;
}

/** The next frequency above f (itself of `resolution` bits) that has at most `resolution` significant bits. */
function above(f: u32, resolution: u32): u32 {
  const length = 31 - clz(f);
  return f + (u32(1) << (length - keptBits(length, resolution)));
}

/** Minus the bits code i loses per slot it frees by falling to the next frequency of `resolution` bits. */
function lossPerSlot(i: u32, residual: u32, resolution: u32): f64 {
  const f = freq(i);
  if (i == residual || f == 1) return -Infinity;
  const down = floorTo(f - 1, resolution);
  return (-count(i) * (log2Of(f) - log2Of(down))) / f64(f - down);
}

/**
 * Frequencies for the `present` counts at normalizeCounts() (summing to
 * `total`) summing to exactly 2^precision, each at least 1 and, but for
 * the residual's, of at most `resolution` significant bits (src/model.ts
 * modelTable says how they are chosen). The caller checks 1 <= present <= 2^precision.
 * Returns the residual: the index of the first largest count.
 */
export function normalizeResolved(present: u32, total: f64, precision: u32, resolution: u32): u32 {
  const slots = u32(1) << precision;
  const residual = largestCount(present);
  let others: u32 = 0;
  for (let i: u32 = 0; i < present; i++) {
    if (i == residual) continue;
    const share = Math.max(1, (count(i) * f64(slots)) / total);
    const low = floorTo(u32(Math.floor(share)), resolution);
    const high = f64(low) == share ? low : above(low, resolution);
    const f = share * share <= f64(low) * f64(high) ? low : high;
    setFreq(i, f);
    others += f;
  }
  // Rare codes rounded up to a whole slot can leave the residual nothing: lower whichever code loses least per slot it frees.
  if (others >= slots) {
    for (let i: u32 = 0; i < present; i++) store<f64>(heapKeys + (usize(i) << 3), lossPerSlot(i, residual, resolution));
    buildHeap(present);
    while (others >= slots) {
      const i = load<u32>(heapItems);
      const down = floorTo(freq(i) - 1, resolution);
      others -= freq(i) - down;
      setFreq(i, down);
      store<f64>(heapKeys, lossPerSlot(i, residual, resolution));
      siftDown(present, 0);
    }
  }
  // Moving code i from f to g takes g − f slots from the residual: it pays when
  // c_i · log2(g / f) + c_residual · log2(rest' / rest) > 0.
  // Signed: a step up may want more slots than the residual has.
  const cr = count(residual);
  let rest = i32(slots - others);
  let restLog = log2Of(u32(rest));
  let moved = true;
  for (let pass = 0; moved && pass < 2; pass++) {
    moved = false;
    for (let i: u32 = 0; i < present; i++) {
      if (i == residual) continue;
      const c = count(i);
      const f = freq(i);
      const logF = log2Of(f);
      const up = above(f, resolution);
      const upRest = rest - i32(up - f);
      const upGain = upRest >= 1 ? c * (log2Of(up) - logF) + cr * (log2Of(u32(upRest)) - restLog) : -Infinity;
      const down = f > 1 ? floorTo(f - 1, resolution) : 0;
      const downGain = down >= 1 ? c * (log2Of(down) - logF) + cr * (log2Of(u32(rest) + (f - down)) - restLog) : -Infinity;
      if (Math.max(upGain, downGain) <= 1e-9) continue;
      const to = upGain >= downGain ? up : down;
      rest -= i32(to) - i32(f);
      restLog = log2Of(u32(rest));
      setFreq(i, to);
      moved = true;
    }
  }
  setFreq(residual, u32(rest));
  return residual;
}

// What a normalised table costs, for the search to weigh candidates without
// copying them out: the payload its counts take and the bits its model is
// written in (src/model.ts serializeModel), from the counts, frequencies and
// (written by the caller beside the counts) symbols of the last table
// normalised. The payload sums in code order with the caller's logarithms,
// as JavaScript did, so that the search's choices stay the same to the bit.

// The present codes, ascending, u32 each.
const symbols = memory.data(4 << MAX_CODE_BITS, 16);

/** Where the caller writes the present codes, u32 each. */
export function normalizeSymbols(): usize {
  return symbols;
}

/** The index of the first largest count: the residual of a model at limited resolution. */
export function largestCount(present: u32): u32 {
  let at: u32 = 0;
  for (let i: u32 = 1; i < present; i++) if (count(i) > count(at)) at = i;
  return at;
}

/** The index of the first largest frequency: the code a full-resolution model implies. */
export function largestFreq(present: u32): u32 {
  let at: u32 = 0;
  for (let i: u32 = 1; i < present; i++) if (freq(i) > freq(at)) at = i;
  return at;
}

/** Bits the rANS payload takes for the counts under the frequencies: sum of c · (P − log2 f), in code order. */
export function payloadBits(present: u32, precision: u32): f64 {
  const P = f64(precision);
  let bits: f64 = 0;
  for (let i: u32 = 0; i < present; i++) bits += count(i) * (P - log2Of(freq(i)));
  return bits;
}

// @ts-ignore: decorator
@inline export function gammaBits(v: u32): u32 {
  return 2 * (31 - clz(v)) + 1;
}

// @ts-ignore: decorator
@inline export function zigzag(d: i32): u32 {
  return d >= 0 ? u32(d) << 1 : (u32(-d) << 1) - 1;
}

/** The i-th present code (normalizeSymbols). */
// @ts-ignore: decorator
@inline export function symbol(i: i32): i32 {
  return load<i32>(symbols + (usize(i) << 2));
}

/** Bits the symbol set of the table takes as serializeModel writes it: the runs of present codes from the top. */
export function symbolSetBits(present: u32, alphabet: u32): u32 {
  const last = i32(present) - 1;
  let runs: u32 = 0;
  for (let i: i32 = 0; i <= last; i++) if (i == 0 || symbol(i) != symbol(i - 1) + 1) runs++;
  let bits = gammaBits(runs) + gammaBits(zigzag(symbol(last) + 1 - i32(alphabet >> 1)) + 1);
  let floor: i32 = -1;
  for (let i = last; i >= 0; ) {
    const end = symbol(i) + 1;
    let length: i32 = 1;
    while (i - length >= 0 && symbol(i - length) == end - 1 - length) length++;
    if (floor >= 0) bits += gammaBits(u32(floor - end));
    bits += gammaBits(u32(length));
    floor = end - length;
    i -= length;
  }
  return bits;
}

/**
 * Bits the model of the table takes as serializeModel writes it, with
 * `residual` the implied code: its kind, the symbol set, the residual's
 * index, and each other frequency's bit length (a zigzag delta, gamma coded)
 * and kept bits at `resolution` (0: all).
 */
export function modelBits(present: u32, alphabet: u32, residual: u32, resolution: u32): u32 {
  let bits = MODEL_KIND_BITS + symbolSetBits(present, alphabet) + indexBits(present);
  let previous: i32 = 0;
  for (let i: u32 = 0; i < present; i++) {
    if (i == residual) continue;
    const length = i32(31 - clz(freq(i)));
    bits += gammaBits(zigzag(length - previous) + 1) + keptBits(u32(length), resolution);
    previous = length;
  }
  return bits;
}
