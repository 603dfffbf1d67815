// The ideal bound every exponent-only coder is measured against: per float
// tensor, the exponent field coded at its order-0 entropy with a free model,
// sign and mantissa stored raw, and every other byte (header, non-float
// tensors) stored raw.

import { FLOAT_LAYOUTS, isFloatDtype, type SafetensorsLayout } from "./safetensors.js";

export interface ExponentBound {
  /** Size of the file under the bound, in bits. */
  bits: number;
  /** Original size over that bound. */
  ratio: number;
}

/** Order-0 entropy of a histogram, in bits for all of its samples together. */
export function histogramBits(counts: ArrayLike<number>): number {
  let total = 0;
  let sumCLogC = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c === 0) continue;
    total += c;
    sumCLogC += c * Math.log2(c);
  }
  return total === 0 ? 0 : total * Math.log2(total) - sumCLogC;
}

export function exponentBound(file: Uint8Array, layout: SafetensorsLayout): ExponentBound {
  let rawBytes = file.length;
  let bits = 0;
  for (const t of layout.tensors) {
    if (!isFloatDtype(t.dtype)) continue;
    const { width, exponentBits, mantissaBits } = FLOAT_LAYOUTS[t.dtype];
    const n = (t.end - t.begin) / width;
    // The top 16 bits of every float format here hold the sign and the whole
    // exponent, so one extraction serves bf16, fp16 and fp32.
    const shift = 15 - exponentBits;
    const mask = (1 << exponentBits) - 1;
    const counts = new Float64Array(1 << exponentBits);
    for (let at = t.begin + width - 2; at < t.end; at += width) {
      const top16 = file[at]! | (file[at + 1]! << 8);
      counts[(top16 >> shift) & mask]!++;
    }
    bits += histogramBits(counts) + n * (1 + mantissaBits);
    rawBytes -= t.end - t.begin;
  }
  bits += rawBytes * 8;
  return { bits, ratio: (file.length * 8) / bits };
}
