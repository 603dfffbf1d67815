// The forward half of the coding-pair transform: histogram of codes and the
// raw plane. Both read the elements once, in order.

// Count indices of a block of elements: worked out eight at a time in SIMD,
// then counted one at a time, each increment a load and a store.
const KEY_BLOCK: usize = 1024;
const keyBlock = memory.data(i32(KEY_BLOCK) << 2, 16);

/**
 * Writes to keyBlock the count index of each element e..end-1 (at most
 * KEY_BLOCK): its code (v >> shift) & mask, plus (perElement) the u32 at
 * `bases` for that element. Returns how many.
 */
// @ts-ignore: decorator
@inline function keysOf<T>(src: usize, e: usize, end: usize, shift: u32, mask: u32, bases: usize, perElement: bool): usize {
  const len = end - e;
  let j: usize = 0;
  if (sizeof<T>() == 2) {
    // Codes of bf16 and fp16 are at most 15 bits: they fit u16 lanes.
    const m = i16x8.splat(u16(mask));
    for (; j + 8 <= len; j += 8) {
      const codes = v128.and(i16x8.shr_u(v128.load(src + ((e + j) << 1)), shift), m);
      let lo = i32x4.extend_low_i16x8_u(codes);
      let hi = i32x4.extend_high_i16x8_u(codes);
      if (perElement) {
        lo = i32x4.add(lo, v128.load(bases + (j << 2)));
        hi = i32x4.add(hi, v128.load(bases + (j << 2), 16));
      }
      v128.store(keyBlock + (j << 2), lo);
      v128.store(keyBlock + (j << 2), hi, 16);
    }
  }
  for (; j < len; j++) {
    const code = (<u32>load<T>(src + (e + j) * sizeof<T>()) >> shift) & mask;
    store<u32>(keyBlock + (j << 2), perElement ? code + load<u32>(bases + (j << 2)) : code);
  }
  return len;
}

/**
 * Adds one to the u32 count at `counts` of each of the first `len` keys in
 * keyBlock. With four `ways` (copies `stride` bytes apart), key i counts
 * into copy i % 4: runs of one key, common where a few exponents dominate,
 * then do not wait on their own last increment.
 */
// @ts-ignore: decorator
@inline function countKeys(counts: usize, len: usize, ways: usize, stride: usize): void {
  let i: usize = 0;
  if (ways == 4) {
    const c1 = counts + stride;
    const c2 = c1 + stride;
    const c3 = c2 + stride;
    for (; i + 4 <= len; i += 4) {
      const k = keyBlock + (i << 2);
      const a0 = counts + (usize(load<u32>(k)) << 2);
      const a1 = c1 + (usize(load<u32>(k, 4)) << 2);
      const a2 = c2 + (usize(load<u32>(k, 8)) << 2);
      const a3 = c3 + (usize(load<u32>(k, 12)) << 2);
      store<u32>(a0, load<u32>(a0) + 1);
      store<u32>(a1, load<u32>(a1) + 1);
      store<u32>(a2, load<u32>(a2) + 1);
      store<u32>(a3, load<u32>(a3) + 1);
    }
  }
  for (; i < len; i++) {
    const at = counts + (usize(load<u32>(keyBlock + (i << 2))) << 2);
    store<u32>(at, load<u32>(at) + 1);
  }
}

/**
 * Counts codes (v >> shift) & (2^bits - 1) into u32 counts at `counts`
 * (2^bits entries, zeroed here), over `ways` (1 or 4) copies added up at
 * the end (see countKeys).
 */
function histogramOf<T>(src: usize, n: usize, shift: u32, bits: u32, counts: usize, ways: usize): void {
  const size = usize(1) << bits;
  const stride = size << 2;
  memory.fill(counts, 0, stride * ways);
  for (let e: usize = 0, stop = min(KEY_BLOCK, n); e < n; e = stop, stop = min(e + KEY_BLOCK, n)) {
    countKeys(counts, keysOf<T>(src, e, stop, shift, u32(size - 1), 0, false), ways, stride);
  }
  for (let w: usize = 1; w < ways; w++) addCounts(counts, counts + w * stride, size);
}

/** Histogram with ways * 2^bits u32 of scratch at `counts`; the result is the first 2^bits. */
export function histogram(width: u32, src: usize, n: usize, shift: u32, bits: u32, counts: usize, ways: usize): void {
  if (width == 1) histogramOf<u8>(src, n, shift, bits, counts, ways);
  else if (width == 2) histogramOf<u16>(src, n, shift, bits, counts, ways);
  else histogramOf<u32>(src, n, shift, bits, counts, ways);
}

/**
 * Packs each element's raw bits, sign << c | (v & (2^c - 1)), as a w-bit
 * little-endian bitstream at `dst` (w = c + signed). Writes ceil(n*w/8)
 * bytes and returns that count.
 */
function packRawOf<T>(src: usize, n: usize, c: u32, signed: u32, dst: usize): usize {
  const w = c + signed;
  const bytes = usize((u64(n) * u64(w) + 7) >> 3);
  if (w == 0) return 0;
  let e: usize = 0;
  let out = dst;
  if (sizeof<T>() == 2 && signed != 0 && w <= 14) {
    // Eight fields (8w <= 112 bits) per step, stored as 16 bytes of which
    // the next step overwrites all but w; stop while those stay inside.
    const n8 = bytes >= 16 ? ((bytes - 16) / w + 1) << 3 : 0;
    const k = pack8Constants(c, w);
    for (; e < n8 && e + 8 <= n; e += 8) {
      const q = pack8(v128.load(src + (e << 1)), c, w, k);
      const q0 = u64(i64x2.extract_lane(q, 0));
      const q1 = u64(i64x2.extract_lane(q, 1));
      store<u64>(out, q0 | (q1 << u64(4 * w)));
      store<u64>(out, q1 >> u64(64 - 4 * w), 8);
      out += w;
    }
  }
  // One field at a time into a 64-bit accumulator.
  const signShift = u32(sizeof<T>() * 8 - 1);
  const low = (u32(1) << c) - 1;
  let acc: u64 = 0;
  let fill: u32 = 0;
  for (; e < n; e++) {
    const v = <u32>load<T>(src + e * sizeof<T>());
    const r = (((v >> signShift) & signed) << c) | (v & low);
    acc |= u64(r) << fill;
    fill += w;
    if (fill >= 32) {
      store<u32>(out, u32(acc));
      out += 4;
      acc >>= 32;
      fill -= 32;
    }
  }
  const end = dst + bytes;
  while (out < end) {
    store<u8>(out, u8(acc));
    acc >>= 8;
    out++;
  }
  return bytes;
}

// pack8's vectors for one call: +0 low mask (u16), +16 pair multipliers
// [1, 2^w] (u16), +32 the low half of each u64. Loaded from memory at each
// use: held in locals, V8 rebuilds these splats inside the loop (measured
// slower).
const pack8Scratch = memory.data(48, 16);

function pack8Constants(c: u32, w: u32): usize {
  v128.store(pack8Scratch, i16x8.splat(i16((u32(1) << c) - 1)));
  v128.store(pack8Scratch, i32x4.splat(i32(1 | (u32(1) << (w + 16)))), 16);
  v128.store(pack8Scratch, i64x2.splat(0xffffffff), 32);
  return pack8Scratch;
}

/**
 * Eight u16 elements' fields (w <= 14 bits, signed) packed four by four
 * into the low 4w bits of two u64 lanes, without per-lane shifts: a
 * multiply-add by [1, 2^w] joins pairs (2w bits per u32), a 64-bit shift
 * and add joins pairs of pairs.
 */
// @ts-ignore: decorator
@inline function pack8(v: v128, c: u32, w: u32, k: usize): v128 {
  const sign = i16x8.shl(i16x8.shr_u(v, 15), c);
  const r = v128.or(v128.and(v, v128.load(k)), sign);
  const pairs = i32x4.dot_i16x8_s(r, v128.load(k, 16));
  return i64x2.add(v128.and(pairs, v128.load(k, 32)), i64x2.shl(i64x2.shr_u(pairs, 32), 2 * w));
}

export function packRaw(width: u32, src: usize, n: usize, c: u32, signed: u32, dst: usize): usize {
  if (width == 1) return packRawOf<u8>(src, n, c, signed, dst);
  if (width == 2) return packRawOf<u16>(src, n, c, signed, dst);
  return packRawOf<u32>(src, n, c, signed, dst);
}

// Channel statistics for the encoder's context models (docs/FORMAT.md §Mode 3).
// Element e lies in channel ((e + offset) / D) mod T: D = 1 for the last
// axis of a tensor, D = the product of the later dimensions for the first.
// Both passes walk runs of D elements of one channel without dividing.

/** The larger of m and the codes (v >> shift) & mask of elements [e, end). */
// @ts-ignore: decorator
@inline function maxCode<T>(src: usize, e: usize, end: usize, shift: u32, mask: u32, m: u32): u32 {
  if (sizeof<T>() == 2) {
    // Eight at a time: codes fit u16 lanes.
    let v = i16x8.splat(0);
    const k = i16x8.splat(i16(mask));
    for (; e + 8 <= end; e += 8) v = i16x8.max_u(v, v128.and(i16x8.shr_u(v128.load(src + (e << 1)), shift), k));
    v = i16x8.max_u(v, i32x4.shr_u(v, 16));
    v = i16x8.max_u(v, i64x2.shr_u(v, 32));
    v = i16x8.max_u(v, i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    m = max(m, u32(i16x8.extract_lane_u(v, 0)));
  }
  for (; e < end; e++) m = max(m, (<u32>load<T>(src + e * sizeof<T>()) >> shift) & mask);
  return m;
}

/** The largest code (v >> shift) & mask of each of the T channels, as u16 at `out`. */
function channelMaximaOf<T>(src: usize, n: usize, shift: u32, mask: u32, D: usize, T: usize, offset: usize, out: usize): void {
  memory.fill(out, 0, T << 1);
  let ch = (offset / D) % T;
  let e: usize = 0;
  if (D == 1) {
    // Channel by channel within each period, eight channels at a time.
    for (; e < n; ch = 0) {
      const end = min(e + T - ch, n);
      const o = out + ((ch - e) << 1);
      if (sizeof<T>() == 2) {
        const k = i16x8.splat(i16(mask));
        for (; e + 8 <= end; e += 8) {
          const at = o + (e << 1);
          v128.store(at, i16x8.max_u(v128.load(at), v128.and(i16x8.shr_u(v128.load(src + (e << 1)), shift), k)));
        }
      }
      for (; e < end; e++) store<u16>(o + (e << 1), u16(max(u32(load<u16>(o + (e << 1))), (<u32>load<T>(src + e * sizeof<T>()) >> shift) & mask)));
    }
    return;
  }
  for (let run = D - offset % D; e < n; run = D) {
    const end = min(e + run, n);
    store<u16>(out + (ch << 1), u16(maxCode<T>(src, e, end, shift, mask, u32(load<u16>(out + (ch << 1))))));
    e = end;
    if (++ch == T) ch = 0;
  }
}

export function channelMaxima(width: u32, src: usize, n: usize, shift: u32, mask: u32, D: usize, T: usize, offset: usize, out: usize): void {
  if (width == 1) channelMaximaOf<u8>(src, n, shift, mask, D, T, offset, out);
  else if (width == 2) channelMaximaOf<u16>(src, n, shift, mask, D, T, offset, out);
  else channelMaximaOf<u32>(src, n, shift, mask, D, T, offset, out);
}

// Per channel, the index of its bucket's first count (D = 1 passes).
const bucketBases = memory.data(4 << 16, 16);

/**
 * Histograms of codes (v >> shift) & (2^bits - 1) per bucket: channel ch
 * counts into bucket load<u8>(bucketOf + ch), whose 2^bits u32 counts start
 * at counts + (bucket << bits) * 4, adding to what they hold (so that
 * several ranges of a chunk can be counted). With `ways` 4, counts are
 * spread over four such copies `stride` bytes apart, for the caller to add
 * up (countKeys). T is at most 2^16 when D = 1.
 */
function histogramByChannelOf<T>(src: usize, n: usize, shift: u32, bits: u32, D: usize, T: usize, offset: usize, bucketOf: usize, counts: usize, ways: usize, stride: usize): void {
  const mask = (u32(1) << bits) - 1;
  let ch = (offset / D) % T;
  let e: usize = 0;
  if (D == 1) {
    for (let i: usize = 0; i < T; i++) store<u32>(bucketBases + (i << 2), u32(load<u8>(bucketOf + i)) << bits);
    // Period by period from channel ch, a block at a time.
    for (; e < n; ch = 0) {
      const end = min(e + T - ch, n);
      const first = bucketBases + ((ch - e) << 2);
      for (let stop = min(e + KEY_BLOCK, end); e < end; e = stop, stop = min(e + KEY_BLOCK, end)) {
        countKeys(counts, keysOf<T>(src, e, stop, shift, mask, first + (e << 2), true), ways, stride);
      }
    }
    return;
  }
  for (let run = D - offset % D; e < n; run = D) {
    const end = min(e + run, n);
    const h = counts + (usize(load<u8>(bucketOf + ch)) << (bits + 2));
    for (let stop = min(e + KEY_BLOCK, end); e < end; e = stop, stop = min(e + KEY_BLOCK, end)) {
      countKeys(h, keysOf<T>(src, e, stop, shift, mask, 0, false), ways, stride);
    }
    if (++ch == T) ch = 0;
  }
}

export function histogramByChannel(width: u32, src: usize, n: usize, shift: u32, bits: u32, D: usize, T: usize, offset: usize, bucketOf: usize, counts: usize, ways: usize, stride: usize): void {
  if (width == 1) histogramByChannelOf<u8>(src, n, shift, bits, D, T, offset, bucketOf, counts, ways, stride);
  else if (width == 2) histogramByChannelOf<u16>(src, n, shift, bits, D, T, offset, bucketOf, counts, ways, stride);
  else histogramByChannelOf<u32>(src, n, shift, bits, D, T, offset, bucketOf, counts, ways, stride);
}

/**
 * Present codes of dense u32 counts: writes each nonzero count's index to
 * `symbols` and the count to `out` (u32 each, ascending), returns how many.
 * Four at a time, so runs of absent codes (most of a wide alphabet) cost
 * one test per four.
 */
export function compactCounts(counts: usize, size: usize, symbols: usize, out: usize): u32 {
  let present: u32 = 0;
  let s: usize = 0;
  for (; s + 4 <= size; s += 4) {
    if (!v128.any_true(v128.load(counts + (s << 2)))) continue;
    for (let j: usize = s; j < s + 4; j++) {
      const c = load<u32>(counts + (j << 2));
      if (c == 0) continue;
      store<u32>(symbols + (usize(present) << 2), u32(j));
      store<u32>(out + (usize(present) << 2), c);
      present++;
    }
  }
  for (; s < size; s++) {
    const c = load<u32>(counts + (s << 2));
    if (c == 0) continue;
    store<u32>(symbols + (usize(present) << 2), u32(s));
    store<u32>(out + (usize(present) << 2), c);
    present++;
  }
  return present;
}

/** dst[i] += src[i] for `size` u32 counts. */
export function addCounts(dst: usize, src: usize, size: usize): void {
  let i: usize = 0;
  for (; i + 4 <= size; i += 4) v128.store(dst + (i << 2), i32x4.add(v128.load(dst + (i << 2)), v128.load(src + (i << 2))));
  for (; i < size; i++) store<u32>(dst + (i << 2), load<u32>(dst + (i << 2)) + load<u32>(src + (i << 2)));
}
