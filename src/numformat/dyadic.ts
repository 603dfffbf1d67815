// Exact float64 arithmetic on dyadic rationals (integer × power of two), the
// only kind of number a numeric format holds. The helpers build values from
// bits or report that a result is not exact, so that every conversion built
// on them is exact or refused, never silently rounded twice.

const scratch = new DataView(new ArrayBuffer(8));

/** 2^k exactly, for integer k in [-1074, 1023]. */
export function pow2(k: number): number {
  if (k >= -1022) {
    scratch.setUint32(0, (k + 1023) * 0x100000); // biased exponent in the high word
    scratch.setUint32(4, 0);
  } else {
    const bit = k + 1074; // a subnormal: one mantissa bit set
    scratch.setUint32(0, bit >= 32 ? (1 << (bit - 32)) >>> 0 : 0);
    scratch.setUint32(4, bit < 32 ? (1 << bit) >>> 0 : 0);
  }
  return scratch.getFloat64(0);
}

/** log2(x) when x is a positive finite power of two, else undefined. */
export function exactLog2(x: number): number | undefined {
  if (!(x > 0) || x === Infinity) return undefined;
  scratch.setFloat64(0, x);
  const high = scratch.getUint32(0);
  const low = scratch.getUint32(4);
  const biased = high >>> 20;
  const mantissaHigh = high & 0xfffff;
  if (biased > 0) return mantissaHigh === 0 && low === 0 ? biased - 1023 : undefined;
  // Subnormal: a power of two has exactly one mantissa bit set.
  const word = mantissaHigh !== 0 ? mantissaHigh : low;
  if ((mantissaHigh !== 0 && low !== 0) || (word & (word - 1)) !== 0) return undefined;
  return 31 - Math.clz32(word) + (mantissaHigh !== 0 ? 32 : 0) - 1074;
}

/** (a + b) / 2 when float64 holds it exactly, else undefined. */
export function exactMidpoint(a: number, b: number): number | undefined {
  const sum = a + b;
  if (!Number.isFinite(sum)) return undefined;
  // Knuth's TwoSum: the rounding error of a + b, exactly.
  const bVirtual = sum - a;
  const error = a - (sum - bVirtual) + (b - bVirtual);
  if (error !== 0) return undefined;
  const half = sum / 2;
  return half * 2 === sum ? half : undefined;
}
