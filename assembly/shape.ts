// Shaped frequency models (docs/FORMAT.md §Shaped model): a table's
// frequencies computed from a shape and a scale instead of written one by
// one. A small tensor's code counts are the true distribution plus sampling
// noise, and a written model pays to describe that noise: about 26 bytes for
// the 55 codes of an 11,008-weight table. Trained weights' magnitudes follow
// a generalised Gaussian closely enough that two numbers describe them within
// a few bytes of payload.
//
// Code c (exponent e = c >> k, then k mantissa bits m) stands for the
// magnitudes of one bucket; the model gives it
//   q(c) ∝ width(c) · exp(-(mid(c) / s)^β)
// at the bucket's midpoint. Everything is integer arithmetic, so that any
// decoder computes the same frequencies: logarithms (Q16) by repeated
// squaring and powers of two (Q31) from the constants below, each product
// truncated.
//
// The tables live in the normaliser's regions (assembly/normalize.ts): its
// present codes in, its frequencies out, and its counts for the encoder's
// fit. The header reader and the encoder's search never run at once.

import { gammaBits, largestCount, largestFreq, MODEL_KIND_BITS, normalizeFreqs, payloadBits, symbol, symbolSetBits, zigzag } from "./normalize";
import { MAX_CODE_BITS } from "./rans";

/** β = (b + 1) / 16 with b in 6 bits. */
export const SHAPE_BETA_BITS: u32 = 6;
/** log2(e) in Q31, rounded. */
const LOG2E: u64 = 3098164009;
/** The largest exp term kept (Q16): beyond it a code's share is far below one slot anyway. */
const G_MAX: i64 = 1 << 30;

// round(2^(2^-i) · 2^31) for i = 1 … 16.
const EXP2_STEPS = memory.data<u32>([
  3037000500, 2553802834, 2341847524, 2242560872, 2194507417, 2170868212, 2159144272, 2153306067,
  2150392887, 2148937775, 2148210589, 2147847087, 2147665360, 2147574502, 2147529075, 2147506361,
]);

// Each present code's log2 midpoint (Q16, i32), in the normaliser's code order.
const positions = memory.data(4 << MAX_CODE_BITS, 16);

/** log2(v) in Q16 for 1 ≤ v < 2^31: the integer part, then 16 fraction bits by squaring a Q31 mantissa (each square truncated). */
function log2Q16(v: u32): i32 {
  const whole = 31 - clz(v);
  let y = u64(v) << (31 - whole);
  let fraction: u32 = 0;
  for (let i: u32 = 0; i < 16; i++) {
    y = (y * y) >> 31;
    if (y >= u64(1) << 32) {
      y >>= 1;
      fraction |= u32(1) << (15 - i);
    }
  }
  return (i32(whole) << 16) | i32(fraction);
}

/** 2^(f / 2^16) in Q31, for 0 ≤ f < 2^16, bit by bit: one constant per set bit of f, most significant first, each product truncated. */
function exp2Bits(f: u32): u64 {
  let y: u64 = u64(1) << 31;
  for (let i: u32 = 0; i < 16; i++) {
    if (f & (u32(0x8000) >> i)) y = (y * u64(load<u32>(EXP2_STEPS + (usize(i) << 2)))) >> 31;
  }
  return y;
}

// exp2Bits of the high and of the low byte of f: 2^(i/256) and 2^(j/65536), Q31.
const exp2High = memory.data(4 << 8, 16);
const exp2Low = memory.data(4 << 8, 16);

// log2Q16(2j + 1) for j below 2^(MAX_K + 1): every midpoint's odd factor at up to MAX_K mantissa bits (fp16's 10).
const MAX_K: u32 = 10;
const oddLogs = memory.data(4 << (MAX_K + 1), 16);

/** Fills the tables exp2Q31 and shapePositions read. */
export function initShapeTables(): void {
  for (let i: u32 = 0; i < 256; i++) {
    store<u32>(exp2High + (usize(i) << 2), u32(exp2Bits(i << 8)));
    store<u32>(exp2Low + (usize(i) << 2), u32(exp2Bits(i)));
  }
  for (let j: u32 = 0; j < u32(1) << (MAX_K + 1); j++) store<i32>(oddLogs + (usize(j) << 2), log2Q16(2 * j + 1));
}

/** 2^(f / 2^16) in Q31, for 0 ≤ f < 2^16: the product of its high and low bytes' powers (exp2Bits), truncated. */
// @ts-ignore: decorator
@inline function exp2Q31(f: u32): u64 {
  return (u64(load<u32>(exp2High + (usize(f >> 8) << 2))) * u64(load<u32>(exp2Low + (usize(f & 0xff) << 2)))) >> 31;
}

// @ts-ignore: decorator
@inline function position(i: u32): i32 {
  return load<i32>(positions + (usize(i) << 2));
}

/**
 * Each of the `present` codes (normalizeSymbols) at `k` mantissa bits:
 * log2 of its bucket's midpoint (2m + 1 + 2^(k+1) [e > 0]) · 2^(max(e, 1) − 2 − k),
 * Q16, in units where exponent field e ≥ 1 spans [2^(e−1), 2^e).
 */
export function shapePositions(present: u32, k: u32): void {
  for (let i: u32 = 0; i < present; i++) {
    const c = u32(symbol(i32(i)));
    const e = c >> k;
    // The odd factor 2j + 1 of the midpoint: j = m, and 2^k more above exponent field 0.
    const j = (c & ((u32(1) << k) - 1)) + (e > 0 ? u32(1) << k : 0);
    const log = k <= MAX_K ? load<i32>(oddLogs + (usize(j) << 2)) : log2Q16(2 * j + 1);
    store<i32>(positions + (usize(i) << 2), log + ((i32(max(e, 1)) - 2 - i32(k)) << 16));
  }
}

/** The scale a model writes relative to: its highest code's position, in 1/16 units, less two exponents. */
export function shapeScaleBase(present: u32): i32 {
  return (position(present - 1) >> 12) - 32;
}

/** log2(e) · 2^(t / 2^16) in Q16, at most G_MAX. */
function expTerm(t: i64): i64 {
  const whole = i32(t >> 16);
  if (whole >= 14) return G_MAX;
  const shift = 15 - whole;
  if (shift >= 40) return 0;
  const y = (exp2Q31(u32(t & 0xffff)) * LOG2E) >> 31;
  return min(i64(y >> u64(shift)), G_MAX);
}

/**
 * The frequencies (normalizeFreqs) of the `present` codes, their positions
 * from shapePositions, for β = (beta + 1) / 16 and log2 s = scale / 16, at
 * precision P: each code's share 2^(z − max z) (Q16, 0 below 2^-16) with
 * z = max(e, 1) − log2(e) · 2^(β (position − log2 s)) (Q16), rounded to
 * slots, at least 1; the first largest takes what the others leave of 2^P.
 * False when that is less than 1.
 */
export function shapeFreqs(present: u32, k: u32, precision: u32, beta: u32, scale: i32): bool {
  const freqs = normalizeFreqs();
  const b = i64(beta + 1);
  const s = i64(scale) << 12;
  let top: i32 = i32.MIN_VALUE;
  for (let i: u32 = 0; i < present; i++) {
    const e = max(u32(symbol(i32(i))) >> k, 1);
    const z = i32((i64(e) << 16) - expTerm((b * (i64(position(i)) - s)) >> 4));
    store<i32>(freqs + (usize(i) << 2), z);
    top = max(top, z);
  }
  let shares: u32 = 0;
  for (let i: u32 = 0; i < present; i++) {
    const r = i64(load<i32>(freqs + (usize(i) << 2))) - i64(top);
    const q = r < -(i64(16) << 16) ? 0 : u32(exp2Q31(u32(r & 0xffff)) >> u64(15 - (r >> 16)));
    store<u32>(freqs + (usize(i) << 2), q);
    shares += q;
  }
  // Below 2^31 (2^15 codes of at most 2^16), as is each numerator below: in doubles the quotient
  // (at most 2^15 + 1) is at least 2^-31 from the next integer, far more than its rounding, so its floor is exact.
  const divisor = f64(shares);
  const half = shares >> 1;
  const total: u32 = u32(1) << precision;
  let sum: u32 = 0;
  for (let i: u32 = 0; i < present; i++) {
    const q = load<u32>(freqs + (usize(i) << 2));
    const f = max<u32>(1, u32(Math.floor(f64((q << precision) + half) / divisor)));
    store<u32>(freqs + (usize(i) << 2), f);
    sum += f;
  }
  const largest = largestFreq(present);
  const rest = i64(load<u32>(freqs + (usize(largest) << 2))) + i64(total) - i64(sum);
  if (rest < 1) return false;
  store<u32>(freqs + (usize(largest) << 2), u32(rest));
  return true;
}

/** Bits a shaped model of the table takes but its scale: its kind, the symbol set and β. */
function unscaledBits(present: u32, alphabet: u32): u32 {
  return MODEL_KIND_BITS + symbolSetBits(present, alphabet) + SHAPE_BETA_BITS;
}

/** Bits of a scale, written as its offset from `base` (shapeScaleBase). */
// @ts-ignore: decorator
@inline function scaleBits(scale: i32, base: i32): u32 {
  return gammaBits(zigzag(scale - base) + 1);
}

/** Bits a shaped model of the table takes: its kind, the symbol set, β and the scale. */
export function shapeModelBits(present: u32, alphabet: u32, scale: i32): u32 {
  return unscaledBits(present, alphabet) + scaleBits(scale, shapeScaleBase(present));
}

/** The scale the reader accepts: its offset from shapeScaleBase gamma coded in fewer than 17 leading zeros. */
const SCALE_REACH: i32 = 1 << 15;
/** The most shapes the fit weighs for one table. */
const FIT_EVALUATIONS: u32 = 160;

let fittedBeta: u32 = 0;
let fittedScale: i32 = 0;

/** The β field of the last fit. */
export function shapeBeta(): u32 {
  return fittedBeta;
}

/** The scale of the last fit, 1/16 units. */
export function shapeScale(): i32 {
  return fittedScale;
}

/**
 * The table's size under a shape: payload (normalizeCounts) and model bits,
 * `unscaled` and `base` the parts of the latter no shape changes;
 * infinite when the shape makes no table.
 */
function shapeCost(present: u32, k: u32, precision: u32, beta: u32, scale: i32, unscaled: u32, base: i32): f64 {
  if (abs(scale - base) >= SCALE_REACH || !shapeFreqs(present, k, precision, beta, scale)) return Infinity;
  return payloadBits(present, precision) + f64(unscaled + scaleBits(scale, base));
}

/**
 * The shape that makes the table (normalizeSymbols, normalizeCounts)
 * smallest at precision P, by pattern search: of the four steps of `step`
 * in β or scale, the one that helps most, the step halved when none does. From a given shape (`beta` ≥ 0), else
 * from β = 1.5 and a scale a little above the most frequent code (a
 * generalised Gaussian's log-magnitudes peak below log2 s). Leaves the
 * frequencies in normalizeFreqs and the shape in shapeBeta and shapeScale;
 * returns the table's bits, payload and model, infinite when no shape
 * makes a table.
 */
export function shapeFit(present: u32, alphabet: u32, k: u32, precision: u32, beta: i32, scale: i32, step: i32): f64 {
  shapePositions(present, k);
  if (beta < 0) {
    beta = 23;
    scale = (position(largestCount(present)) >> 12) + 6;
  }
  const unscaled = unscaledBits(present, alphabet);
  const base = shapeScaleBase(present);
  let best = shapeCost(present, k, precision, u32(beta), scale, unscaled, base);
  // Directions 0 to 3: +β, −β, +scale, −scale; d ^ 1 is d's opposite, where the last move came from (already larger).
  let from = -1;
  for (let evaluations: u32 = 0; evaluations < FIT_EVALUATIONS; ) {
    let nextBeta = beta;
    let nextScale = scale;
    let nextBits = best;
    let moved = -1;
    for (let d = 0; d < 4; d++) {
      if (d == from) continue;
      const b = beta + (d == 0 ? step : d == 1 ? -step : 0);
      const s = scale + (d == 2 ? step : d == 3 ? -step : 0);
      if (b < 0 || b >= 1 << SHAPE_BETA_BITS) continue;
      const bits = shapeCost(present, k, precision, u32(b), s, unscaled, base);
      evaluations++;
      if (bits < nextBits) {
        nextBeta = b;
        nextScale = s;
        nextBits = bits;
        moved = d;
      }
    }
    if (nextBits < best) {
      beta = nextBeta;
      scale = nextScale;
      best = nextBits;
      from = moved ^ 1;
    } else if (step == 1) {
      break;
    } else {
      step >>= 1;
      from = -1;
    }
  }
  fittedBeta = u32(beta);
  fittedScale = scale;
  if (best != Infinity) shapeFreqs(present, k, precision, u32(beta), scale);
  return best;
}
