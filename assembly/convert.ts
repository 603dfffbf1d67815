// Stored patterns of a numeric format through a lookup table, after their
// chunk is decoded: to a compute type (fp32, bf16 or fp16 bits), or to
// themselves (a checked copy). The tables are built in TypeScript from
// src/numformat's exact reference conversion, once per format and target,
// so every rounding rule lives in one place; here it is one load per element.

/**
 * dst[e] = table[src[e]] for n patterns (S: u8 or u16; D: u8, u16 or u32
 * entries). `unused` holds a byte per pattern, nonzero where the format does
 * not use it. Returns 0, or 1 + the index of the first unused pattern.
 */
function convertAs<S, D>(src: usize, n: usize, table: usize, unused: usize, dst: usize): usize {
  let bad: u32 = 0;
  let e: usize = 0;
  // Four at a time: independent loads keep the lookups in flight.
  for (; e + 4 <= n; e += 4) {
    const s = src + e * sizeof<S>();
    const p0 = usize(load<S>(s));
    const p1 = usize(load<S>(s, sizeof<S>()));
    const p2 = usize(load<S>(s, 2 * sizeof<S>()));
    const p3 = usize(load<S>(s, 3 * sizeof<S>()));
    const d = dst + e * sizeof<D>();
    store<D>(d, load<D>(table + p0 * sizeof<D>()));
    store<D>(d, load<D>(table + p1 * sizeof<D>()), sizeof<D>());
    store<D>(d, load<D>(table + p2 * sizeof<D>()), 2 * sizeof<D>());
    store<D>(d, load<D>(table + p3 * sizeof<D>()), 3 * sizeof<D>());
    bad |= u32(load<u8>(unused + p0)) | u32(load<u8>(unused + p1)) | u32(load<u8>(unused + p2)) | u32(load<u8>(unused + p3));
  }
  for (; e < n; e++) {
    const p = usize(load<S>(src + e * sizeof<S>()));
    store<D>(dst + e * sizeof<D>(), load<D>(table + p * sizeof<D>()));
    bad |= u32(load<u8>(unused + p));
  }
  if (bad == 0) return 0;
  for (e = 0; e < n; e++) {
    if (load<u8>(unused + usize(load<S>(src + e * sizeof<S>()))) != 0) return e + 1;
  }
  return 0;
}

function convertFrom<S>(src: usize, n: usize, table: usize, unused: usize, dstWidth: u32, dst: usize): usize {
  if (dstWidth == 1) return convertAs<S, u8>(src, n, table, unused, dst);
  if (dstWidth == 2) return convertAs<S, u16>(src, n, table, unused, dst);
  return convertAs<S, u32>(src, n, table, unused, dst);
}

/** See convertAs; srcWidth is 1 or 2 bytes, dstWidth 1, 2 or 4. */
export function convertPatterns(srcWidth: u32, src: usize, n: usize, table: usize, unused: usize, dstWidth: u32, dst: usize): usize {
  if (srcWidth == 1) return convertFrom<u8>(src, n, table, unused, dstWidth, dst);
  return convertFrom<u16>(src, n, table, unused, dstWidth, dst);
}

/** fp32 bits to bf16: round to nearest even; NaN to the canonical 0x7FC0, as numformat does. */
// @ts-ignore: decorator
@inline function bf16Of(x: u32): u16 {
  if ((x & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  // Adding 0x7FFF plus the kept LSB rounds ties to even; a carry may reach
  // the exponent, up to infinity, which is the IEEE overflow rule.
  return u16((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

/** fp32 bits to fp16: round to nearest even, ±∞ from 65520 up, NaN to the canonical 0x7E00. */
// @ts-ignore: decorator
@inline function fp16Of(x: u32): u16 {
  const a = x & 0x7fffffff;
  const sign = (x >> 16) & 0x8000;
  if (a > 0x7f800000) return 0x7e00;
  if (a >= 0x477ff000) return u16(sign | 0x7c00); // 65520 = 65504 + ulp/2 ties to the even infinity
  if (a >= 0x38800000) {
    // Normal: rebias the exponent by 127 - 15, then drop 13 mantissa bits to nearest even.
    const r = a - (112 << 23);
    return u16(sign | ((r + 0xfff + ((r >> 13) & 1)) >> 13));
  }
  if (a <= 0x33000000) return u16(sign); // at most 2^-25, half the smallest subnormal: ties to 0
  // Subnormal: the significand shifted right by 126 - exponent (14..24 bits).
  const m = (a & 0x7fffff) | 0x800000;
  const shift = 126 - (a >> 23);
  const q = m >> shift;
  const rest = m & ((u32(1) << shift) - 1);
  const half = u32(1) << (shift - 1);
  return u16(sign | (q + u32(rest > half || (rest == half && (q & 1) != 0))));
}

/** n fp32 patterns at src to bf16 (target 0) or fp16 (target 1) words at dst. */
export function roundFp32(target: u32, src: usize, n: usize, dst: usize): void {
  if (target == 0) {
    for (let e: usize = 0; e < n; e++) store<u16>(dst + (e << 1), bf16Of(load<u32>(src + (e << 2))));
  } else {
    for (let e: usize = 0; e < n; e++) store<u16>(dst + (e << 1), fp16Of(load<u32>(src + (e << 2))));
  }
}
