// A numeric format compiled from its descriptor: storage pattern ⇄ coding
// pair, pattern → value, and the per-side value ladders (with the exact tie
// points of the format's rounding rule) that conversion searches.

import { AnsfError } from "../errors.js";
import {
  isFiniteKind,
  magnitudeAt,
  resolveDescriptor,
  type FormatDescriptor,
  type ResolvedCode,
  type ResolvedFormat,
  type RoundingRule,
  type SignEncoding,
} from "./descriptor.js";
import { exactLog2, exactMidpoint, pow2 } from "./dyadic.js";

/** A stored value split for coding: `code` is entropy coded, `extra` (`extraBits` wide) is stored raw. */
export interface CodingPair {
  readonly code: number;
  readonly extra: number;
  readonly extraBits: number;
}

/** The patterns of one sign, as lookup arrays. */
export interface Side {
  /** All codes of this side in magnitude order, and the first magnitude of each (for search). */
  readonly codes: readonly ResolvedCode[];
  readonly firsts: Float64Array;
  /** The finite codes in value order, with the smallest and largest magnitude of each. */
  readonly finite: readonly ResolvedCode[];
  readonly lows: Float64Array;
  readonly highs: Float64Array;
  /**
   * ties[i]: the magnitude at which rounding between finite[i]'s largest value
   * and the next value up is a tie. For the last finite code the next value up
   * is infinity under "ieee" rounding; otherwise nothing lies above and the
   * tie is +Infinity.
   */
  readonly ties: Float64Array;
  /**
   * When this side has no zero: the magnitude below which a value of this
   * sign is nearer the other side's smallest value (e.g. −0.3 in int8 rounds
   * to +0). NaN when not applicable.
   */
  readonly crossTie: number;
  readonly inf: ResolvedCode | undefined;
  readonly nan: ResolvedCode | undefined;
}

function badArgument(message: string): never {
  throw new AnsfError("BAD_ARGUMENT", message);
}

/** Index of the last element ≤ x in ascending `sorted`, or -1. */
export function lastAtMost(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * The tie point between neighbouring magnitudes `below` < `above`. Ties are
 * arithmetic midpoints, except under posit rounding, which rounds the posit
 * bit string: there a nonzero value never rounds to zero, and across a gap
 * of several binades (exponent bits cut off by a long regime) the tie is the
 * value of the pattern with one more bit, the geometric midpoint.
 */
function tieBetween(below: number, above: number, rounding: RoundingRule, where: string): number {
  if (above === Infinity) return Infinity;
  if (rounding === "posit" && below === 0) return 0;
  if (rounding === "posit" && above > 2 * below) {
    const lo = exactLog2(below);
    const hi = exactLog2(above);
    if (lo === undefined || hi === undefined || (hi - lo) % 2 !== 0) {
      throw new AnsfError("BAD_FORMAT_DESCRIPTOR", `${where}: rounding "posit" needs powers of two an even number of binades apart across a gap, but ${below} is followed by ${above}`);
    }
    return pow2((lo + hi) / 2);
  }
  const tie = exactMidpoint(below, above);
  if (tie === undefined) {
    throw new AnsfError("BAD_FORMAT_DESCRIPTOR", `${where}: the midpoint of neighbouring values ${below} and ${above} is not exact in float64`);
  }
  return tie;
}

function buildSide(codes: readonly ResolvedCode[], otherCodes: readonly ResolvedCode[], rounding: RoundingRule, where: string): Side {
  const finite = codes.filter((c) => isFiniteKind(c.kind));
  const otherFirst = otherCodes.find((c) => isFiniteKind(c.kind));
  const lows = Float64Array.from(finite, (c) => magnitudeAt(c, 0));
  const highs = Float64Array.from(finite, (c) => magnitudeAt(c, c.count - 1));
  const ties = new Float64Array(finite.length);
  for (let i = 0; i + 1 < finite.length; i++) ties[i] = tieBetween(highs[i]!, lows[i + 1]!, rounding, where);
  const last = finite[finite.length - 1];
  if (last) {
    // Under "ieee" rounding infinity sits where the next value would be.
    const beyond = rounding === "ieee" ? magnitudeAt(last, last.count) : Infinity;
    ties[finite.length - 1] = tieBetween(highs[finite.length - 1]!, beyond, rounding, where);
  }
  return {
    codes,
    firsts: Float64Array.from(codes, (c) => c.first),
    finite,
    lows,
    highs,
    ties,
    crossTie: (lows[0] ?? 0) > 0 && otherFirst ? tieBetween(-magnitudeAt(otherFirst, 0), lows[0]!, "saturate", where) : NaN,
    inf: codes.find((c) => c.kind === "inf"),
    nan: codes.find((c) => c.kind === "nan"),
  };
}

/** A validated numeric format. Build one with {@link defineFormat} or take a built-in. */
export class NumericFormat {
  readonly descriptor: FormatDescriptor;
  readonly name: string;
  readonly bits: number;
  readonly signed: SignEncoding;
  readonly rounding: RoundingRule;
  /** Codes are 0 … codeCount − 1. */
  readonly codeCount: number;
  /** [positive, negative]; the negative side of an unsigned format is empty. */
  readonly sides: readonly [Side, Side];
  private readonly codes: readonly ResolvedCode[];

  constructor(resolved: ResolvedFormat) {
    const where = `format "${resolved.name}"`;
    this.descriptor = resolved.descriptor;
    this.name = resolved.name;
    this.bits = resolved.bits;
    this.signed = resolved.signed;
    this.rounding = resolved.rounding;
    this.codes = resolved.codes;
    this.codeCount = resolved.codes.length;
    const [positive, negative] = resolved.sides;
    this.sides = [buildSide(positive, negative, this.rounding, where), buildSide(negative, positive, this.rounding, where)];
  }

  /** Raw bits carried by a code: its position bits, plus the sign bit when it covers both signs. */
  extraBitsOf(code: number): number {
    const c = this.codeAt(code);
    return c.extraBits + (c.sign === "both" ? 1 : 0);
  }

  /** The coding pair of a storage pattern. Unused patterns are BAD_ARGUMENT. */
  encodeValue(pattern: number): CodingPair {
    const pair = this.pairOf(pattern);
    if (!pair) badArgument(`format "${this.name}": storage pattern 0x${pattern.toString(16)} is unused`);
    return pair;
  }

  /** The coding pair of a storage pattern, or undefined for an unused one. */
  pairOf(pattern: number): CodingPair | undefined {
    const [sign, magnitude] = this.split(pattern);
    const c = this.codeOfMagnitude(sign, magnitude);
    if (!c) return undefined;
    const position = magnitude - c.first;
    if (c.sign !== "both") return { code: c.code, extra: position, extraBits: c.extraBits };
    return { code: c.code, extra: sign * 2 ** c.extraBits + position, extraBits: c.extraBits + 1 };
  }

  /** The storage pattern of a coding pair; the inverse of {@link encodeValue}. */
  decodePair(code: number, extra: number): number {
    const c = this.codeAt(code);
    const extraBits = this.extraBitsOf(code);
    if (!Number.isInteger(extra) || extra < 0 || extra >= 2 ** extraBits) {
      badArgument(`format "${this.name}": extra ${extra} does not fit the ${extraBits} extra bits of code ${code}`);
    }
    const signBit = c.sign === "both" ? Math.floor(extra / 2 ** c.extraBits) : 0;
    const position = extra - signBit * 2 ** c.extraBits;
    if (position >= c.count) badArgument(`format "${this.name}": extra ${extra} is past the ${c.count} patterns of code ${code}`);
    const sign = c.sign === "negative" ? 1 : signBit;
    return this.compose(sign as 0 | 1, c.first + position);
  }

  /** The exact value of a storage pattern (NaN for NaN patterns). */
  toFloat64(pattern: number): number {
    const [sign, magnitude] = this.split(pattern);
    const c = this.codeOfMagnitude(sign, magnitude);
    if (!c) badArgument(`format "${this.name}": storage pattern 0x${pattern.toString(16)} is unused`);
    const value = magnitudeAt(c, magnitude - c.first);
    return sign === 1 ? -value : value;
  }

  /** The storage pattern of a sign and a magnitude pattern. */
  compose(sign: 0 | 1, magnitude: number): number {
    if (sign === 0) return magnitude;
    return this.signed === "twos-complement" ? 2 ** this.bits - magnitude : 2 ** (this.bits - 1) + magnitude;
  }

  private split(pattern: number): [0 | 1, number] {
    if (!Number.isInteger(pattern) || pattern < 0 || pattern >= 2 ** this.bits) {
      badArgument(`format "${this.name}": storage pattern ${pattern} is not a ${this.bits}-bit unsigned integer`);
    }
    const half = 2 ** (this.bits - 1);
    if (this.signed === "none" || pattern < half) return [0, pattern];
    return [1, this.signed === "twos-complement" ? 2 ** this.bits - pattern : pattern - half];
  }

  private codeAt(code: number): ResolvedCode {
    const c = Number.isInteger(code) ? this.codes[code] : undefined;
    if (!c) badArgument(`format "${this.name}": code ${code} is not one of its codes 0..${this.codeCount - 1}`);
    return c;
  }

  private codeOfMagnitude(sign: 0 | 1, magnitude: number): ResolvedCode | undefined {
    const side = this.sides[sign];
    const c = side.codes[lastAtMost(side.firsts, magnitude)];
    return c && magnitude < c.first + c.count ? c : undefined;
  }
}

/** Validates a descriptor (an object, e.g. parsed JSON) and compiles it. */
export function defineFormat(descriptor: unknown): NumericFormat {
  return new NumericFormat(resolveDescriptor(descriptor));
}

/** Parses the JSON text of a descriptor (a `--format FILE.json`) and compiles it. */
export function parseFormatJson(text: string): NumericFormat {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new AnsfError("BAD_FORMAT_DESCRIPTOR", `format descriptor is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return defineFormat(parsed);
}
