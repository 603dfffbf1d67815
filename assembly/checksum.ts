// ANSF-H32: the checksum of a chunk's decoded bytes (docs/FORMAT.md §Checksum).
//
// XXH32's round (acc = rotl(acc + word * P2, 13) * P1) run on 32 independent
// u32 lanes over 128-byte stripes. 32 lanes as 8 v128 accumulators break the
// multiply latency chain, so hashing runs several times faster than decoding
// and the check costs little. The final stripe is zero-padded; the length is
// folded into the result, so trailing zeros still change the hash.

const P1: u32 = 0x9e3779b1;
const P2: u32 = 0x85ebca77;
const P3: u32 = 0xc2b2ae3d;
const P4: u32 = 0x27d4eb2f;
const P5: u32 = 0x165667b1;

const STRIPE: usize = 128;
const tail = memory.data(i32(STRIPE), 16);
// The two multipliers as vectors, read once per call: a splat of a constant
// in the loop is rebuilt by V8 at every use.
const primes = memory.data<u32>([P2, P2, P2, P2, P1, P1, P1, P1], 16);

// @ts-ignore: decorator
@inline function round(acc: v128, data: v128, p2: v128, p1: v128): v128 {
  const t = i32x4.add(acc, i32x4.mul(data, p2));
  const r = v128.or(i32x4.shl(t, 13), i32x4.shr_u(t, 19));
  return i32x4.mul(r, p1);
}

export function checksum(ptr: usize, len: usize): u32 {
  const p2 = v128.load(primes);
  const p1 = v128.load(primes, 16);
  let a0 = i32x4(P5 * 1, P5 * 2, P5 * 3, P5 * 4);
  let a1 = i32x4(P5 * 5, P5 * 6, P5 * 7, P5 * 8);
  let a2 = i32x4(P5 * 9, P5 * 10, P5 * 11, P5 * 12);
  let a3 = i32x4(P5 * 13, P5 * 14, P5 * 15, P5 * 16);
  let a4 = i32x4(P5 * 17, P5 * 18, P5 * 19, P5 * 20);
  let a5 = i32x4(P5 * 21, P5 * 22, P5 * 23, P5 * 24);
  let a6 = i32x4(P5 * 25, P5 * 26, P5 * 27, P5 * 28);
  let a7 = i32x4(P5 * 29, P5 * 30, P5 * 31, P5 * 32);
  const full = len & ~(STRIPE - 1);
  let p = ptr;
  const end = ptr + full;
  let last = false;
  while (true) {
    if (p == end) {
      const rest = len - full;
      if (rest == 0 || last) break;
      memory.fill(tail, 0, STRIPE);
      memory.copy(tail, end, rest);
      p = tail;
      last = true;
    }
    a0 = round(a0, v128.load(p, 0), p2, p1);
    a1 = round(a1, v128.load(p, 16), p2, p1);
    a2 = round(a2, v128.load(p, 32), p2, p1);
    a3 = round(a3, v128.load(p, 48), p2, p1);
    a4 = round(a4, v128.load(p, 64), p2, p1);
    a5 = round(a5, v128.load(p, 80), p2, p1);
    a6 = round(a6, v128.load(p, 96), p2, p1);
    a7 = round(a7, v128.load(p, 112), p2, p1);
    p += STRIPE;
    if (last) break;
  }
  let h: u32 = u32(len) * P5 + u32(u64(len) >> 32);
  h = fold(h, a0); h = fold(h, a1); h = fold(h, a2); h = fold(h, a3);
  h = fold(h, a4); h = fold(h, a5); h = fold(h, a6); h = fold(h, a7);
  h ^= h >> 15; h *= P2;
  h ^= h >> 13; h *= P3;
  h ^= h >> 16;
  return h;
}

// @ts-ignore: decorator
@inline function fold(h: u32, acc: v128): u32 {
  h = rotl<u32>(h + u32(i32x4.extract_lane(acc, 0)) * P3, 17) * P4;
  h = rotl<u32>(h + u32(i32x4.extract_lane(acc, 1)) * P3, 17) * P4;
  h = rotl<u32>(h + u32(i32x4.extract_lane(acc, 2)) * P3, 17) * P4;
  h = rotl<u32>(h + u32(i32x4.extract_lane(acc, 3)) * P3, 17) * P4;
  return h;
}
