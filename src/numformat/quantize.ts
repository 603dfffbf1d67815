// Quantisation of weights into a numeric format, with the error it costs and
// an estimate of what the result compresses to as coding pairs.

import { AnsfError } from "../errors.js";
import { fromFloat64, storageArray, type StorageArray } from "./convert.js";
import type { NumericFormat } from "./format.js";

export interface QuantizeOptions {
  /**
   * Stored values represent value / scale (default 1): each weight v is
   * stored as round(v / scale) and reads back as decoded × scale. A power of
   * two keeps the division exact; integer and ternary formats need one.
   */
  scale?: number;
}

export interface QuantizationError {
  /** Largest |quantised − original|. */
  maxAbs: number;
  /** Root mean square of quantised − original. */
  rms: number;
  /** Root mean square of the originals, so that rms / valueRms is the relative RMS error. */
  valueRms: number;
  /** Largest |quantised − original| / |original| over nonzero originals. */
  maxRel: number;
}

export interface QuantizeResult {
  /** Storage patterns, in the narrowest array that holds the format's bits. */
  data: StorageArray;
  error: QuantizationError;
  /**
   * Order-0 entropy of the codes plus the mean extra bits, per weight: the
   * size the coding pairs compress to, model and stream overhead aside.
   */
  bitsPerWeight: number;
}

/** Order-0 entropy, in bits, of a sequence with these symbol counts. */
function entropyBits(counts: Float64Array, total: number): number {
  let bits = 0;
  for (const c of counts) if (c > 0) bits -= c * Math.log2(c / total);
  return bits;
}

/** Rounds each weight into `format` (see convert.ts for rounding); non-finite weights are BAD_ARGUMENT. */
export function quantize(values: Float32Array, format: NumericFormat, options: QuantizeOptions = {}): QuantizeResult {
  const scale = options.scale ?? 1;
  if (!(scale > 0 && scale < Infinity)) throw new AnsfError("BAD_ARGUMENT", `quantize: scale must be positive and finite, got ${scale}`);
  const n = values.length;
  const data = storageArray(format.bits, n);
  const codeCounts = new Float64Array(format.codeCount);
  let extraBits = 0;
  let maxAbs = 0;
  let sumSquares = 0;
  let valueSquares = 0;
  let maxRel = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new AnsfError("BAD_ARGUMENT", `quantize: values[${i}] is ${v}; weights must be finite`);
    const pattern = fromFloat64(v / scale, format);
    data[i] = pattern;
    const error = Math.abs(format.toFloat64(pattern) * scale - v);
    maxAbs = Math.max(maxAbs, error);
    sumSquares += error * error;
    valueSquares += v * v;
    if (v !== 0) maxRel = Math.max(maxRel, error / Math.abs(v));
    const pair = format.encodeValue(pattern);
    codeCounts[pair.code]!++;
    extraBits += pair.extraBits;
  }
  return {
    data,
    error: { maxAbs, rms: n > 0 ? Math.sqrt(sumSquares / n) : 0, valueRms: n > 0 ? Math.sqrt(valueSquares / n) : 0, maxRel },
    bitsPerWeight: n > 0 ? (entropyBits(codeCounts, n) + extraBits) / n : 0,
  };
}
