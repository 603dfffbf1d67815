// Raw bits carried in the lane states (docs/FORMAT.md §Lane states).
//
// A lane's state ends where the encoder started it, and the encoder may
// start it anywhere in [L, 2^32): from version 3 it starts lane j at
// x = L + r_j, where r_j are the 16 raw-plane bits from T - H + 16j
// (T = n·w raw bits in all, the last H = min(16·N, T) of them carried), and
// the raw plane stores only its first T - H bits. These two scalar passes
// run once per chunk and touch at most 16·N ≤ 512 bits; the SIMD loops in
// rans.ts and decode.ts never see the difference.

import { RANS_L } from "./rans";
import { unpack1 } from "./rawbits";

/** Bits lane j carries of the `carried` last raw bits: 16 each, the last lane with bits fewer, the rest none. */
// @ts-ignore: decorator
@inline function laneBits(carried: usize, j: usize): u32 {
  const before = j << 4;
  return carried > before ? u32(min<usize>(carried - before, 16)) : 0;
}

/**
 * Encoder: sets the initial state of each of `lanes` lanes (u32 at `states`)
 * to L plus its share of the last `carried` bits of the `total`-bit raw
 * plane at `raw` (as packRaw wrote it), and clears those bits from the
 * plane, so that its stored part, bits [0, total - carried), ends in zero
 * padding.
 */
export function takeStateBits(raw: usize, total: usize, carried: usize, states: usize, lanes: usize): void {
  const from = total - carried;
  for (let j: usize = 0; j < lanes; j++) {
    const bit = from + (j << 4);
    const bits = laneBits(carried, j);
    // A lane's 16 bits at any bit offset lie within 3 bytes; what the load
    // reads past them (or past the plane) is masked off.
    const r = bits == 0 ? 0 : (load<u32>(raw + (bit >> 3)) >> u32(bit & 7)) & ((u32(1) << bits) - 1);
    store<u32>(states + (j << 2), RANS_L + r);
  }
  if (from & 7) {
    const last = raw + (from >> 3);
    store<u8>(last, load<u8>(last) & u8((u32(1) << u32(from & 7)) - 1));
  }
}

/**
 * Decoder, once every lane has ended: checks each final state (u32 at
 * `states`) lies in [L, L + 2^b) for the b bits its lane carries (b = 0:
 * exactly L), then restores the carried bits. The last elements of `dst`
 * (n elements of `width` bytes, code shift c) were merged with zero raw
 * bits in their place; the carried bits are written after the stored plane
 * at `raw` (into the zero slack that follows it: at most 64 bytes plus 4)
 * and each element whose field reaches into them gets its whole field ORed
 * in again (OR leaves the stored bits as they are). Returns `lanes` when
 * every state is in range, else the first lane that is not, having
 * restored nothing.
 */
export function restoreStateBits(width: u32, dst: usize, n: usize, c: u32, signed: u32, carried: usize, raw: usize, states: usize, lanes: usize): usize {
  for (let j: usize = 0; j < lanes; j++) {
    const x = load<u32>(states + (j << 2));
    if (x < RANS_L || u64(x - RANS_L) >= u64(1) << u64(laneBits(carried, j))) return j;
  }
  const w = c + signed;
  if (carried == 0 || w == 0) return lanes;
  const from = n * usize(w) - carried;
  for (let j: usize = 0; (j << 4) < carried; j++) {
    const bit = from + (j << 4);
    const at = raw + (bit >> 3);
    store<u32>(at, load<u32>(at) | ((load<u32>(states + (j << 2)) - RANS_L) << u32(bit & 7)));
  }
  const top = 8 * width - 1;
  const low = (u32(1) << c) - 1;
  for (let e = from / usize(w); e < n; e++) {
    const field = unpack1(raw, e, w);
    const bits = (((field >> c) & signed) << top) | (field & low);
    if (width == 2) {
      const p = dst + (e << 1);
      store<u16>(p, load<u16>(p) | u16(bits));
    } else {
      const p = dst + (e << 2);
      store<u32>(p, load<u32>(p) | bits);
    }
  }
  return lanes;
}
