/**
 * Numeric-format descriptors: the declarative form of a format, written as
 * JSON by users (`--format FILE.json`) and validated strictly here.
 *
 * ## Model
 *
 * A stored value is an unsigned pattern `p` of `bits` bits. `signed` splits it
 * into a sign `s` (0 positive, 1 negative) and a magnitude pattern `m`:
 *
 * | `signed`            | s          | m                                   | magnitudes per side            |
 * |---------------------|------------|-------------------------------------|--------------------------------|
 * | `"none"`            | 0          | p                                   | + : 0 … 2^bits − 1             |
 * | `"sign-magnitude"`  | top bit    | the other bits                      | + and − : 0 … 2^(bits−1) − 1   |
 * | `"twos-complement"` | top bit    | p if s = 0, else 2^bits − p         | + : 0 … 2^(bits−1) − 1, − : 1 … 2^(bits−1) |
 *
 * `codes` lists the codes in increasing magnitude. Each code covers `count`
 * consecutive magnitudes of its side(s), starting where the previous code of
 * that side ended; each side starts at its smallest magnitude (0, or 1 on the
 * negative side of two's complement, which has no −0). Magnitudes left over
 * after a side's last code are unused patterns.
 *
 * A code becomes a coding pair: `code` is entropy coded, the *extra* bits are
 * stored raw. The extra holds the position `o` (0 ≤ o < count) of the pattern
 * within its code in `extraBits = ⌈log2 count⌉` bits, and, for a code covering
 * both signs, the sign above it: `extra = s << extraBits | o`. Position `o`
 * has the magnitude
 *
 * | `kind`      | magnitude                                                    |
 * |-------------|--------------------------------------------------------------|
 * | `zero`      | 0                                                            |
 * | `subnormal` | 2^scale × (fractionStart + o) / 2^fractionBits               |
 * | `normal`    | 2^scale × (1 + (fractionStart + o) / 2^fractionBits)         |
 * | `int`       | 2^scale + fractionStart + o                                  |
 * | `inf`       | ∞                                                            |
 * | `nan`       | NaN                                                          |
 *
 * and the value is the magnitude negated on the negative side. So `scale` is
 * the binade: normal and int codes lie in [2^scale, 2^(scale+1)), subnormal
 * codes in [0, 2^scale). `fractionBits` (default `extraBits`) and
 * `fractionStart` (default 0) let several codes share a binade, e.g. when the
 * top mantissa bits join the exponent in the code.
 *
 * ## JSON form
 *
 * ```text
 * {
 *   "name":        string, 1–64 characters
 *   "description": string (optional)
 *   "bits":        integer 1–32, storage bits per value
 *   "signed":      "sign-magnitude" | "twos-complement" | "none"
 *   "rounding":    "ieee" | "saturate" | "posit"  (optional; default "ieee" when
 *                  the format has an inf code, else "saturate"; see convert.ts)
 *   "codes": [ {
 *     "code":          integer, the symbol; codes must be exactly 0 … N−1
 *     "kind":          "zero" | "subnormal" | "normal" | "int" | "inf" | "nan"
 *     "sign":          "both" | "positive" | "negative"  (default "both", or
 *                      "positive" when "signed" is "none")
 *     "scale":         integer, required for subnormal, normal, int
 *     "extraBits":     integer, position bits (default ⌈log2 count⌉, or 0)
 *     "count":         integer, patterns covered per side (default 2^extraBits)
 *     "fractionBits":  integer ≥ extraBits (subnormal, normal; default extraBits)
 *     "fractionStart": integer ≥ 0 (subnormal, normal, int; default 0)
 *   }, … ]
 * }
 * ```
 *
 * Refused: unknown fields, duplicate or missing code numbers, extraBits
 * outside 0 … magnitude bits, count disagreeing with extraBits, codes running
 * past the end of a side, a "both" code where the two sides are at different
 * magnitudes, value ranges that overlap or decrease along the patterns, finite
 * codes after an inf or nan code of the same side, more than one inf or nan
 * code per side, a fraction range leaving its binade, a scale outside
 * −1022 … 1023 (0 … 52 for int) or fractionBits over 52 (float64 could not
 * hold the values exactly), neighbouring values whose rounding tie float64
 * cannot hold exactly, "ieee" rounding without an inf code on each side that
 * has values, and "posit" rounding without a zero and a nan code, or with a
 * gap between values that are not powers of two an even number of binades
 * apart (the bit-string tie would not be a value).
 *
 * Example: the OCP MX FP4 (E2M1) element type, values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}.
 *
 * ```json
 * {
 *   "name": "fp4-e2m1",
 *   "bits": 4,
 *   "signed": "sign-magnitude",
 *   "rounding": "saturate",
 *   "codes": [
 *     { "code": 0, "kind": "subnormal", "scale": 0, "extraBits": 1 },
 *     { "code": 1, "kind": "normal", "scale": 0, "extraBits": 1 },
 *     { "code": 2, "kind": "normal", "scale": 1, "extraBits": 1 },
 *     { "code": 3, "kind": "normal", "scale": 2, "extraBits": 1 }
 *   ]
 * }
 * ```
 *
 * @module
 */

import { AnsfError } from "../errors.js";
import { pow2 } from "./dyadic.js";

export type SignEncoding = "sign-magnitude" | "twos-complement" | "none";
export type CodeKind = "zero" | "subnormal" | "normal" | "int" | "inf" | "nan";
export type CodeSign = "both" | "positive" | "negative";
export type RoundingRule = "ieee" | "saturate" | "posit";

/** One code of a format, as written in JSON. */
export interface CodeDescriptor {
  code: number;
  kind: CodeKind;
  sign?: CodeSign;
  scale?: number;
  extraBits?: number;
  count?: number;
  fractionBits?: number;
  fractionStart?: number;
}

/** A numeric format, as written in JSON. */
export interface FormatDescriptor {
  name: string;
  description?: string;
  bits: number;
  signed: SignEncoding;
  rounding?: RoundingRule;
  codes: CodeDescriptor[];
}

/** A code with its defaults filled in and its values reduced to exact numbers. */
export interface ResolvedCode {
  readonly code: number;
  readonly kind: CodeKind;
  readonly sign: CodeSign;
  /** Position bits, not counting the sign bit of a "both" code. */
  readonly extraBits: number;
  readonly count: number;
  /** Magnitude pattern of position 0, on each side the code covers. */
  readonly first: number;
  /** Finite kinds: position o has magnitude (base + o) × step, step a power of two. */
  readonly base: number;
  readonly step: number;
}

export interface ResolvedFormat {
  /** The input with `rounding` made explicit. */
  readonly descriptor: FormatDescriptor;
  readonly name: string;
  readonly bits: number;
  readonly signed: SignEncoding;
  readonly rounding: RoundingRule;
  /** Indexed by code number. */
  readonly codes: readonly ResolvedCode[];
  /** Each side's codes in magnitude order: [positive, negative]. */
  readonly sides: readonly [readonly ResolvedCode[], readonly ResolvedCode[]];
}

/** Codes are 16-bit symbols; 0xFFFF stays free to mark unused patterns in code tables. */
export const MAX_CODES = 0xffff;

const SIGN_ENCODINGS: readonly SignEncoding[] = ["sign-magnitude", "twos-complement", "none"];
const KINDS: readonly CodeKind[] = ["zero", "subnormal", "normal", "int", "inf", "nan"];
const CODE_SIGNS: readonly CodeSign[] = ["both", "positive", "negative"];
const ROUNDINGS: readonly RoundingRule[] = ["ieee", "saturate", "posit"];
const FORMAT_FIELDS = new Set(["name", "description", "bits", "signed", "rounding", "codes"]);
const COMMON_CODE_FIELDS = ["code", "kind", "sign", "extraBits", "count"];
const KIND_FIELDS: Record<CodeKind, readonly string[]> = {
  zero: [],
  inf: [],
  nan: [],
  subnormal: ["scale", "fractionBits", "fractionStart"],
  normal: ["scale", "fractionBits", "fractionStart"],
  int: ["scale", "fractionStart"],
};

/** ⌈log2 count⌉: the position bits a code of `count` patterns needs. */
export function extraBitsFor(count: number): number {
  let bits = 0;
  while (2 ** bits < count) bits++;
  return bits;
}

export function isFiniteKind(kind: CodeKind): boolean {
  return kind !== "inf" && kind !== "nan";
}

/** Magnitude of position `position` of a code (∞ or NaN for those kinds). */
export function magnitudeAt(code: ResolvedCode, position: number): number {
  if (code.kind === "inf") return Infinity;
  if (code.kind === "nan") return NaN;
  return (code.base + position) * code.step;
}

/** Magnitude patterns side 0 (positive) or 1 (negative) can hold: [start, end). */
function sideBounds(signed: SignEncoding, bits: number, side: 0 | 1): { start: number; end: number } {
  const half = 2 ** (bits - 1);
  if (signed === "none") return side === 0 ? { start: 0, end: 2 ** bits } : { start: 0, end: 0 };
  if (signed === "sign-magnitude" || side === 0) return { start: 0, end: half };
  return { start: 1, end: half + 1 };
}

function refuse(where: string, message: string): never {
  throw new AnsfError("BAD_FORMAT_DESCRIPTOR", `${where}: ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isIntegerIn(v: unknown, lo: number, hi: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
}

function show(v: unknown): string {
  return v === undefined ? "nothing" : JSON.stringify(v) ?? String(v);
}

function oneOf<T extends string>(v: unknown, options: readonly T[]): v is T {
  return (options as readonly unknown[]).includes(v);
}

function choices(options: readonly string[]): string {
  return options.map((o) => `"${o}"`).join(", ");
}

/** A code's own fields, checked and resolved; its position among the patterns comes later. */
function parseCode(input: unknown, where: string, bits: number, signed: SignEncoding): Omit<ResolvedCode, "first"> {
  if (!isRecord(input)) refuse(where, "must be an object");
  const { code, kind } = input;
  if (!isIntegerIn(code, 0, MAX_CODES - 1)) refuse(where, `"code" must be an integer from 0 to ${MAX_CODES - 1}, got ${show(code)}`);
  where = `${where} (code ${code})`;
  if (!oneOf(kind, KINDS)) refuse(where, `"kind" must be one of ${choices(KINDS)}, got ${show(kind)}`);
  const allowed = new Set([...COMMON_CODE_FIELDS, ...KIND_FIELDS[kind]]);
  for (const key of Object.keys(input)) {
    if (!allowed.has(key)) refuse(where, `field "${key}" is not allowed for a ${kind} code`);
  }

  const sign = input.sign ?? (signed === "none" ? "positive" : "both");
  if (!oneOf(sign, CODE_SIGNS)) refuse(where, `"sign" must be one of ${choices(CODE_SIGNS)}, got ${show(sign)}`);
  if (signed === "none" && sign !== "positive") refuse(where, `an unsigned format has only positive codes, got sign "${sign}"`);

  const magnitudeBits = signed === "none" ? bits : bits - 1;
  const { extraBits: extraBitsIn, count: countIn } = input;
  if (extraBitsIn !== undefined && !isIntegerIn(extraBitsIn, 0, magnitudeBits)) {
    refuse(where, `extraBits ${show(extraBitsIn)} out of range 0..${magnitudeBits} for a ${bits}-bit ${signed} format`);
  }
  if (countIn !== undefined && !isIntegerIn(countIn, 1, 2 ** magnitudeBits)) {
    refuse(where, `count ${show(countIn)} out of range 1..${2 ** magnitudeBits} for a ${bits}-bit ${signed} format`);
  }
  const count = countIn ?? 2 ** (extraBitsIn ?? 0);
  const extraBits = extraBitsIn ?? extraBitsFor(count);
  if (extraBits !== extraBitsFor(count)) refuse(where, `count ${count} needs extraBits ${extraBitsFor(count)}, not ${extraBits}`);
  if ((kind === "zero" || kind === "inf") && count !== 1) refuse(where, `a ${kind} code covers exactly one pattern, got count ${count}`);

  const resolved = { code, kind, sign, extraBits, count };
  if (kind === "zero") return { ...resolved, base: 0, step: 1 };
  if (kind === "inf" || kind === "nan") return { ...resolved, base: NaN, step: NaN };

  const { scale, fractionStart: startIn, fractionBits: fractionBitsIn } = input;
  if (kind === "int") {
    if (!isIntegerIn(scale, 0, 52)) refuse(where, `an int code needs an integer "scale" from 0 to 52, got ${show(scale)}`);
  } else if (!isIntegerIn(scale, -1022, 1023)) {
    refuse(where, `a ${kind} code needs an integer "scale" from -1022 to 1023, got ${show(scale)}`);
  }
  // An int code steps by 1 through its binade: a normal code with scale fraction bits.
  const fractionBits = kind === "int" ? scale : (fractionBitsIn ?? extraBits);
  if (!isIntegerIn(fractionBits, kind === "int" ? 0 : extraBits, 52)) {
    refuse(where, `fractionBits ${show(fractionBits)} out of range ${extraBits}..52`);
  }
  const fractionStart = startIn ?? 0;
  if (!isIntegerIn(fractionStart, 0, 2 ** 52)) refuse(where, `fractionStart must be a non-negative integer, got ${show(fractionStart)}`);
  if (fractionStart + count > 2 ** fractionBits) {
    refuse(where, `fractionStart ${fractionStart} + count ${count} exceeds the 2^${fractionBits} steps of its binade`);
  }
  const base = kind === "subnormal" ? fractionStart : 2 ** fractionBits + fractionStart;
  // scale ≥ -1022 and fractionBits ≤ 52 keep the step at or above float64's smallest, 2^-1074.
  return { ...resolved, base, step: pow2(scale - fractionBits) };
}

function checkCodeNumbers(codes: readonly Omit<ResolvedCode, "first">[], where: string): void {
  const entryOf = new Map<number, number>();
  codes.forEach((c, i) => {
    const earlier = entryOf.get(c.code);
    if (earlier !== undefined) refuse(where, `code ${c.code} is defined twice (codes[${earlier}] and codes[${i}])`);
    entryOf.set(c.code, i);
  });
  for (let code = 0; code < codes.length; code++) {
    if (!entryOf.has(code)) refuse(where, `codes must be numbered 0..${codes.length - 1} without gaps; code ${code} is missing`);
  }
}

/** Places each code after the previous code of its side(s): the pattern layout. */
function layOut(codes: readonly Omit<ResolvedCode, "first">[], where: string, bits: number, signed: SignEncoding): ResolvedCode[] {
  const bounds = [sideBounds(signed, bits, 0), sideBounds(signed, bits, 1)] as const;
  const next = [bounds[0].start, bounds[1].start];
  const sideNames = ["positive", "negative"];
  return codes.map((c, i) => {
    const at = `${where} codes[${i}] (code ${c.code})`;
    const sides: (0 | 1)[] = c.sign === "both" ? [0, 1] : c.sign === "positive" ? [0] : [1];
    if (c.sign === "both" && next[0] !== next[1]) {
      refuse(at, `covers both signs, but the positive side continues at magnitude ${next[0]} and the negative side at ${next[1]}; split it into "positive" and "negative" codes`);
    }
    const first = next[sides[0]!]!;
    for (const side of sides) {
      const { start, end } = bounds[side];
      if (next[side]! + c.count > end) {
        refuse(at, `runs past the end of the ${sideNames[side]} side, which holds magnitudes ${start}..${end - 1}`);
      }
      next[side]! += c.count;
    }
    return { ...c, first };
  });
}

function describeRange(c: ResolvedCode): string {
  const lo = magnitudeAt(c, 0);
  const hi = magnitudeAt(c, c.count - 1);
  return lo === hi ? `${lo}` : `${lo}..${hi}`;
}

/** Values must rise with the pattern, and infinities and NaNs come last. */
function checkValueOrder(side: readonly ResolvedCode[], where: string, sideName: string): void {
  let previous: ResolvedCode | undefined;
  let nonFinite: ResolvedCode | undefined;
  let inf = 0;
  let nan = 0;
  for (const c of side) {
    if (!isFiniteKind(c.kind)) {
      if (c.kind === "inf" && ++inf > 1) refuse(where, `code ${c.code} is a second inf code on the ${sideName} side`);
      if (c.kind === "nan" && ++nan > 1) refuse(where, `code ${c.code} is a second nan code on the ${sideName} side`);
      nonFinite = c;
      continue;
    }
    if (nonFinite) {
      refuse(where, `finite code ${c.code} follows ${nonFinite.kind} code ${nonFinite.code} on the ${sideName} side; infinities and NaNs must be the last codes`);
    }
    if (previous && magnitudeAt(c, 0) <= magnitudeAt(previous, previous.count - 1)) {
      const relation = magnitudeAt(c, c.count - 1) < magnitudeAt(previous, 0) ? "is below" : "overlaps";
      refuse(where, `code ${c.code} (magnitudes ${describeRange(c)}) ${relation} code ${previous.code} (${describeRange(previous)}) that precedes it; ranges must increase along the patterns`);
    }
    previous = c;
  }
}

function checkRoundingNeeds(rounding: RoundingRule, sides: readonly (readonly ResolvedCode[])[], where: string): void {
  const all = sides.flat();
  if (!all.some((c) => isFiniteKind(c.kind))) refuse(where, "needs at least one finite code");
  if (rounding === "ieee") {
    sides.forEach((side, i) => {
      if (side.some((c) => isFiniteKind(c.kind)) && !side.some((c) => c.kind === "inf")) {
        refuse(where, `rounding "ieee" overflows to infinity, but the ${i === 0 ? "positive" : "negative"} side has no inf code`);
      }
    });
  }
  if (rounding === "posit" && !(all.some((c) => c.kind === "zero") && all.some((c) => c.kind === "nan"))) {
    refuse(where, `rounding "posit" needs a zero code and a nan code (NaR)`);
  }
}

/** Validates a descriptor (typically parsed JSON) and resolves it to exact numbers. */
export function resolveDescriptor(input: unknown): ResolvedFormat {
  if (!isRecord(input)) refuse("format descriptor", "must be a JSON object");
  const { name } = input;
  if (typeof name !== "string" || name.length < 1 || name.length > 64) {
    refuse("format descriptor", `"name" must be a string of 1 to 64 characters, got ${show(name)}`);
  }
  const where = `format "${name}"`;
  for (const key of Object.keys(input)) if (!FORMAT_FIELDS.has(key)) refuse(where, `unknown field "${key}"`);
  const { description, bits, signed, codes: codesIn } = input;
  if (description !== undefined && typeof description !== "string") refuse(where, `"description" must be a string`);
  if (!isIntegerIn(bits, 1, 32)) refuse(where, `"bits" must be an integer from 1 to 32, got ${show(bits)}`);
  if (!oneOf(signed, SIGN_ENCODINGS)) refuse(where, `"signed" must be one of ${choices(SIGN_ENCODINGS)}, got ${show(signed)}`);
  if (!Array.isArray(codesIn) || codesIn.length === 0) refuse(where, `"codes" must be a non-empty array`);
  if (codesIn.length > MAX_CODES) refuse(where, `at most ${MAX_CODES} codes, got ${codesIn.length}`);

  const parsed = codesIn.map((c, i) => parseCode(c, `${where} codes[${i}]`, bits, signed));
  checkCodeNumbers(parsed, where);
  const placed = layOut(parsed, where, bits, signed);
  const sides = [placed.filter((c) => c.sign !== "negative"), placed.filter((c) => c.sign !== "positive")] as const;
  checkValueOrder(sides[0], where, "positive");
  checkValueOrder(sides[1], where, "negative");

  const rounding = input.rounding ?? (placed.some((c) => c.kind === "inf") ? "ieee" : "saturate");
  if (!oneOf(rounding, ROUNDINGS)) refuse(where, `"rounding" must be one of ${choices(ROUNDINGS)}, got ${show(rounding)}`);
  checkRoundingNeeds(rounding, sides, where);

  const codes: ResolvedCode[] = [];
  for (const c of placed) codes[c.code] = c;
  const descriptor: FormatDescriptor = {
    ...structuredClone(input as unknown as FormatDescriptor),
    rounding,
  };
  return { descriptor, name, bits, signed, rounding, codes, sides };
}
