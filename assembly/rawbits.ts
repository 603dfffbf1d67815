// The raw plane: each element's additional bits (sign + low mantissa), w bits
// per element, as one little-endian bitstream: element e sits at bit e*w.
//
// SIMD unpacking reads four elements at a time. Eight elements span exactly
// w bytes, so the layout of a group of eight repeats; for each width w and
// half-group h a swizzle gathers each element's four covering bytes into its
// i32 lane, a multiply by 2^(32 - shift - w) lifts the field to the top of
// the lane (shifts per lane without a variable shift) and one shr_u drops it
// into place. Fields up to 25 bits fit the 32-bit window.

export const MAX_RAW_BITS: i32 = 25;

// Per (w, h): 16 swizzle bytes, then 16 bytes of multipliers.
const unpackTables = memory.data((MAX_RAW_BITS + 1) * 2 * 32, 16);

export function initRawTables(): void {
  initUnpack8Tables();
  for (let w = 0; w <= MAX_RAW_BITS; w++) {
    for (let h = 0; h < 2; h++) {
      const t = unpackTables + usize((w * 2 + h) * 32);
      for (let i = 0; i < 4; i++) {
        const bit = 4 * h * (w & 1) + i * w;
        const byte = bit >> 3;
        const shift = bit & 7;
        for (let j = 0; j < 4; j++) {
          store<u8>(t + usize(i * 4 + j), w == 0 ? 0x80 : u8(byte + j));
        }
        const up = 32 - shift - w;
        store<u32>(t + 16 + usize(i * 4), w == 0 ? 0 : u32(1) << u32(up));
      }
    }
  }
}

// Fields of up to 9 bits fit the two bytes starting at their first byte, so
// eight of them unpack into i16 lanes with one swizzle and one i16 multiply;
// the layout of eight elements is the same for every group, one table per w.
export const MAX_RAW_BITS_16: u32 = 9;
const unpack8Tables = memory.data((MAX_RAW_BITS_16 + 1) * 32, 16);

function initUnpack8Tables(): void {
  for (let w = 1; w <= i32(MAX_RAW_BITS_16); w++) {
    const t = unpack8Tables + usize(w * 32);
    for (let i = 0; i < 8; i++) {
      const bit = i * w;
      store<u8>(t + usize(2 * i), u8(bit >> 3));
      store<u8>(t + usize(2 * i + 1), u8((bit >> 3) + 1));
      const up: i32 = 16 - (bit & 7) - w;
      store<u16>(t + 16 + usize(2 * i), u16(u32(1) << u32(up)));
    }
  }
}

/** Swizzle of unpack8 for width w (1..MAX_RAW_BITS_16); the multipliers follow at +16. */
export function unpack8Table(w: u32): usize {
  return unpack8Tables + usize(w) * 32;
}

/**
 * The w-bit fields of elements e..e+7 (e % 8 == 0), each at the top of an
 * i16 lane (bits 16-w..15), given unpack8Table(w)'s two vectors.
 */
// @ts-ignore: decorator
@inline export function unpack8(raw: usize, e: usize, w: usize, swz: v128, mul: v128): v128 {
  return i16x8.mul(v128.swizzle(v128.load(raw + (e >> 3) * w), swz), mul);
}

/** Byte offset, within the raw plane, of the 16-byte window holding elements e..e+3 (e % 4 == 0). */
// @ts-ignore: decorator
@inline export function rawWindow(e: usize, w: usize): usize {
  return (e >> 3) * w + ((e >> 2) & 1) * (w >> 1);
}

/** Unpacks the w-bit fields of elements e..e+3 (e % 4 == 0) into i32 lanes. */
// @ts-ignore: decorator
@inline export function unpack4(raw: usize, e: usize, w: usize): v128 {
  const t = unpackTables + (w * 2 + ((e >> 2) & 1)) * 32;
  const bytes = v128.swizzle(v128.load(raw + rawWindow(e, w)), v128.load(t));
  return i32x4.shr_u(i32x4.mul(bytes, v128.load(t, 16)), i32(32 - i32(w)));
}

/** One element's field, for the scalar tail. Reads up to 8 bytes from the field's first byte. */
// @ts-ignore: decorator
@inline export function unpack1(raw: usize, e: usize, w: u32): u32 {
  const bit = e * usize(w);
  const word = load<u64>(raw + (bit >> 3));
  return u32(word >> u64(bit & 7)) & ((u32(1) << w) - 1);
}
