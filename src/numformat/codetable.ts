// The flat tables a coder works from for formats of up to 16 bits: a
// pattern's coding pair by direct lookup, and a pair's pattern the same way.

import { AnsfError } from "../errors.js";
import type { NumericFormat } from "./format.js";

/** Marks an unused storage pattern in {@link CodeTable.codeOf}. */
export const UNUSED_PATTERN = 0xffff;

export interface CodeTable {
  /** Code of each storage pattern, {@link UNUSED_PATTERN} where the format does not use it. */
  readonly codeOf: Uint16Array;
  /** Extra (raw bits) of each storage pattern, 0 where unused. */
  readonly extraOf: Uint16Array;
  /** Extra bits of each code, sign bit included. */
  readonly extraBitsOf: Uint8Array;
  /** The pattern of pair (code, extra) is patternOf[pairStart[code] + extra]; pairStart has codeCount + 1 entries. */
  readonly pairStart: Uint32Array;
  /** -1 where an extra value is past the end of its code. */
  readonly patternOf: Int32Array;
}

/** Builds the coder's tables; formats wider than 16 bits are BAD_ARGUMENT (use encodeValue/decodePair). */
export function codeTable(format: NumericFormat): CodeTable {
  if (format.bits > 16) {
    throw new AnsfError("BAD_ARGUMENT", `format "${format.name}" has ${format.bits}-bit patterns; code tables cover at most 16`);
  }
  const patterns = 2 ** format.bits;
  const codeOf = new Uint16Array(patterns).fill(UNUSED_PATTERN);
  const extraOf = new Uint16Array(patterns);
  const extraBitsOf = Uint8Array.from({ length: format.codeCount }, (_, code) => format.extraBitsOf(code));
  const pairStart = new Uint32Array(format.codeCount + 1);
  for (let code = 0; code < format.codeCount; code++) pairStart[code + 1] = pairStart[code]! + 2 ** extraBitsOf[code]!;
  const patternOf = new Int32Array(pairStart[format.codeCount]!).fill(-1);
  for (let p = 0; p < patterns; p++) {
    const pair = format.pairOf(p);
    if (!pair) continue;
    codeOf[p] = pair.code;
    extraOf[p] = pair.extra;
    patternOf[pairStart[pair.code]! + pair.extra] = p;
  }
  return { codeOf, extraOf, extraBitsOf, pairStart, patternOf };
}
