// The raw plane: each element's additional bits (sign + low mantissa), w bits
// per element, as one little-endian bitstream: element e sits at bit e*w.
//
// Eight elements span exactly w bytes, so the layout of a group of eight
// repeats and one table per w serves every group. SIMD unpacking gathers each
// field's covering bytes into its lane with one swizzle, then a multiply by
// 2^(lane bits - shift - w) lifts the field to the top of the lane: a shift
// that differs per lane, without a variable shift. The decoder then shifts
// the field down arithmetically, which also spreads the sign bit it needs.
//  - unpack8Top: eight fields of up to 9 bits (they fit two bytes) in i16
//    lanes, one table per w.
//  - unpack4Top: four fields of up to 25 bits in i32 lanes, one table per w
//    and half-group h.

export const MAX_RAW_BITS: i32 = 25;
export const MAX_RAW_BITS_16: u32 = 9;

// Per (w, h): 16 swizzle bytes, then 16 bytes of u32 multipliers.
const unpack4Tables = memory.data((MAX_RAW_BITS + 1) * 2 * 32, 16);
// Per w: 16 swizzle bytes, then 16 bytes of u16 multipliers.
const unpack8Tables = memory.data(i32(MAX_RAW_BITS_16 + 1) * 32, 16);

export function initRawTables(): void {
  for (let w = 0; w <= MAX_RAW_BITS; w++) {
    for (let h = 0; h < 2; h++) {
      const t = unpack4Tables + usize((w * 2 + h) * 32);
      for (let i = 0; i < 4; i++) {
        const bit = 4 * h * (w & 1) + i * w;
        for (let j = 0; j < 4; j++) {
          store<u8>(t + usize(i * 4 + j), w == 0 ? 0x80 : u8((bit >> 3) + j));
        }
        const up = 32 - (bit & 7) - w;
        store<u32>(t + 16 + usize(i * 4), w == 0 ? 0 : u32(1) << u32(up));
      }
    }
  }
  for (let w = 1; w <= i32(MAX_RAW_BITS_16); w++) {
    const t = unpack8Tables + usize(w * 32);
    for (let i = 0; i < 8; i++) {
      const bit = i * w;
      store<u8>(t + usize(2 * i), u8(bit >> 3));
      store<u8>(t + usize(2 * i + 1), u8((bit >> 3) + 1));
      const up = 16 - (bit & 7) - w;
      store<u16>(t + 16 + usize(2 * i), u16(u32(1) << u32(up)));
    }
  }
}

/** Byte offset, within the raw plane, of the 16-byte window holding elements e..e+3 (e % 4 == 0). */
// @ts-ignore: decorator
@inline export function rawWindow(e: usize, w: usize): usize {
  return (e >> 3) * w + ((e >> 2) & 1) * (w >> 1);
}

/**
 * The w-bit fields of elements e..e+3 (e % 4 == 0) at the top of i32 lanes
 * (bits 32-w..31), lower bits undefined. Reads 16 bytes from the window.
 */
// @ts-ignore: decorator
@inline export function unpack4Top(raw: usize, e: usize, w: usize): v128 {
  const t = unpack4Tables + (w * 2 + ((e >> 2) & 1)) * 32;
  return i32x4.mul(v128.swizzle(v128.load(raw + rawWindow(e, w)), v128.load(t)), v128.load(t, 16));
}

/** The unpack8Top table for w in 1..MAX_RAW_BITS_16. */
// @ts-ignore: decorator
@inline export function unpack8Table(w: u32): usize {
  return unpack8Tables + usize(w) * 32;
}

/**
 * The fields of the eight elements whose group starts at `group` (their
 * first byte), at the top of i16 lanes (bits 16-w..15), lower bits
 * undefined; t = unpack8Table(w). Reads 16 bytes.
 */
// @ts-ignore: decorator
@inline export function unpack8Top(group: usize, t: usize): v128 {
  return i16x8.mul(v128.swizzle(v128.load(group), v128.load(t)), v128.load(t, 16));
}

/** One element's field, for the scalar tail. Reads up to 8 bytes from the field's first byte. */
// @ts-ignore: decorator
@inline export function unpack1(raw: usize, e: usize, w: u32): u32 {
  const bit = e * usize(w);
  const word = load<u64>(raw + (bit >> 3));
  return u32(word >> u64(bit & 7)) & ((u32(1) << w) - 1);
}
