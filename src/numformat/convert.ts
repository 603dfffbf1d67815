/**
 * Conversions into a format, by round to nearest with ties to even, and out
 * of a format into compute types.
 *
 * Rounding into a format (its descriptor's `rounding`):
 *
 * - Always: the nearest value wins; a tie goes to the even magnitude pattern,
 *   which is the even storage pattern (the even mantissa of a float, the even
 *   posit bit string, the even integer: −0.5 becomes 0 in int8). When both
 *   are even, which only happens across zero (0 in the binary {−1, +1}
 *   format), the value keeps its own sign, −0 included.
 * - `"ieee"`: infinity sits where the next value above the largest finite
 *   would be, so magnitudes from max + ulp/2 up (the tie included, as the
 *   infinity pattern is even) become ±∞; ±∞ stays ±∞.
 * - `"saturate"` (OCP FP8 E4M3 and MX types, integers): finite values beyond
 *   the largest finite value of their sign clamp to it; ±∞ becomes the inf
 *   code when the format has one, else clamps likewise.
 * - `"posit"` (2022 posit standard): clamps to ±maxpos, never rounds a
 *   nonzero value to zero (±minpos instead), and rounds the bit string, so
 *   where a long regime cuts exponent bits off the tie between 2^a and 2^b
 *   is 2^((a+b)/2); ±∞ becomes NaR.
 *
 * NaN becomes the middle pattern (position ⌊count/2⌋) of the positive
 * side's nan code, or the negative side's when only it has one (posit NaR):
 * for IEEE layouts that is the canonical quiet NaN (fp32 0x7FC00000, fp16
 * 0x7E00, bf16 0x7FC0, E5M2 0x7E). A format without a nan code (MX fp6 and
 * fp4, integers) refuses NaN with BAD_ARGUMENT.
 *
 * Out of a format, {@link recode} decodes each pattern to its exact float64
 * value and rounds that into the target once, so conversion to a wider type
 * is exact and to a narrower one is a single round to nearest even (posit16
 * values beyond 65504 become ∞ in fp16, NaR becomes NaN).
 *
 * @module
 */

import { AnsfError } from "../errors.js";
import { builtinFormat } from "./builtin.js";
import { lastAtMost, type NumericFormat } from "./format.js";

/** Storage patterns in the narrowest array that holds them. */
export type StorageArray = Uint8Array | Uint16Array | Uint32Array;

/** Compute types stored patterns convert to. */
export type ComputeType = "fp32" | "bf16" | "fp16";

export function storageArray(bits: number, length: number): StorageArray {
  if (bits <= 8) return new Uint8Array(length);
  return bits <= 16 ? new Uint16Array(length) : new Uint32Array(length);
}

/** Of two tied candidates, the one with the even magnitude pattern, else the first. */
function evenOf(firstMagnitude: number, firstPattern: number, secondMagnitude: number, secondPattern: number): number {
  return firstMagnitude % 2 === 0 || secondMagnitude % 2 !== 0 ? firstPattern : secondPattern;
}

function nanPattern(format: NumericFormat): number {
  for (const sign of [0, 1] as const) {
    const nan = format.sides[sign].nan;
    if (nan) return format.compose(sign, nan.first + Math.floor(nan.count / 2));
  }
  throw new AnsfError("BAD_ARGUMENT", `format "${format.name}" has no NaN to convert NaN into`);
}

/**
 * A magnitude below the smallest value of its side, which then has no zero
 * (the negative side of int8 or of a posit, either side of binary): that
 * value, or the other side's smallest when nearer (−0.3 becomes +0 in int8).
 */
function roundBelowSmallest(format: NumericFormat, sign: 0 | 1, a: number): number {
  const otherSign = sign === 0 ? 1 : 0;
  const own = format.sides[sign].finite[0];
  const across = format.sides[otherSign].finite[0];
  // An empty side (negative, unsigned): validation guarantees the other has a finite code.
  if (!own) return format.compose(otherSign, across!.first);
  const ownPattern = format.compose(sign, own.first);
  if (!across || (format.rounding === "posit" && a > 0)) return ownPattern;
  const acrossPattern = format.compose(otherSign, across.first);
  const tie = format.sides[sign].crossTie;
  if (a !== tie) return a > tie ? ownPattern : acrossPattern;
  return evenOf(own.first, ownPattern, across.first, acrossPattern);
}

/** The pattern nearest to the magnitude `a` given sign `sign`, by the format's rounding rule. */
function roundMagnitude(format: NumericFormat, sign: 0 | 1, a: number): number {
  const side = format.sides[sign];
  const i = lastAtMost(side.lows, a);
  if (i < 0) return roundBelowSmallest(format, sign, a);
  const c = side.finite[i]!;
  if (a <= side.highs[i]!) {
    // Inside code c: positions are evenly spaced by c.step; a / c.step is exact.
    const q = a / c.step - c.base;
    const below = Math.floor(q);
    const fraction = q - below;
    const up = fraction > 0.5 || (fraction === 0.5 && (c.first + below) % 2 !== 0);
    return format.compose(sign, c.first + below + (up ? 1 : 0));
  }
  // Between c's largest value and the next value up (infinity under "ieee" rounding).
  const next = side.finite[i + 1] ?? (format.rounding === "ieee" ? side.inf : undefined);
  const lastOfC = c.first + c.count - 1;
  const tie = side.ties[i]!;
  if (!next || a < tie) return format.compose(sign, lastOfC);
  if (a > tie) return format.compose(sign, next.first);
  return format.compose(sign, lastOfC % 2 === 0 ? lastOfC : next.first);
}

/** The storage pattern nearest to `x` in `format` (see the module notes for ties, overflow and NaN). */
export function fromFloat64(x: number, format: NumericFormat): number {
  if (Number.isNaN(x)) return nanPattern(format);
  const sign = x < 0 || Object.is(x, -0) ? 1 : 0;
  if (Math.abs(x) !== Infinity) return roundMagnitude(format, sign, Math.abs(x));
  const inf = format.sides[sign].inf;
  if (inf) return format.compose(sign, inf.first);
  if (format.rounding === "posit") return nanPattern(format);
  // Saturating: ±∞ clamps exactly as the largest finite input does.
  return roundMagnitude(format, sign, Number.MAX_VALUE);
}

/** Stored patterns of `from` converted into `to`: exact, or one round to nearest even. */
export function recode(patterns: ArrayLike<number>, from: NumericFormat, to: NumericFormat): StorageArray {
  const out = storageArray(to.bits, patterns.length);
  for (let i = 0; i < patterns.length; i++) out[i] = fromFloat64(from.toFloat64(patterns[i]!), to);
  return out;
}

/** Stored patterns of `from` as fp32 (a Uint32Array), bf16 or fp16 bits (Uint16Arrays). */
export function toComputeBits(patterns: ArrayLike<number>, from: NumericFormat, target: ComputeType): StorageArray {
  return recode(patterns, from, builtinFormat(target));
}
