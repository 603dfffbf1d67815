// How each coded element type splits into a coding pair (docs/FORMAT.md).
//
// A float of width W bytes with E exponent and M mantissa bits becomes
//   code = exponent << k | top k mantissa bits      (E + k bits, rANS coded)
//   raw  = sign << (M - k) | low M - k mantissa bits (1 + M - k bits, stored raw)
// Byte streams (every other dtype) code each byte whole and store nothing raw.

import { AnsfError } from "./errors.js";

export type CodedDtype = "bf16" | "fp16" | "fp32" | "u8";

export interface PairLayout {
  readonly name: CodedDtype;
  /** Stable id in the container. */
  readonly id: number;
  /** Bytes per element. */
  readonly width: 1 | 2 | 4;
  readonly exponentBits: number;
  readonly mantissaBits: number;
  /** 1 when the top bit is a sign stored raw. */
  readonly signed: 0 | 1;
  /** Largest k offered: top mantissa bits that may join the code. */
  readonly maxK: number;
}

export const LAYOUTS: readonly PairLayout[] = [
  { name: "u8", id: 0, width: 1, exponentBits: 8, mantissaBits: 0, signed: 0, maxK: 0 },
  { name: "bf16", id: 1, width: 2, exponentBits: 8, mantissaBits: 7, signed: 1, maxK: 7 },
  { name: "fp16", id: 2, width: 2, exponentBits: 5, mantissaBits: 10, signed: 1, maxK: 10 },
  { name: "fp32", id: 3, width: 4, exponentBits: 8, mantissaBits: 23, signed: 1, maxK: 7 },
];

export function layoutOf(dtype: string): PairLayout {
  const layout = LAYOUTS.find((l) => l.name === dtype);
  if (!layout) throw new AnsfError("BAD_ARGUMENT", `unsupported dtype "${dtype}": expected bf16, fp16, fp32 or u8`);
  return layout;
}

export function layoutById(id: number): PairLayout {
  const layout = LAYOUTS[id];
  if (!layout) throw new AnsfError("CORRUPT_STREAM", `unknown element layout id ${id}`);
  return layout;
}

/** Shift of the code within an element: the mantissa bits left raw. */
export function codeShift(layout: PairLayout, k: number): number {
  return layout.mantissaBits - k;
}

export function codeBits(layout: PairLayout, k: number): number {
  return layout.exponentBits + k;
}

/** Raw bits per element. */
export function rawBits(layout: PairLayout, k: number): number {
  return layout.mantissaBits - k + layout.signed;
}
