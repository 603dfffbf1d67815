import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AnsfError } from "../src/errors.js";
import { exactLog2, exactMidpoint, pow2 } from "../src/numformat/dyadic.js";
import {
  BUILTIN_FORMAT_NAMES,
  builtinDescriptor,
  builtinFormat,
  codeTable,
  defineFormat,
  floatDescriptor,
  fromFloat64,
  parseFormatJson,
  quantize,
  recode,
  toComputeBits,
  UNUSED_PATTERN,
  type FormatDescriptor,
  type NumericFormat,
} from "../src/numformat/index.js";

// ---------------------------------------------------------------------------
// Reference decoders, written from the format definitions and independent of
// the library: DataView for fp32/bf16, textbook formulas elsewhere.

const view = new DataView(new ArrayBuffer(8));

function fp32Bits(x: number): number {
  view.setFloat32(0, x);
  return view.getUint32(0);
}

function fp32Value(bits: number): number {
  view.setUint32(0, bits);
  return view.getFloat32(0);
}

/** Textbook sign-magnitude float: IEEE, OCP "FN" (only S.1…1.1…1 is NaN) or MX (no specials). */
function floatRef(p: number, e: number, m: number, specials: "ieee" | "fn" | "none"): number {
  const sign = (p >> (e + m)) & 1 ? -1 : 1;
  const field = (p >> m) & ((1 << e) - 1);
  const mantissa = p & ((1 << m) - 1);
  const bias = (1 << (e - 1)) - 1;
  const top = (1 << e) - 1;
  if (specials === "ieee" && field === top) return mantissa === 0 ? sign * Infinity : NaN;
  if (specials === "fn" && field === top && mantissa === (1 << m) - 1) return NaN;
  if (field === 0) return sign * mantissa * 2 ** (1 - bias - m);
  return sign * (1 + mantissa / 2 ** m) * 2 ** (field - bias);
}

/** Textbook posit decoder: two's complement, regime run, es exponent bits (missing ones read 0), fraction. */
function positRef(p: number, n: number, es: number): number {
  if (p === 0) return 0;
  if (p === 2 ** (n - 1)) return NaN;
  const negative = p >= 2 ** (n - 1);
  const magnitude = negative ? 2 ** n - p : p;
  const body = magnitude.toString(2).padStart(n, "0").slice(1);
  const run = body.match(/^(0+|1+)/)![0].length;
  const r = body[0] === "1" ? run - 1 : -run;
  const rest = body.slice(run + 1);
  const exponent = parseInt(rest.slice(0, es).padEnd(es, "0") || "0", 2);
  const fractionBits = rest.slice(es);
  const fraction = fractionBits.length > 0 ? parseInt(fractionBits, 2) / 2 ** fractionBits.length : 0;
  const value = (1 + fraction) * 2 ** (r * 2 ** es + exponent);
  return negative ? -value : value;
}

function twosComplementRef(p: number, bits: number): number {
  return p >= 2 ** (bits - 1) ? p - 2 ** bits : p;
}

const POSITS: Record<string, [number, number]> = {
  posit8es0: [8, 0],
  posit8es2: [8, 2],
  posit16es1: [16, 1],
  posit16es2: [16, 2],
};

/** Reference value of pattern p of a built-in, or undefined where the pattern is unused. */
function referenceValue(name: string, p: number): number | undefined {
  switch (name) {
    case "fp32":
      return fp32Value(p);
    case "bf16":
      return fp32Value(p * 0x10000);
    case "fp16":
      return floatRef(p, 5, 10, "ieee");
    case "fp8-e4m3":
      return floatRef(p, 4, 3, "fn");
    case "fp8-e5m2":
      return floatRef(p, 5, 2, "ieee");
    case "fp6-e3m2":
      return floatRef(p, 3, 2, "none");
    case "fp6-e2m3":
      return floatRef(p, 2, 3, "none");
    case "fp4-e2m1":
      return floatRef(p, 2, 1, "none");
    case "int8":
      return twosComplementRef(p, 8);
    case "int4":
      return twosComplementRef(p, 4);
    case "uint8":
      return p;
    case "binary":
      return p === 0 ? 1 : -1;
    case "ternary":
      return p === 2 ? undefined : twosComplementRef(p, 2);
  }
  const posit = POSITS[name];
  if (posit) return positRef(p, posit[0], posit[1]);
  throw new Error(`no reference for ${name}`);
}

function sameValue(actual: number, expected: number): boolean {
  return Number.isNaN(expected) ? Number.isNaN(actual) : Object.is(actual, expected);
}

function expectCode(fn: () => unknown, code: string, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(AnsfError);
  expect((caught as AnsfError).code).toBe(code);
  expect((caught as AnsfError).message).toMatch(message);
  expect((caught as AnsfError).message).not.toContain("\n");
}

// ---------------------------------------------------------------------------
// Reference rounding, by brute force over the reference value table: the
// nearest value; ties to the even pattern, then to the input's sign; IEEE
// overflow to infinity from max + ulp/2, or saturation.

interface Ladder {
  values: number[]; // ascending finite values, ±0 both present
  patterns: number[];
}

function ladder(name: string, bits: number): Ladder {
  const entries: [number, number][] = [];
  for (let p = 0; p < 2 ** bits; p++) {
    const v = referenceValue(name, p);
    if (v !== undefined && Number.isFinite(v)) entries.push([v, p]);
  }
  entries.sort((a, b) => a[0] - b[0] || (Object.is(a[0], -0) ? -1 : 1));
  return { values: entries.map((e) => e[0]), patterns: entries.map((e) => e[1]) };
}

function nearestRef(x: number, table: Ladder, overflow: "ieee" | "saturate", infPatterns?: [number, number]): number {
  const { values, patterns } = table;
  const max = values[values.length - 1]!;
  const min = values[0]!;
  if (overflow === "ieee" && infPatterns) {
    const ulp = max - values[values.length - 2]!;
    if (x >= max + ulp / 2) return infPatterns[0];
    if (x <= min - ulp / 2) return infPatterns[1];
  }
  if (x >= max) return patterns[values.length - 1]!;
  if (x <= min) return patterns[0]!;
  let lo = 0;
  let hi = values.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! <= x) lo = mid;
    else hi = mid;
  }
  const best = Math.min(Math.abs(x - values[lo]!), Math.abs(values[hi]! - x));
  const candidates: number[] = [];
  for (let i = Math.max(0, lo - 1); i <= Math.min(values.length - 1, hi + 1); i++) {
    if (Math.abs(values[i]! - x) === best) candidates.push(i);
  }
  const even = candidates.filter((i) => patterns[i]! % 2 === 0);
  const pool = even.length > 0 ? even : candidates;
  const negative = x < 0 || Object.is(x, -0);
  const sameSign = pool.find((i) => (values[i]! < 0 || Object.is(values[i], -0)) === negative);
  return patterns[sameSign ?? pool[0]!]!;
}

/** Probe inputs: every value, every midpoint and points just beside it, beyond the ends, random values. */
function probes(values: readonly number[], count = 2000): number[] {
  const unique = [...new Set(values)];
  const out: number[] = [0, -0];
  for (let i = 0; i < unique.length; i++) {
    const v = unique[i]!;
    out.push(v);
    const next = unique[i + 1];
    if (next === undefined) continue;
    const mid = (v + next) / 2;
    const nudge = (next - v) * 2 ** -20;
    out.push(mid, mid - nudge, mid + nudge);
  }
  const max = unique[unique.length - 1]!;
  const top = max - unique[unique.length - 2]!;
  for (const x of [max + top / 2, max + top / 2 - top * 2 ** -20, max + top, 2 * max, 1e300]) out.push(x, -x);
  let seed = 12345;
  for (let i = 0; i < count; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    out.push((seed / 2 ** 32 - 0.5) * 2.2 * max);
  }
  return out;
}

// ---------------------------------------------------------------------------
// A textbook posit encoder: build the exact bit string of x (regime,
// exponent, all 52 fraction bits), keep n − 1 bits, round the rest to
// nearest even; saturate to maxpos/minpos, never to zero.

function positEncodeRef(x: number, n: number, es: number): number {
  if (!Number.isFinite(x)) return 2 ** (n - 1);
  if (x === 0) return 0;
  const a = Math.abs(x);
  view.setFloat64(0, a);
  const scale = ((view.getUint32(0) >>> 20) & 0x7ff) - 1023;
  const fraction = ((BigInt(view.getUint32(0) & 0xfffff) << 32n) | BigInt(view.getUint32(4))).toString(2).padStart(52, "0");
  const r = Math.floor(scale / 2 ** es);
  const e = scale - r * 2 ** es;
  let kept: number;
  if (r >= n - 2) kept = 2 ** (n - 1) - 1;
  else if (r <= -(n - 1)) kept = 1;
  else {
    const regime = r >= 0 ? "1".repeat(r + 1) + "0" : "0".repeat(-r) + "1";
    const exponent = es > 0 ? e.toString(2).padStart(es, "0") : "";
    const body = regime + exponent + fraction;
    kept = parseInt(body.slice(0, n - 1), 2);
    const guard = body[n - 1] === "1";
    const sticky = body.slice(n).includes("1");
    if (guard && (sticky || kept % 2 === 1)) kept++;
  }
  return x < 0 ? 2 ** n - kept : kept;
}

// ---------------------------------------------------------------------------

describe("exact dyadic helpers", () => {
  it("pow2 and exactLog2 cover normals and subnormals", () => {
    for (let k = -1074; k <= 1023; k++) {
      const x = pow2(k);
      if (x !== 2 ** k || exactLog2(x) !== k) expect.fail(`2^${k}`);
    }
    expect(exactLog2(3 * 2 ** -1074)).toBeUndefined();
    expect(exactLog2(1.5)).toBeUndefined();
    expect(exactLog2(0)).toBeUndefined();
    expect(exactLog2(Infinity)).toBeUndefined();
  });

  it("exactMidpoint refuses midpoints float64 cannot hold", () => {
    expect(exactMidpoint(1, 2)).toBe(1.5);
    expect(exactMidpoint(-1, 3)).toBe(1);
    expect(exactMidpoint(0, 2 ** -1073)).toBe(2 ** -1074);
    expect(exactMidpoint(0, 2 ** -1074)).toBeUndefined();
    expect(exactMidpoint(1, 1 + 2 ** -52)).toBeUndefined();
    expect(exactMidpoint(2 ** -60, 2 ** 10)).toBeUndefined();
    expect(exactMidpoint(Number.MAX_VALUE, Number.MAX_VALUE)).toBeUndefined();
  });
});

const SMALL_FORMATS = BUILTIN_FORMAT_NAMES.filter((name) => builtinFormat(name).bits <= 16);

describe("built-in formats: patterns, pairs and values", () => {
  it.each(SMALL_FORMATS)("%s: every pattern round-trips through its coding pair and decodes to the reference value", (name) => {
    const format = builtinFormat(name);
    const table = codeTable(format);
    let used = 0;
    for (let p = 0; p < 2 ** format.bits; p++) {
      const expected = referenceValue(name, p);
      if (expected === undefined) {
        expectCode(() => format.encodeValue(p), "BAD_ARGUMENT", /unused/);
        expect(table.codeOf[p]).toBe(UNUSED_PATTERN);
        continue;
      }
      used++;
      const pair = format.encodeValue(p);
      const at = `${name} 0x${p.toString(16)}`;
      if (pair.extra >= 2 ** pair.extraBits || pair.extraBits !== format.extraBitsOf(pair.code)) expect.fail(`${at}: extra ${pair.extra} in ${pair.extraBits} bits`);
      if (format.decodePair(pair.code, pair.extra) !== p) expect.fail(`${at} does not round-trip`);
      if (!sameValue(format.toFloat64(p), expected)) expect.fail(`${at}: ${format.toFloat64(p)} != ${expected}`);
      if (table.codeOf[p] !== pair.code || table.extraOf[p] !== pair.extra || table.patternOf[table.pairStart[pair.code]! + pair.extra] !== p) {
        expect.fail(`${at}: code table disagrees`);
      }
    }
    // Every valid pair is some pattern's pair: the table has no holes besides codes' unused tails.
    const validPairs = Array.from(table.patternOf).filter((p) => p >= 0).length;
    expect(validPairs).toBe(used);
  });

  it("fp32: random and special patterns round-trip and match DataView", () => {
    const format = builtinFormat("fp32");
    const patterns = [0, 0x80000000, 1, 0x80000001, 0x007fffff, 0x00800000, 0x3f800000, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7f800001, 0x7fc00000, 0xffffffff];
    let seed = 99;
    for (let i = 0; i < 200_000; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      patterns.push(seed);
    }
    for (const p of patterns) {
      const pair = format.encodeValue(p);
      if (format.decodePair(pair.code, pair.extra) !== p) expect.fail(`fp32 0x${p.toString(16)} does not round-trip`);
      if (!sameValue(format.toFloat64(p), fp32Value(p))) expect.fail(`fp32 0x${p.toString(16)} value`);
    }
  });

  it("floats split as code = exponent field, extra = sign + mantissa", () => {
    for (const [name, e, m] of [["fp16", 5, 10], ["bf16", 8, 7], ["fp8-e5m2", 5, 2], ["fp8-e4m3", 4, 3]] as const) {
      const format = builtinFormat(name);
      for (let p = 0; p < 2 ** (1 + e + m); p++) {
        if (!Number.isFinite(format.toFloat64(p))) continue;
        const pair = format.encodeValue(p);
        const expected = { code: (p >> m) & ((1 << e) - 1), extra: (p >> (e + m)) * 2 ** m + (p & ((1 << m) - 1)), extraBits: 1 + m };
        if (pair.code !== expected.code || pair.extra !== expected.extra || pair.extraBits !== expected.extraBits) {
          expect.fail(`${name} 0x${p.toString(16)}: ${JSON.stringify(pair)}, expected ${JSON.stringify(expected)}`);
        }
      }
    }
    // fp16 infinity is its own code with only the sign as extra; NaNs share the next code.
    const fp16 = builtinFormat("fp16");
    expect(fp16.encodeValue(0x7c00)).toEqual({ code: 31, extra: 0, extraBits: 1 });
    expect(fp16.encodeValue(0xfc00)).toEqual({ code: 31, extra: 1, extraBits: 1 });
    expect(fp16.encodeValue(0x7e00).code).toBe(32);
  });

  it("posits: code = regime + exponent, extra = sign + a regime-dependent number of fraction bits", () => {
    const format = builtinFormat("posit16es1");
    // Near 1 the regime is 2 bits, leaving 16 − 1 − 2 − 1 = 12 fraction bits; at minpos none.
    expect(format.encodeValue(0x4000).extraBits).toBe(1 + 12);
    expect(format.encodeValue(0x0001).extraBits).toBe(1);
    expect(format.encodeValue(0x4000).code).toBe(format.encodeValue(0x4fff).code);
    expect(format.encodeValue(0x4000).code).not.toBe(format.encodeValue(0x5000).code);
    // Zero and NaR are codes of their own, with no extra bits.
    expect(format.encodeValue(0)).toEqual({ code: 0, extra: 0, extraBits: 0 });
    expect(format.encodeValue(0x8000)).toEqual({ code: format.codeCount - 1, extra: 0, extraBits: 0 });
  });

  it("known constants", () => {
    const value = (name: string, p: number) => builtinFormat(name).toFloat64(p);
    expect(value("fp8-e4m3", 0x7e)).toBe(448);
    expect(value("fp8-e4m3", 0x7f)).toBeNaN();
    expect(value("fp8-e4m3", 0x01)).toBe(2 ** -9);
    expect(value("fp8-e5m2", 0x7b)).toBe(57344);
    expect(value("fp8-e5m2", 0x7c)).toBe(Infinity);
    expect(value("fp6-e3m2", 0x1f)).toBe(28);
    expect(value("fp6-e2m3", 0x1f)).toBe(7.5);
    expect(value("fp4-e2m1", 0x7)).toBe(6);
    expect(value("fp4-e2m1", 0xf)).toBe(-6);
    expect(value("fp16", 0x7bff)).toBe(65504);
    expect(value("posit8es0", 0x7f)).toBe(64);
    expect(value("posit8es0", 0x01)).toBe(1 / 64);
    expect(value("posit8es2", 0x7f)).toBe(2 ** 24);
    expect(value("posit8es2", 0x40)).toBe(1);
    expect(value("posit16es1", 0x0001)).toBe(2 ** -28);
    expect(value("posit16es1", 0x7fff)).toBe(2 ** 28);
    expect(value("posit16es2", 0x7fff)).toBe(2 ** 56);
    expect(value("posit16es2", 0x8000)).toBeNaN();
    expect(value("int8", 0x80)).toBe(-128);
    expect(value("int4", 0x8)).toBe(-8);
    expect(value("uint8", 0xff)).toBe(255);
    expect(builtinFormat("binary").codeCount).toBe(1);
    expect(builtinFormat("ternary").codeCount).toBe(3);
    expect(builtinFormat("ternary").encodeValue(3)).toEqual({ code: 2, extra: 0, extraBits: 0 });
  });

  it("decodePair refuses codes and extras that name no pattern", () => {
    const e4m3 = builtinFormat("fp8-e4m3");
    expectCode(() => e4m3.decodePair(17, 0), "BAD_ARGUMENT", /code 17 is not one of its codes 0\.\.16/);
    expectCode(() => e4m3.decodePair(1, 16), "BAD_ARGUMENT", /does not fit the 4 extra bits/);
    // The top binade of E4M3 has 7 finite patterns: position 7 would be the NaN.
    expectCode(() => e4m3.decodePair(15, 7), "BAD_ARGUMENT", /past the 7 patterns of code 15/);
    expectCode(() => e4m3.encodeValue(256), "BAD_ARGUMENT", /not a 8-bit unsigned integer/);
    expectCode(() => codeTable(builtinFormat("fp32")), "BAD_ARGUMENT", /at most 16/);
  });

  it("top mantissa bits can join the code without changing any value", () => {
    for (const [e, m, specials] of [[5, 10, "ieee"], [8, 7, "ieee"], [4, 3, "fn"], [3, 2, "none"]] as const) {
      const plain = defineFormat(floatDescriptor({ name: "plain", exponentBits: e, mantissaBits: m, specials }));
      for (const k of [1, 2, m]) {
        const split = defineFormat(floatDescriptor({ name: "split", exponentBits: e, mantissaBits: m, specials, codeMantissaBits: k }));
        for (let p = 0; p < 2 ** (1 + e + m); p++) {
          const pair = split.encodeValue(p);
          const finite = Number.isFinite(plain.toFloat64(p));
          if (
            !sameValue(split.toFloat64(p), plain.toFloat64(p)) ||
            split.decodePair(pair.code, pair.extra) !== p ||
            (finite && pair.code !== (p & ((1 << (e + m)) - 1)) >> (m - k))
          ) {
            expect.fail(`E${e}M${m} with ${k} code mantissa bits: pattern 0x${p.toString(16)}`);
          }
        }
      }
    }
  });
});

describe("conversion into formats", () => {
  const SWEPT = [
    ["fp8-e4m3", "saturate"],
    ["fp8-e5m2", "ieee"],
    ["fp6-e3m2", "saturate"],
    ["fp6-e2m3", "saturate"],
    ["fp4-e2m1", "saturate"],
    ["int8", "saturate"],
    ["int4", "saturate"],
    ["uint8", "saturate"],
    ["ternary", "saturate"],
    ["fp16", "ieee"],
    ["bf16", "ieee"],
  ] as const;

  it.each(SWEPT)("%s: round to nearest even agrees with a brute-force search (%s overflow)", (name, overflow) => {
    const format = builtinFormat(name);
    const table = ladder(name, format.bits);
    const inf = overflow === "ieee" ? ([fromFloat64(Infinity, format), fromFloat64(-Infinity, format)] as [number, number]) : undefined;
    if (inf) {
      expect(format.toFloat64(inf[0])).toBe(Infinity);
      expect(format.toFloat64(inf[1])).toBe(-Infinity);
    }
    for (const x of probes(table.values, format.bits > 8 ? 20_000 : 2000)) {
      const got = fromFloat64(x, format);
      const expected = nearestRef(x, table, overflow, inf);
      if (got !== expected) expect.fail(`${name}: ${x} -> 0x${got.toString(16)}, expected 0x${expected.toString(16)}`);
    }
  });

  it.each(Object.keys(POSITS))("%s: rounding agrees with a textbook bit-string encoder", (name) => {
    const [n, es] = POSITS[name]!;
    const format = builtinFormat(name);
    const values: number[] = [];
    for (let p = 0; p < 2 ** n; p++) if (p !== 2 ** (n - 1)) values.push(positRef(p, n, es));
    values.sort((a, b) => a - b);
    const extremes = [2 ** 70, 2 ** -70, 2 ** (4 * es + 17), 1e-300, 1e300];
    for (const x of [...probes(values, 5000), ...extremes, ...extremes.map((x) => -x)]) {
      const got = fromFloat64(x, format);
      const expected = positEncodeRef(x, n, es);
      if (got !== expected) expect.fail(`${name}: ${x} -> 0x${got.toString(16)}, expected 0x${expected.toString(16)}`);
    }
  });

  it("fp32: agrees with Math.fround on random doubles, subnormals and overflow included", () => {
    const format = builtinFormat("fp32");
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const xs = [3.4028235677973366e38, 3.4028235677973362e38, 2 ** -149, 2 ** -150, 3 * 2 ** -151, 1e-46, 1 + 2 ** -24, 1 + 3 * 2 ** -24];
    for (let i = 0; i < 100_000; i++) xs.push((random() - 0.5) * 2 ** Math.floor(random() * 300 - 160));
    for (const x of [...xs, ...xs.map((x) => -x)]) {
      const got = fromFloat64(x, format);
      if (got !== fp32Bits(Math.fround(x))) expect.fail(`fp32: ${x} -> 0x${got.toString(16)}, expected 0x${fp32Bits(Math.fround(x)).toString(16)}`);
    }
  });

  it("bf16: agrees with the usual fp32 bit trick on float32 inputs", () => {
    const format = builtinFormat("bf16");
    let seed = 3;
    for (let i = 0; i < 100_000; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      const bits = seed;
      const x = fp32Value(bits);
      if (Number.isNaN(x)) continue;
      const expected = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
      if (fromFloat64(x, format) !== expected) expect.fail(`bf16: 0x${bits.toString(16)}`);
    }
  });

  it("exact ties go to the even pattern", () => {
    const to = (name: string, x: number) => fromFloat64(x, builtinFormat(name));
    expect(to("fp8-e4m3", 1 + 1 / 16)).toBe(0x38); // between 1 (even) and 1.125: 1
    expect(to("fp8-e4m3", 1 + 3 / 16)).toBe(0x3a); // between 1.125 and 1.25 (even): 1.25
    expect(to("fp8-e4m3", 2 ** -10)).toBe(0x00); // half the smallest subnormal: 0
    expect(to("fp8-e4m3", 3 * 2 ** -10)).toBe(0x02); // between 2^-9 and 2^-8 (even)
    expect(to("fp8-e4m3", 464)).toBe(0x7e); // saturates at 448
    expect(to("fp8-e5m2", 61440)).toBe(0x7c); // max + ulp/2 ties to infinity (even)
    expect(to("fp8-e5m2", 61439.99)).toBe(0x7b);
    expect(to("fp16", 65520)).toBe(0x7c00);
    expect(to("fp16", 2 ** -25)).toBe(0x0000);
    expect(to("fp16", -(2 ** -25))).toBe(0x8000);
    expect(to("int8", 2.5)).toBe(2);
    expect(to("int8", 3.5)).toBe(4);
    expect(to("int8", -0.5)).toBe(0);
    expect(to("int8", -127.5)).toBe(0x80);
    expect(to("int8", 127.5)).toBe(127);
    expect(to("fp4-e2m1", 5)).toBe(0x6); // between 4 (even) and 6: 4
    expect(to("fp4-e2m1", 2.5)).toBe(0x4); // between 2 (even) and 3: 2
    // posit⟨8,2⟩ near maxpos: exponent bits cut off, ties are geometric.
    expect(to("posit8es2", 2 ** 22)).toBe(0x7e); // between 2^20 (even) and 2^24
    expect(to("posit8es2", 2 ** 22 * 1.01)).toBe(0x7f);
    expect(to("posit8es2", 2 ** 17)).toBe(0x7c); // between 2^16 (even) and 2^18
    expect(to("posit8es2", 2 ** 19)).toBe(0x7e); // between 2^18 and 2^20 (even)
    expect(to("posit8es0", 48)).toBe(0x7e); // es = 0: arithmetic tie between 32 (even) and 64
    expect(to("posit8es2", 1e-30)).toBe(0x01); // never rounds to zero
    expect(to("posit8es2", -1e-30)).toBe(0xff);
    expect(to("posit8es2", 1e30)).toBe(0x7f);
  });

  it("specials: NaN, infinities and signed zeros", () => {
    const to = (name: string, x: number) => fromFloat64(x, builtinFormat(name));
    expect(to("fp32", NaN)).toBe(0x7fc00000);
    expect(to("fp16", NaN)).toBe(0x7e00);
    expect(to("bf16", NaN)).toBe(0x7fc0);
    expect(to("fp8-e5m2", NaN)).toBe(0x7e);
    expect(to("fp8-e4m3", NaN)).toBe(0x7f);
    expect(to("posit8es2", NaN)).toBe(0x80);
    expect(to("posit8es2", Infinity)).toBe(0x80);
    expect(to("fp8-e4m3", -Infinity)).toBe(0xfe);
    expect(to("fp4-e2m1", Infinity)).toBe(0x7);
    expect(to("int8", -Infinity)).toBe(0x80);
    expect(to("uint8", -3)).toBe(0);
    expect(to("fp16", -0)).toBe(0x8000);
    expect(to("int8", -0)).toBe(0);
    expect(to("posit8es0", -0)).toBe(0);
    expect(to("binary", 0)).toBe(0);
    expect(to("binary", -0)).toBe(1);
    expect(to("binary", 0.001)).toBe(0);
    expect(to("binary", -7)).toBe(1);
    expect(to("ternary", -0.4)).toBe(0);
    expect(to("ternary", -0.6)).toBe(3);
    expectCode(() => to("fp4-e2m1", NaN), "BAD_ARGUMENT", /has no NaN/);
  });
});

describe("conversion to compute types", () => {
  it("every E4M3, E5M2 and posit8 pattern converts to fp32 exactly", () => {
    for (const name of ["fp8-e4m3", "fp8-e5m2", "posit8es0", "posit8es2", "fp4-e2m1", "int8"]) {
      const patterns = Array.from({ length: 256 }, (_, p) => p).filter((p) => p < 2 ** builtinFormat(name).bits);
      const bits = toComputeBits(patterns, builtinFormat(name), "fp32");
      patterns.forEach((p, i) => {
        const expected = referenceValue(name, p)!;
        if (Number.isNaN(expected)) expect(bits[i]).toBe(0x7fc00000);
        else expect(fp32Value(bits[i]!)).toBe(expected);
      });
    }
  });

  it("E5M2 converts to fp16 by appending zero mantissa bits", () => {
    const patterns = Array.from({ length: 256 }, (_, p) => p);
    const bits = toComputeBits(patterns, builtinFormat("fp8-e5m2"), "fp16");
    patterns.forEach((p, i) => {
      if (!Number.isNaN(referenceValue("fp8-e5m2", p))) expect(bits[i]).toBe(p << 8);
    });
  });

  it("posit16 converts to bf16 and fp16 with one round to nearest even", () => {
    const posit = builtinFormat("posit16es1");
    const patterns = Array.from({ length: 65536 }, (_, p) => p);
    for (const [target, name] of [["bf16", "bf16"], ["fp16", "fp16"]] as const) {
      const table = ladder(name, 16);
      const inf: [number, number] = [fromFloat64(Infinity, builtinFormat(name)), fromFloat64(-Infinity, builtinFormat(name))];
      const bits = toComputeBits(patterns, posit, target);
      for (const p of patterns) {
        const v = positRef(p, 16, 1);
        const expected = Number.isNaN(v) ? fromFloat64(NaN, builtinFormat(name)) : nearestRef(v, table, "ieee", inf);
        if (bits[p] !== expected) expect.fail(`posit16es1 0x${p.toString(16)} -> ${target} 0x${bits[p]!.toString(16)}, expected 0x${expected.toString(16)}`);
      }
    }
  });

  it("recode between two stored formats", () => {
    const out = recode([0x38, 0x7e, 0xfe, 0x01], builtinFormat("fp8-e4m3"), builtinFormat("posit8es2"));
    expect(out).toBeInstanceOf(Uint8Array);
    // posit⟨8,2⟩ has one fraction bit at 2^8: 448 is the tie between 384 (odd pattern) and 512.
    expect(Array.from(out, (p) => builtinFormat("posit8es2").toFloat64(p))).toEqual([1, 512, -512, 2 ** -9]);
  });
});

describe("descriptors", () => {
  const base = (): FormatDescriptor => builtinDescriptor("fp8-e4m3");

  it("the documented JSON example parses and matches the built-in fp4", () => {
    const json = `{
      "name": "fp4-e2m1",
      "bits": 4,
      "signed": "sign-magnitude",
      "rounding": "saturate",
      "codes": [
        { "code": 0, "kind": "subnormal", "scale": 0, "extraBits": 1 },
        { "code": 1, "kind": "normal", "scale": 0, "extraBits": 1 },
        { "code": 2, "kind": "normal", "scale": 1, "extraBits": 1 },
        { "code": 3, "kind": "normal", "scale": 2, "extraBits": 1 }
      ]
    }`;
    const custom = parseFormatJson(json);
    const builtin = builtinFormat("fp4-e2m1");
    for (let p = 0; p < 16; p++) {
      expect(custom.toFloat64(p)).toBe(builtin.toFloat64(p));
      expect(custom.encodeValue(p)).toEqual(builtin.encodeValue(p));
    }
    expect(builtinDescriptor("fp4-e2m1")).toEqual(JSON.parse(json));
  });

  it("every built-in descriptor survives a JSON round trip", () => {
    for (const name of BUILTIN_FORMAT_NAMES) {
      const again = parseFormatJson(JSON.stringify(builtinFormat(name).descriptor));
      expect(again.descriptor).toEqual(builtinFormat(name).descriptor);
    }
  });

  it("a custom integer format: sign-magnitude, codes by bit length", () => {
    const format = defineFormat({
      name: "int-custom",
      bits: 5,
      signed: "sign-magnitude",
      codes: [
        { code: 0, kind: "zero" },
        { code: 1, kind: "int", scale: 0, count: 1 },
        { code: 2, kind: "int", scale: 1, extraBits: 1 },
        { code: 3, kind: "int", scale: 2, extraBits: 2 },
        { code: 4, kind: "int", scale: 3, extraBits: 3 },
      ],
    });
    expect(format.toFloat64(15)).toBe(15);
    expect(format.toFloat64(0x10)).toBe(-0);
    expect(format.encodeValue(0x1d)).toEqual({ code: 4, extra: 0b1101, extraBits: 4 });
    expect(fromFloat64(-12.5, format)).toBe(0x1c);
  });

  const BAD: [string, (d: FormatDescriptor) => unknown, RegExp][] = [
    ["not an object", () => [1, 2], /must be a JSON object/],
    ["no name", (d) => ({ ...d, name: "" }), /"name" must be a string of 1 to 64/],
    ["unknown field", (d) => ({ ...d, exponent: 4 }), /unknown field "exponent"/],
    ["bits over 32", (d) => ({ ...d, bits: 33 }), /"bits" must be an integer from 1 to 32, got 33/],
    ["bad signed", (d) => ({ ...d, signed: "ones-complement" }), /"signed" must be one of/],
    ["bad rounding", (d) => ({ ...d, rounding: "stochastic" }), /"rounding" must be one of/],
    ["empty codes", (d) => ({ ...d, codes: [] }), /"codes" must be a non-empty array/],
    ["duplicate code", (d) => ({ ...d, codes: d.codes.map((c, i) => (i === 3 ? { ...c, code: 2 } : c)) }), /code 2 is defined twice \(codes\[2\] and codes\[3\]\)/],
    ["gap in codes", (d) => ({ ...d, codes: d.codes.map((c) => (c.code === 16 ? { ...c, code: 17 } : c)) }), /code 16 is missing/],
    ["extraBits too large", (d) => ({ ...d, codes: d.codes.map((c, i) => (i === 1 ? { ...c, extraBits: 8 } : c)) }), /extraBits 8 out of range 0\.\.7/],
    ["negative extraBits", (d) => ({ ...d, codes: d.codes.map((c, i) => (i === 1 ? { ...c, extraBits: -1 } : c)) }), /extraBits -1 out of range/],
    ["count vs extraBits", (d) => ({ ...d, codes: d.codes.map((c, i) => (i === 1 ? { ...c, count: 3 } : c)) }), /count 3 needs extraBits 2, not 3/],
    ["overlapping ranges", (d) => ({ ...d, codes: d.codes.map((c, i) => (i === 2 ? { ...c, scale: -6 } : c)) }), /code 2 \(magnitudes 0\.015625\.\.0\.029296875\) overlaps code 1 \(0\.015625\.\.0\.029296875\)/],
    ["decreasing ranges", (d) => ({ ...d, codes: d.codes.map((c, i) => (i === 5 ? { ...c, scale: -5 } : c)) }), /code 5 .* is below code 4 .*ranges must increase/],
    ["runs past the end", (d) => ({ ...d, codes: d.codes.map((c) => (c.code === 15 ? { code: 15, kind: "normal", scale: 8, extraBits: 3 } : c)) }), /runs past the end of the positive side, which holds magnitudes 0\.\.127/],
    ["finite after nan", (d) => ({ ...d, codes: [...d.codes.slice(0, 15), { code: 15, kind: "nan" }, { code: 16, kind: "normal", scale: 8, count: 7 }] }), /finite code 16 follows nan code 15/],
    ["two nan codes", (d) => ({ ...d, codes: [...d.codes.slice(0, 15), { code: 15, kind: "normal", scale: 8, count: 6 }, { code: 16, kind: "nan" }, { code: 17, kind: "nan" }] }), /second nan code/],
    ["zero with count", (d) => ({ ...d, codes: [{ code: 0, kind: "zero", count: 2 }, ...d.codes.slice(1)] }), /a zero code covers exactly one pattern/],
    ["missing scale", (d) => ({ ...d, codes: d.codes.map((c, i) => (i === 1 ? { code: 1, kind: "normal", extraBits: 3 } : c)) }), /needs an integer "scale"/],
    ["field of another kind", (d) => ({ ...d, codes: d.codes.map((c, i) => (i === 16 ? { ...c, scale: 9 } : c)) }), /field "scale" is not allowed for a nan code/],
    ["unknown kind", (d) => ({ ...d, codes: d.codes.map((c, i) => (i === 16 ? { ...c, kind: "qnan" } : c)) }), /"kind" must be one of/],
    ["fraction leaves binade", (d) => ({ ...d, codes: d.codes.map((c, i) => (i === 1 ? { ...c, fractionStart: 4 } : c)) }), /fractionStart 4 \+ count 8 exceeds the 2\^3 steps/],
    ["fractionBits over 52", (d) => ({ ...d, codes: d.codes.map((c, i) => (i === 0 ? { ...c, scale: -1022, fractionBits: 60 } : c)) }), /fractionBits 60 out of range 3\.\.52/],
    ["sign on unsigned", () => ({ name: "u", bits: 2, signed: "none", codes: [{ code: 0, kind: "zero", sign: "negative" }] }), /an unsigned format has only positive codes/],
    ["two's complement both-sign zero", () => ({ name: "t", bits: 2, signed: "twos-complement", codes: [{ code: 0, kind: "zero" }] }), /positive side continues at magnitude 0 and the negative side at 1/],
    ["ieee without inf", (d) => ({ ...d, rounding: "ieee" }), /rounding "ieee" overflows to infinity, but the positive side has no inf code/],
    ["posit without NaR", () => ({ name: "p", bits: 3, signed: "twos-complement", rounding: "posit", codes: [{ code: 0, kind: "zero", sign: "positive" }, { code: 1, kind: "normal", scale: 0, extraBits: 1 }] }), /rounding "posit" needs a zero code and a nan code/],
    ["posit uneven gap", () => ({ name: "p", bits: 3, signed: "twos-complement", rounding: "posit", codes: [{ code: 0, kind: "zero", sign: "positive" }, { code: 1, kind: "normal", scale: 0 }, { code: 2, kind: "normal", scale: 3, sign: "positive" }, { code: 3, kind: "normal", scale: 3, sign: "negative" }, { code: 4, kind: "nan", sign: "negative" }] }), /even number of binades apart across a gap, but 1 is followed by 8/],
    ["inexact tie", () => ({ name: "t", bits: 2, signed: "sign-magnitude", codes: [{ code: 0, kind: "zero" }, { code: 1, kind: "subnormal", scale: -1022, fractionBits: 52, fractionStart: 1 }] }), /midpoint of neighbouring values 0 and 5e-324 is not exact/],
    ["only NaN", () => ({ name: "n", bits: 1, signed: "none", codes: [{ code: 0, kind: "nan" }] }), /needs at least one finite code/],
  ];

  it.each(BAD)("refuses %s", (_label, mutate, message) => {
    expectCode(() => defineFormat(mutate(base())), "BAD_FORMAT_DESCRIPTOR", message);
  });

  it("refuses text that is not JSON", () => {
    expectCode(() => parseFormatJson("{ name: fp8 }"), "BAD_FORMAT_DESCRIPTOR", /format descriptor is not valid JSON/);
  });
});

// ---------------------------------------------------------------------------

/** The tensors of a safetensors file: 8-byte LE header length, JSON header, data. */
function readSafetensors(path: string): Map<string, { dtype: string; data: Uint8Array }> {
  const file = readFileSync(path);
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const tensors = new Map<string, { dtype: string; data: Uint8Array }>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [start, end] = entry.data_offsets;
    tensors.set(name, { dtype: entry.dtype, data: new Uint8Array(file.buffer, file.byteOffset + 8 + headerLength + start, end - start) });
  }
  return tensors;
}

function bf16ToFloat32(data: Uint8Array): Float32Array {
  const bits = new Uint16Array(data.slice().buffer);
  return Float32Array.from(bits, (b) => fp32Value(b * 0x10000));
}

/** Order-0 entropy of the codes plus the extra bits, per value, recomputed directly. */
function pairBits(format: NumericFormat, data: ArrayLike<number>): number {
  const counts = new Map<number, number>();
  let extra = 0;
  for (let i = 0; i < data.length; i++) {
    const pair = format.encodeValue(data[i]!);
    counts.set(pair.code, (counts.get(pair.code) ?? 0) + 1);
    extra += pair.extraBits;
  }
  let bits = extra;
  for (const c of counts.values()) bits -= c * Math.log2(c / data.length);
  return bits / data.length;
}

describe("real weights (stories260K, bf16)", () => {
  const tensor = readSafetensors("fixtures/stories260K.bf16.safetensors").get("model.layers.0.self_attn.q_proj.weight")!;
  const weights = bf16ToFloat32(tensor.data);

  function checkPairs(format: NumericFormat, data: ArrayLike<number>): void {
    const table = codeTable(format);
    for (let i = 0; i < data.length; i++) {
      const p = data[i]!;
      const pair = format.encodeValue(p);
      expect(format.decodePair(pair.code, pair.extra)).toBe(p);
      expect(table.patternOf[table.pairStart[table.codeOf[p]!]! + table.extraOf[p]!]).toBe(p);
    }
  }

  it("quantises to fp8 E4M3 within half a step of every weight", () => {
    expect(tensor.dtype).toBe("BF16");
    expect(weights.length).toBe(4096);
    const format = builtinFormat("fp8-e4m3");
    const result = quantize(weights, format);
    expect(result.data).toBeInstanceOf(Uint8Array);
    // Round to nearest with 3 mantissa bits: the error is at most half a step,
    // 2^-4 of the weight's binade in the normal range (|w| ≥ 2^-6) and half the
    // subnormal step 2^-9 below it. No weight is near 448, so none saturates.
    weights.forEach((w, i) => {
      const bound = Math.max(Math.abs(w) * 2 ** -4, 2 ** -10);
      expect(Math.abs(format.toFloat64(result.data[i]!) - w)).toBeLessThanOrEqual(bound);
    });
    expect(result.error.maxAbs).toBeLessThanOrEqual(Math.max(...weights.map(Math.abs)) * 2 ** -4);
    expect(result.error.rms).toBeLessThan(result.error.maxAbs);
    expect(result.bitsPerWeight).toBeCloseTo(pairBits(format, result.data), 10);
    expect(result.bitsPerWeight).toBeLessThan(8);
    checkPairs(format, result.data);
  });

  it("quantises to posit⟨8,2⟩ within half a step of every weight, the step set by the regime", () => {
    const format = builtinFormat("posit8es2");
    const result = quantize(weights, format);
    // posit⟨8,2⟩ at binade 2^s: regime r = floor(s/4) takes |r|+1 (r < 0) or
    // r+2 bits, es = 2, and the remaining 7 − regime − 2 bits are fraction, so
    // the step is 2^(s − fraction) and nearest rounding errs by half of it.
    // All weights lie in [2^-16, 2^4), where no exponent bit is cut off.
    weights.forEach((w, i) => {
      if (w === 0) return expect(result.data[i]).toBe(0);
      const s = ((fp32Bits(w) >>> 23) & 0xff) - 127;
      expect(s).toBeGreaterThanOrEqual(-16);
      expect(s).toBeLessThan(4);
      const r = Math.floor(s / 4);
      const regimeBits = r < 0 ? -r + 1 : r + 2;
      const fraction = Math.max(0, 7 - regimeBits - 2);
      expect(Math.abs(format.toFloat64(result.data[i]!) - w)).toBeLessThanOrEqual(2 ** (s - fraction - 1));
    });
    // Weights of magnitude 2^-4 .. 2^4 keep 3 fraction bits: at most 2^-4 relative error.
    weights.forEach((w, i) => {
      if (Math.abs(w) >= 2 ** -4) expect(Math.abs(format.toFloat64(result.data[i]!) - w) / Math.abs(w)).toBeLessThanOrEqual(2 ** -4);
    });
    expect(result.bitsPerWeight).toBeCloseTo(pairBits(format, result.data), 10);
    checkPairs(format, result.data);
  });

  it("quantises to int8 and ternary with a scale", () => {
    const maxAbs = Math.max(...weights.map(Math.abs));
    const scale = 2 ** Math.ceil(Math.log2(maxAbs / 127));
    const int8 = quantize(weights, builtinFormat("int8"), { scale });
    expect(int8.error.maxAbs).toBeLessThanOrEqual(scale / 2);
    checkPairs(builtinFormat("int8"), int8.data);
    const ternary = quantize(weights, builtinFormat("ternary"), { scale: maxAbs / 2 });
    expect(ternary.bitsPerWeight).toBeLessThanOrEqual(Math.log2(3) + 1e-9);
    expect(ternary.bitsPerWeight).toBeCloseTo(pairBits(builtinFormat("ternary"), ternary.data), 10);
    expectCode(() => quantize(Float32Array.of(1, NaN), builtinFormat("int8")), "BAD_ARGUMENT", /values\[1\] is NaN/);
    expectCode(() => quantize(weights, builtinFormat("int8"), { scale: 0 }), "BAD_ARGUMENT", /scale must be positive/);
  });
});
