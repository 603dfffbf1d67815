// The forward half of the coding-pair transform: histogram of codes and the
// raw plane. Both read the elements once, in order.

/**
 * Counts codes (v >> shift) & (2^bits - 1) into u32 counts at `counts`
 * (2^bits entries, zeroed here). Four interleaved sub-histograms keep runs of
 * equal codes, common in weights, from serialising on one counter.
 */
function histogramOf<T>(src: usize, n: usize, shift: u32, bits: u32, counts: usize): void {
  const size = usize(1) << bits;
  const mask = (u32(1) << bits) - 1;
  memory.fill(counts, 0, size << 4);
  const c1 = counts + (size << 2);
  const c2 = c1 + (size << 2);
  const c3 = c2 + (size << 2);
  let e: usize = 0;
  const n4 = n & ~3;
  for (; e < n4; e += 4) {
    const p = src + e * sizeof<T>();
    const k0 = usize((<u32>load<T>(p) >> shift) & mask) << 2;
    const k1 = usize((<u32>load<T>(p + sizeof<T>()) >> shift) & mask) << 2;
    const k2 = usize((<u32>load<T>(p + 2 * sizeof<T>()) >> shift) & mask) << 2;
    const k3 = usize((<u32>load<T>(p + 3 * sizeof<T>()) >> shift) & mask) << 2;
    store<u32>(counts + k0, load<u32>(counts + k0) + 1);
    store<u32>(c1 + k1, load<u32>(c1 + k1) + 1);
    store<u32>(c2 + k2, load<u32>(c2 + k2) + 1);
    store<u32>(c3 + k3, load<u32>(c3 + k3) + 1);
  }
  for (; e < n; e++) {
    const k = usize((<u32>load<T>(src + e * sizeof<T>()) >> shift) & mask) << 2;
    store<u32>(counts + k, load<u32>(counts + k) + 1);
  }
  for (let s: usize = 0; s < size; s++) {
    const o = s << 2;
    store<u32>(counts + o, load<u32>(counts + o) + load<u32>(c1 + o) + load<u32>(c2 + o) + load<u32>(c3 + o));
  }
}

/** Histogram with 4 * 2^bits u32 of scratch at `counts`; the result is the first 2^bits. */
export function histogram(width: u32, src: usize, n: usize, shift: u32, bits: u32, counts: usize): void {
  if (width == 1) histogramOf<u8>(src, n, shift, bits, counts);
  else if (width == 2) histogramOf<u16>(src, n, shift, bits, counts);
  else histogramOf<u32>(src, n, shift, bits, counts);
}

/**
 * Packs each element's raw bits, sign << c | (v & (2^c - 1)), as a w-bit
 * little-endian bitstream at `dst` (w = c + signed). Writes ceil(n*w/8)
 * bytes and returns that count.
 */
function packRawOf<T>(src: usize, n: usize, c: u32, signed: u32, dst: usize): usize {
  const w = u64(c + signed);
  const signShift = u32(sizeof<T>() * 8 - 1);
  const low = (u32(1) << c) - 1;
  let acc: u64 = 0;
  let fill: u64 = 0;
  let out = dst;
  for (let e: usize = 0; e < n; e++) {
    const v = <u32>load<T>(src + e * sizeof<T>());
    const r = (signed ? ((v >> signShift) << c) : 0) | (v & low);
    acc |= u64(r) << fill;
    fill += w;
    if (fill >= 32) {
      store<u32>(out, u32(acc));
      out += 4;
      acc >>= 32;
      fill -= 32;
    }
  }
  const bytes = usize((u64(n) * w + 7) >> 3);
  const end = dst + bytes;
  while (out < end) {
    store<u8>(out, u8(acc));
    acc >>= 8;
    out++;
  }
  return bytes;
}

export function packRaw(width: u32, src: usize, n: usize, c: u32, signed: u32, dst: usize): usize {
  if (width == 1) return packRawOf<u8>(src, n, c, signed, dst);
  if (width == 2) return packRawOf<u16>(src, n, c, signed, dst);
  return packRawOf<u32>(src, n, c, signed, dst);
}
