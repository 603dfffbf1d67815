// An independent transcription of docs/FORMAT.md §Shaped model in BigInt
// arithmetic, to hold the Wasm core's shaped tables (assembly/shape.ts) to
// the text.

const EXP2_STEPS = [
  3037000500n, 2553802834n, 2341847524n, 2242560872n, 2194507417n, 2170868212n, 2159144272n, 2153306067n,
  2150392887n, 2148937775n, 2148210589n, 2147847087n, 2147665360n, 2147574502n, 2147529075n, 2147506361n,
];

/** 2^(f / 2^16) in Q31 by the constants, one per set bit of f. */
function exp2Bits(f: bigint): bigint {
  let y = 1n << 31n;
  for (let i = 0; i < 16; i++) if (f & (0x8000n >> BigInt(i))) y = (y * EXP2_STEPS[i]!) >> 31n;
  return y;
}

/** 2^(f / 2^16) in Q31: the powers of f's high and low bytes, multiplied. */
function exp2(f: bigint): bigint {
  return (exp2Bits((f >> 8n) << 8n) * exp2Bits(f & 255n)) >> 31n;
}

/** log2(v) in Q16 by squaring. */
function log2(v: bigint): bigint {
  const whole = BigInt(v.toString(2).length - 1);
  let y = v << (31n - whole);
  let fraction = 0n;
  for (let i = 0; i < 16; i++) {
    y = (y * y) >> 31n;
    if (y >= 1n << 32n) {
      y >>= 1n;
      fraction |= 1n << BigInt(15 - i);
    }
  }
  return (whole << 16n) | fraction;
}

/** Q16 log2 of code c's bucket midpoint at k mantissa bits. */
export function referencePosition(c: number, k: number): bigint {
  const e = c >> k;
  const odd = BigInt(2 * (c & ((1 << k) - 1)) + 1 + (e > 0 ? 2 << k : 0));
  return log2(odd) + (BigInt(Math.max(e, 1) - 2 - k) << 16n);
}

/** The frequencies of `codes` (ascending) under a shaped model; null where the largest would be left less than 1. */
export function referenceShape(codes: number[], k: number, precision: number, beta: number, scale: number): number[] | null {
  const z = codes.map((c) => {
    const e = BigInt(Math.max(c >> k, 1));
    const t = (BigInt(beta + 1) * (referencePosition(c, k) - (BigInt(scale) << 12n))) >> 4n;
    const whole = t >> 16n;
    let g = 1n << 30n;
    if (whole < 14n) {
      const shift = 15n - whole;
      g = shift >= 40n ? 0n : ((exp2(t & 0xffffn) * 3098164009n) >> 31n) >> shift;
      if (g > 1n << 30n) g = 1n << 30n;
    }
    return (e << 16n) - g;
  });
  const top = z.reduce((a, b) => (b > a ? b : a));
  const q = z.map((v) => {
    const r = v - top;
    return r < -(16n << 16n) ? 0n : exp2(r & 0xffffn) >> (15n - (r >> 16n));
  });
  const shares = q.reduce((a, b) => a + b, 0n);
  const f = q.map((v) => {
    const x = ((v << BigInt(precision)) + (shares >> 1n)) / shares;
    return x < 1n ? 1n : x;
  });
  let largest = 0;
  f.forEach((v, i) => {
    if (v > f[largest]!) largest = i;
  });
  const rest = f[largest]! + (1n << BigInt(precision)) - f.reduce((a, b) => a + b, 0n);
  if (rest < 1n) return null;
  f[largest] = rest;
  return f.map(Number);
}

/** The scale a shaped model's offset is written from: the highest code's position in 1/16 units, floored, less 32. */
export function referenceScaleBase(top: number, k: number): number {
  return Number(referencePosition(top, k) >> 12n) - 32;
}
