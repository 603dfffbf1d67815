// The built-in formats. Each family's rule is written once as a generator
// (floats, posits, integers) and the built-ins are its instances, so the
// tables cannot disagree with the rule.

import { AnsfError } from "../errors.js";
import { extraBitsFor, type CodeDescriptor, type FormatDescriptor } from "./descriptor.js";
import { defineFormat, type NumericFormat } from "./format.js";

/**
 * What the top exponent field of a float holds: `"ieee"` infinity and NaNs;
 * `"fn"` ordinary values except an all-ones mantissa, which is NaN (OCP FP8
 * E4M3); `"none"` ordinary values only (OCP MX FP6 and FP4).
 */
export type FloatSpecials = "ieee" | "fn" | "none";

export interface FloatLayout {
  name: string;
  exponentBits: number;
  mantissaBits: number;
  specials: FloatSpecials;
  /** Top mantissa bits that join the exponent field in the code (default 0). */
  codeMantissaBits?: number;
}

type NewCode = Omit<CodeDescriptor, "code">;

function badArgument(message: string): never {
  throw new AnsfError("BAD_ARGUMENT", message);
}

/** Codes numbered in the order they are added, which is the pattern order. */
function numbered(codes: readonly NewCode[]): CodeDescriptor[] {
  return codes.map((c, code) => ({ code, ...c }));
}

/** extraBits, plus count when the code does not fill its extra bits. */
function positionFields(count: number): { extraBits: number; count?: number } {
  const extraBits = extraBitsFor(count);
  return count === 2 ** extraBits ? { extraBits } : { extraBits, count };
}

/**
 * A sign-magnitude binary float: code = exponent field (and the top
 * `codeMantissaBits` mantissa bits), extra = sign + remaining mantissa bits.
 */
export function floatDescriptor(layout: FloatLayout): FormatDescriptor {
  const { name, exponentBits, mantissaBits, specials } = layout;
  const k = layout.codeMantissaBits ?? 0;
  if (!Number.isInteger(k) || k < 0 || k > mantissaBits) {
    badArgument(`float "${name}": codeMantissaBits ${k} out of range 0..${mantissaBits}`);
  }
  const bias = 2 ** (exponentBits - 1) - 1;
  const topField = 2 ** exponentBits - 1;
  const perCode = 2 ** (mantissaBits - k);
  const codes: NewCode[] = [];
  for (let field = 0; field <= (specials === "ieee" ? topField - 1 : topField); field++) {
    const binade = specials === "fn" && field === topField ? 2 ** mantissaBits - 1 : 2 ** mantissaBits;
    for (let start = 0; start < binade; start += perCode) {
      codes.push({
        kind: field === 0 ? "subnormal" : "normal",
        scale: Math.max(field, 1) - bias,
        ...positionFields(Math.min(perCode, binade - start)),
        ...(k > 0 ? { fractionBits: mantissaBits, fractionStart: start } : {}),
      });
    }
  }
  if (specials === "ieee") {
    codes.push({ kind: "inf" });
    if (mantissaBits > 0) codes.push({ kind: "nan", ...positionFields(2 ** mantissaBits - 1) });
  }
  if (specials === "fn") codes.push({ kind: "nan" });
  return {
    name,
    bits: 1 + exponentBits + mantissaBits,
    signed: "sign-magnitude",
    rounding: specials === "ieee" ? "ieee" : "saturate",
    codes: numbered(codes),
  };
}

/**
 * posit⟨n, es⟩ (2022 standard): code = regime and exponent (one code per
 * scale), extra = sign + the fraction bits the regime leaves, which is the
 * variable precision.
 */
export function positDescriptor(n: number, es: number): FormatDescriptor {
  if (!Number.isInteger(n) || n < 2 || n > 32) badArgument(`posit n ${n} out of range 2..32`);
  if (!Number.isInteger(es) || es < 0 || es > 4) badArgument(`posit es ${es} out of range 0..4`);
  const rest = n - 1; // bits after the sign
  // Regimes in increasing value: runs of 0s from the longest (r = −run),
  // then runs of 1s from the shortest (r = run − 1).
  const regimes: { r: number; run: number }[] = [];
  for (let run = rest - 1; run >= 1; run--) regimes.push({ r: -run, run });
  for (let run = 1; run <= rest; run++) regimes.push({ r: run - 1, run });
  const codes: NewCode[] = [{ kind: "zero", sign: "positive" }];
  for (const { r, run } of regimes) {
    const left = rest - Math.min(run + 1, rest); // after the regime and its terminating bit
    const exponentBits = Math.min(es, left); // a long regime cuts exponent bits off: they read as 0
    for (let e = 0; e < 2 ** exponentBits; e++) {
      codes.push({ kind: "normal", scale: r * 2 ** es + e * 2 ** (es - exponentBits), extraBits: left - exponentBits });
    }
  }
  codes.push({ kind: "nan", sign: "negative" }); // NaR is 100…0, its own two's complement
  return { name: `posit${n}es${es}`, bits: n, signed: "twos-complement", rounding: "posit", codes: numbered(codes) };
}

/** An integer format: code = bit length of the magnitude, extra = sign + the bits below the leading one. */
export function integerDescriptor(name: string, bits: number, signed: "twos-complement" | "none"): FormatDescriptor {
  const magnitudeBits = signed === "none" ? bits : bits - 1;
  const codes: NewCode[] = [{ kind: "zero", sign: "positive" }];
  for (let scale = 0; scale < magnitudeBits; scale++) codes.push({ kind: "int", scale, extraBits: scale });
  if (signed === "twos-complement") codes.push({ kind: "int", scale: bits - 1, sign: "negative" }); // −2^(bits−1)
  return { name, bits, signed, rounding: "saturate", codes: numbered(codes) };
}

const BUILTIN_DESCRIPTORS = {
  fp32: floatDescriptor({ name: "fp32", exponentBits: 8, mantissaBits: 23, specials: "ieee" }),
  fp16: floatDescriptor({ name: "fp16", exponentBits: 5, mantissaBits: 10, specials: "ieee" }),
  bf16: floatDescriptor({ name: "bf16", exponentBits: 8, mantissaBits: 7, specials: "ieee" }),
  "fp8-e4m3": floatDescriptor({ name: "fp8-e4m3", exponentBits: 4, mantissaBits: 3, specials: "fn" }),
  "fp8-e5m2": floatDescriptor({ name: "fp8-e5m2", exponentBits: 5, mantissaBits: 2, specials: "ieee" }),
  "fp6-e3m2": floatDescriptor({ name: "fp6-e3m2", exponentBits: 3, mantissaBits: 2, specials: "none" }),
  "fp6-e2m3": floatDescriptor({ name: "fp6-e2m3", exponentBits: 2, mantissaBits: 3, specials: "none" }),
  "fp4-e2m1": floatDescriptor({ name: "fp4-e2m1", exponentBits: 2, mantissaBits: 1, specials: "none" }),
  posit8es0: positDescriptor(8, 0),
  posit8es2: positDescriptor(8, 2),
  posit16es1: positDescriptor(16, 1),
  posit16es2: positDescriptor(16, 2),
  int8: integerDescriptor("int8", 8, "twos-complement"),
  int4: integerDescriptor("int4", 4, "twos-complement"),
  uint8: integerDescriptor("uint8", 8, "none"),
  // 0 is +1 and 1 is −1: one code, and the sign is the single extra bit.
  binary: { name: "binary", bits: 1, signed: "sign-magnitude", rounding: "saturate", codes: [{ code: 0, kind: "int", scale: 0 }] },
  // Two's complement 0, +1, −1 (pattern 2, i.e. −2, is unused); three codes, no extra bits.
  ternary: {
    name: "ternary",
    bits: 2,
    signed: "twos-complement",
    rounding: "saturate",
    codes: [
      { code: 0, kind: "zero", sign: "positive" },
      { code: 1, kind: "int", scale: 0, sign: "positive" },
      { code: 2, kind: "int", scale: 0, sign: "negative" },
    ],
  },
} satisfies Record<string, FormatDescriptor>;

export type BuiltinFormatName = keyof typeof BUILTIN_DESCRIPTORS;

export const BUILTIN_FORMAT_NAMES = Object.keys(BUILTIN_DESCRIPTORS) as BuiltinFormatName[];

function isBuiltinName(name: string): name is BuiltinFormatName {
  return Object.hasOwn(BUILTIN_DESCRIPTORS, name);
}

/** A copy of a built-in descriptor, e.g. to write it out as a starting point for a custom format. */
export function builtinDescriptor(name: string): FormatDescriptor {
  if (!isBuiltinName(name)) badArgument(`unknown format "${name}": built-ins are ${BUILTIN_FORMAT_NAMES.join(", ")}`);
  return structuredClone(BUILTIN_DESCRIPTORS[name]);
}

const compiled = new Map<string, NumericFormat>();

/** A built-in format, compiled once. */
export function builtinFormat(name: string): NumericFormat {
  let format = compiled.get(name);
  if (!format) {
    format = defineFormat(builtinDescriptor(name));
    compiled.set(name, format);
  }
  return format;
}
