// Interleaved rANS over coding pairs (docs/FORMAT.md §Chunk).
//
// An element of T (u8/u16/u32) splits into a code = (v >> c) & (2^b - 1),
// entropy coded, and raw bits = sign << c | (v & (2^c - 1)), stored in the
// raw plane. Element e belongs to lane e % N. States are 32-bit in
// [L, 2^32) with L = 2^16 and renormalise by one 16-bit word at most, so a
// decode step is branch-free: one table lookup, one multiply-add, one
// conditional word read.
//
// The encoder runs backwards (last element first, lanes descending) and
// writes words downwards, so the decoder runs forwards, lanes ascending,
// reading words upwards from one stream: four lanes of a v128 take their
// words in lane order with one swizzle.

import { unpack4, unpack1, unpack8, unpack8Table, MAX_RAW_BITS_16 } from "./rawbits";

export const RANS_L: u32 = 1 << 16;
export const MAX_PRECISION: u32 = 15;
export const MAX_CODE_BITS: u32 = 12;

// Decode slot table: per slot, lo32 = freq | (slot - start) << 16, hi32 = code << c.
const decodeTable = memory.data(8 << MAX_PRECISION, 16);
// Encode symbol table, 16 bytes per code: see buildEncodeTable.
const encodeTable = memory.data(16 << MAX_CODE_BITS, 16);
// For a 4-bit mask of lanes that need a word, the swizzle that hands the
// next words (u16, in lane order) to those lanes.
const renormShuffle = memory.data(16 * 16, 16);

export function initRansTables(): void {
  for (let m = 0; m < 16; m++) {
    let next = 0;
    for (let lane = 0; lane < 4; lane++) {
      const t = renormShuffle + usize(m * 16 + lane * 4);
      if (m & (1 << lane)) {
        store<u8>(t, u8(2 * next));
        store<u8>(t, u8(2 * next + 1), 1);
        next++;
      } else {
        store<u8>(t, 0x80);
        store<u8>(t, 0x80, 1);
      }
      store<u8>(t, 0x80, 2);
      store<u8>(t, 0x80, 3);
    }
  }
}

/**
 * Fills the decode slot table from normalised frequencies (u32 per code,
 * summing to 2^P). Returns false when they do not sum to 2^P.
 */
export function buildDecodeTable(freqs: usize, alphabet: u32, precision: u32, c: u32): bool {
  const total: u32 = 1 << precision;
  let slot: u32 = 0;
  for (let s: u32 = 0; s < alphabet; s++) {
    const f = load<u32>(freqs + (usize(s) << 2));
    if (f > total - slot) return false;
    const hi = u64(s << c) << 32;
    for (let j: u32 = 0; j < f; j++) {
      store<u64>(decodeTable + (usize(slot + j) << 3), hi | u64(f | (j << 16)));
    }
    slot += f;
  }
  return slot == total;
}

/**
 * Per code: the exact division x / freq of the encoder as Granlund–Montgomery
 * multiply-and-shift, so the scalar encoder needs no divide instruction.
 *   +0  u32 magic m       +4  u32 renorm bound (freq << (16 - P))
 *   +8  u16 start         +10 u16 2^P - freq
 *   +12 u16 freq          +14 u16 shift (l - 1)
 */
export function buildEncodeTable(freqs: usize, alphabet: u32, precision: u32): void {
  let start: u32 = 0;
  for (let s: u32 = 0; s < alphabet; s++) {
    const f = load<u32>(freqs + (usize(s) << 2));
    const t = encodeTable + (usize(s) << 4);
    let magic: u32 = 0;
    let shift: u32 = 0;
    if (f > 1) {
      const l: u32 = 32 - clz<u32>(f - 1);
      magic = u32(((u64(1) << 32) * ((u64(1) << l) - u64(f))) / u64(f)) + 1;
      shift = l - 1;
    }
    store<u32>(t, magic);
    store<u32>(t, f << (16 - precision), 4);
    store<u16>(t, u16(start), 8);
    store<u16>(t, u16((u32(1) << precision) - f), 10);
    store<u16>(t, u16(f), 12);
    store<u16>(t, u16(shift), 14);
    start += f;
  }
}

// @ts-ignore: decorator
@inline function encodeOne(x: u32, code: u32, out: usize): u64 {
  const t = encodeTable + (usize(code) << 4);
  let p = out;
  if ((x >> 16) >= load<u32>(t, 4)) {
    p -= 2;
    store<u16>(p, u16(x));
    x >>= 16;
  }
  const hi = u32((u64(x) * u64(load<u32>(t))) >> 32);
  let q = (hi + ((x - hi) >> 1)) >> u32(load<u16>(t, 14));
  q = select<u32>(x, q, load<u16>(t, 12) == 1);
  x = x + u32(load<u16>(t, 8)) + q * u32(load<u16>(t, 10));
  return (u64(p) << 32) | u64(x);
}

/**
 * Encodes the codes of n elements into N lanes. Words are written downwards
 * ending at `outEnd`; final states go to `states` (N u32). Returns the
 * address of the first payload byte.
 */
function encodeLanes<T>(src: usize, n: usize, c: u32, codeMask: u32, lanes: usize, states: usize, outEnd: usize): usize {
  for (let j: usize = 0; j < lanes; j++) store<u32>(states + (j << 2), RANS_L);
  let out = outEnd;
  const full = n - n % lanes;
  // The partial last round, then full rounds, all backwards.
  let e = n;
  while (e > full) {
    e--;
    const lane = e - full;
    const sp = states + (lane << 2);
    const code = (<u32>load<T>(src + e * sizeof<T>()) >> c) & codeMask;
    const r = encodeOne(load<u32>(sp), code, out);
    out = usize(r >> 32);
    store<u32>(sp, u32(r));
  }
  while (e > 0) {
    let sp = states + (lanes << 2);
    for (let j: usize = 0; j < lanes; j++) {
      e--;
      sp -= 4;
      const code = (<u32>load<T>(src + e * sizeof<T>()) >> c) & codeMask;
      const r = encodeOne(load<u32>(sp), code, out);
      out = usize(r >> 32);
      store<u32>(sp, u32(r));
    }
  }
  return out;
}

export function encodeCodes(width: u32, src: usize, n: usize, c: u32, codeBits: u32, lanes: usize, states: usize, outEnd: usize): usize {
  const mask = (u32(1) << codeBits) - 1;
  if (width == 1) return encodeLanes<u8>(src, n, c, mask, lanes, states, outEnd);
  if (width == 2) return encodeLanes<u16>(src, n, c, mask, lanes, states, outEnd);
  return encodeLanes<u32>(src, n, c, mask, lanes, states, outEnd);
}

// @ts-ignore: decorator
@inline function storeOut<T>(dst: usize, v: v128): void {
  if (sizeof<T>() == 4) {
    v128.store(dst, v);
  } else if (sizeof<T>() == 2) {
    v128.store64_lane(dst, i16x8.narrow_i32x4_u(v, v), 0);
  } else {
    const h = i16x8.narrow_i32x4_u(v, v);
    v128.store32_lane(dst, i8x16.narrow_i16x8_u(h, h), 0);
  }
}

/**
 * Decodes n elements from N lanes (states at `states`, updated in place),
 * reading words from [payload, payloadEnd) and raw fields from `raw`, and
 * writes the restored elements to `dst`. Returns the payload address after
 * the last word read, or 0 when the stream ran past its end. The caller
 * guarantees 256 readable bytes past payloadEnd and 16 past the raw plane.
 */
function decodeLanes<T>(dst: usize, n: usize, c: u32, signed: u32, precision: u32, lanes: usize, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  const w = usize(c + signed);
  const signShift = i32(sizeof<T>() * 8 - 1);
  const lowMask = i32x4.splat((1 << c) - 1);
  const slotMask = i32x4.splat((1 << precision) - 1);
  const lo16 = i32x4.splat(0xffff);
  const low = i32x4.splat(RANS_L);
  const tableBase = i32x4.splat(i32(decodeTable));
  const P = i32(precision);
  const ci = i32(c);
  let ptr = payload;
  const full = n - n % lanes;
  const vecs = lanes >> 2;
  let e: usize = 0;
  while (e < full) {
    if (ptr > payloadEnd) return 0;
    for (let v: usize = 0; v < vecs; v++) {
      const sp = states + (v << 4);
      let x = v128.load(sp);
      const addr = i32x4.add(i32x4.shl(v128.and(x, slotMask), 3), tableBase);
      let a = v128.load64_zero(usize(i32x4.extract_lane(addr, 0)));
      a = v128.load64_lane(usize(i32x4.extract_lane(addr, 1)), a, 1);
      let b = v128.load64_zero(usize(i32x4.extract_lane(addr, 2)));
      b = v128.load64_lane(usize(i32x4.extract_lane(addr, 3)), b, 1);
      const fb = i32x4.shuffle(a, b, 0, 2, 4, 6);
      const sym = i32x4.shuffle(a, b, 1, 3, 5, 7);
      x = i32x4.add(i32x4.mul(v128.and(fb, lo16), i32x4.shr_u(x, P)), i32x4.shr_u(fb, 16));
      const need = i32x4.lt_u(x, low);
      const bits = i32x4.bitmask(need);
      const words = v128.swizzle(v128.load64_zero(ptr), v128.load(renormShuffle + (usize(bits) << 4)));
      x = v128.bitselect(v128.or(i32x4.shl(x, 16), words), x, need);
      ptr += usize(popcnt<i32>(bits)) << 1;
      v128.store(sp, x);
      const r = unpack4(raw, e, w);
      const out = v128.or(v128.or(i32x4.shl(i32x4.shr_u(r, ci), signShift), sym), v128.and(r, lowMask));
      storeOut<T>(dst + e * sizeof<T>(), out);
      e += 4;
    }
  }
  const slot: u32 = (u32(1) << precision) - 1;
  const low1: u32 = (u32(1) << c) - 1;
  for (let lane: usize = 0; e < n; lane++, e++) {
    const sp = states + (lane << 2);
    let x = load<u32>(sp);
    const entry = load<u64>(decodeTable + (usize(x & slot) << 3));
    const fb = u32(entry);
    x = (fb & 0xffff) * (x >> precision) + (fb >> 16);
    if (x < RANS_L) {
      x = (x << 16) | u32(load<u16>(ptr));
      ptr += 2;
    }
    store<u32>(sp, x);
    const r = unpack1(raw, e, u32(w));
    const value = ((r >> c) << u32(signShift)) | u32(entry >> 32) | (r & low1);
    store<T>(dst + e * sizeof<T>(), <T>value);
  }
  return ptr > payloadEnd ? 0 : ptr;
}


// Loop-invariant vectors, loaded from memory once so V8 keeps them in
// registers (or stack slots) instead of rebuilding constants in the loop.
const lo16Const = memory.data<u32>([0xffff, 0xffff, 0xffff, 0xffff], 16);
// Byte offsets into decodeTable of each lane's next slot, for 8 vectors.
const slotScratch = memory.data(128, 16);

// @ts-ignore: decorator
@inline function entries(at: usize): v128 {
  const a = v128.load64_zero(usize(load<u32>(at)), decodeTable);
  return v128.load64_lane(usize(load<u32>(at, 4)), a, 1, decodeTable);
}
// @ts-ignore: decorator
@inline function advance(x: v128, a: v128, b: v128, P: i32, lo16: v128): v128 {
  const fb = i32x4.shuffle(a, b, 0, 2, 4, 6);
  return i32x4.add(i32x4.mul(v128.and(fb, lo16), i32x4.shr_u(x, P)), i32x4.shr_u(fb, 16));
}
// @ts-ignore: decorator
@inline function needMask(y: v128): v128 {
  return i32x4.eq(i32x4.shr_u(y, 16), i32x4.splat(0));
}
// @ts-ignore: decorator
@inline function refill(y: v128, ptr: usize): v128 {
  const need = needMask(y);
  const words = v128.swizzle(v128.load64_zero(ptr), v128.load(renormShuffle + (usize(i32x4.bitmask(need)) << 4)));
  return i32x4.max_u(y, v128.or(v128.and(i32x4.shl(y, 16), need), words));
}
// @ts-ignore: decorator
@inline function consumed(y: v128): usize {
  return usize(popcnt<u32>(i32x4.bitmask(needMask(y)))) << 1;
}
// @ts-ignore: decorator
@inline function slotOffsets(x: v128, slotMask: v128): v128 {
  return i32x4.shl(v128.and(x, slotMask), 3);
}

// @ts-ignore: decorator
@inline function decode32x16P(dst: usize, n: usize, c: u32, P: i32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  const w = usize(c + 1);
  const slotMask = i32x4.splat((1 << P) - 1);
  const lo16 = v128.load(lo16Const);
  const keep = i16x8.splat(i16(0x8000 | ((1 << c) - 1)));
  const rs = 16 - i32(w);
  const swz = v128.load(unpack8Table(u32(w)));
  const mul = v128.load(unpack8Table(u32(w)), 16);
  let x0 = v128.load(states, 0);
  let x1 = v128.load(states, 16);
  let x2 = v128.load(states, 32);
  let x3 = v128.load(states, 48);
  let x4 = v128.load(states, 64);
  let x5 = v128.load(states, 80);
  let x6 = v128.load(states, 96);
  let x7 = v128.load(states, 112);
  const sc = slotScratch;
  v128.store(sc, slotOffsets(x0, slotMask), 0);
  v128.store(sc, slotOffsets(x1, slotMask), 16);
  v128.store(sc, slotOffsets(x2, slotMask), 32);
  v128.store(sc, slotOffsets(x3, slotMask), 48);
  v128.store(sc, slotOffsets(x4, slotMask), 64);
  v128.store(sc, slotOffsets(x5, slotMask), 80);
  v128.store(sc, slotOffsets(x6, slotMask), 96);
  v128.store(sc, slotOffsets(x7, slotMask), 112);
  let ptr = payload;
  const full = n & ~31;
  for (let e: usize = 0; e < full; e += 32) {
    if (ptr > payloadEnd) return 0;
    let a = entries(sc), b = entries(sc + 8);
    let y = advance(x0, a, b, P, lo16); x0 = refill(y, ptr); ptr += consumed(y);
    v128.store(sc, slotOffsets(x0, slotMask), 0);
    let s0 = i32x4.shuffle(a, b, 1, 3, 5, 7);
    a = entries(sc + 16); b = entries(sc + 24);
    y = advance(x1, a, b, P, lo16); x1 = refill(y, ptr); ptr += consumed(y);
    v128.store(sc, slotOffsets(x1, slotMask), 16);
    let s1 = i32x4.shuffle(a, b, 1, 3, 5, 7);
    const o = dst + (e << 1);
    v128.store(o, v128.or(v128.and(i16x8.shr_s(unpack8(raw, e, w, swz, mul), rs), keep), i16x8.narrow_i32x4_u(s0, s1)));

    a = entries(sc + 32); b = entries(sc + 40);
    y = advance(x2, a, b, P, lo16); x2 = refill(y, ptr); ptr += consumed(y);
    v128.store(sc, slotOffsets(x2, slotMask), 32);
    s0 = i32x4.shuffle(a, b, 1, 3, 5, 7);
    a = entries(sc + 48); b = entries(sc + 56);
    y = advance(x3, a, b, P, lo16); x3 = refill(y, ptr); ptr += consumed(y);
    v128.store(sc, slotOffsets(x3, slotMask), 48);
    s1 = i32x4.shuffle(a, b, 1, 3, 5, 7);
    v128.store(o, v128.or(v128.and(i16x8.shr_s(unpack8(raw, e + 8, w, swz, mul), rs), keep), i16x8.narrow_i32x4_u(s0, s1)), 16);

    a = entries(sc + 64); b = entries(sc + 72);
    y = advance(x4, a, b, P, lo16); x4 = refill(y, ptr); ptr += consumed(y);
    v128.store(sc, slotOffsets(x4, slotMask), 64);
    s0 = i32x4.shuffle(a, b, 1, 3, 5, 7);
    a = entries(sc + 80); b = entries(sc + 88);
    y = advance(x5, a, b, P, lo16); x5 = refill(y, ptr); ptr += consumed(y);
    v128.store(sc, slotOffsets(x5, slotMask), 80);
    s1 = i32x4.shuffle(a, b, 1, 3, 5, 7);
    v128.store(o, v128.or(v128.and(i16x8.shr_s(unpack8(raw, e + 16, w, swz, mul), rs), keep), i16x8.narrow_i32x4_u(s0, s1)), 32);

    a = entries(sc + 96); b = entries(sc + 104);
    y = advance(x6, a, b, P, lo16); x6 = refill(y, ptr); ptr += consumed(y);
    v128.store(sc, slotOffsets(x6, slotMask), 96);
    s0 = i32x4.shuffle(a, b, 1, 3, 5, 7);
    a = entries(sc + 112); b = entries(sc + 120);
    y = advance(x7, a, b, P, lo16); x7 = refill(y, ptr); ptr += consumed(y);
    v128.store(sc, slotOffsets(x7, slotMask), 112);
    s1 = i32x4.shuffle(a, b, 1, 3, 5, 7);
    v128.store(o, v128.or(v128.and(i16x8.shr_s(unpack8(raw, e + 24, w, swz, mul), rs), keep), i16x8.narrow_i32x4_u(s0, s1)), 48);
  }
  v128.store(states, x0, 0);
  v128.store(states, x1, 16);
  v128.store(states, x2, 32);
  v128.store(states, x3, 48);
  v128.store(states, x4, 64);
  v128.store(states, x5, 80);
  v128.store(states, x6, 96);
  v128.store(states, x7, 112);
  return ptr;
}

function decode32x16(dst: usize, n: usize, c: u32, precision: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  switch (precision) {
    case 11: return decode32x16P(dst, n, c, 11, states, payload, payloadEnd, raw);
    case 12: return decode32x16P(dst, n, c, 12, states, payload, payloadEnd, raw);
    case 13: return decode32x16P(dst, n, c, 13, states, payload, payloadEnd, raw);
    case 14: return decode32x16P(dst, n, c, 14, states, payload, payloadEnd, raw);
    default: return decode32x16P(dst, n, c, 15, states, payload, payloadEnd, raw);
  }
}

export function decodeCodes(width: u32, dst: usize, n: usize, c: u32, signed: u32, precision: u32, lanes: usize, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  if (width == 1) return decodeLanes<u8>(dst, n, c, signed, precision, lanes, states, payload, payloadEnd, raw);
  if (width == 2) {
    if (lanes == 32 && signed && c + 1 <= MAX_RAW_BITS_16 && n >= 32) {
      const full = n & ~31;
      const p = decode32x16(dst, full, c, precision, states, payload, payloadEnd, raw);
      if (p == 0) return 0;
      if (full == n) return p > payloadEnd ? 0 : p;
      // tail: hack for experiment
      return decodeLanes<u16>(dst + full * 2, n - full, c, signed, precision, lanes, states, p, payloadEnd, raw + (full >> 3) * usize(c + 1));
    }
    return decodeLanes<u16>(dst, n, c, signed, precision, lanes, states, payload, payloadEnd, raw);
  }
  return decodeLanes<u32>(dst, n, c, signed, precision, lanes, states, payload, payloadEnd, raw);
}
