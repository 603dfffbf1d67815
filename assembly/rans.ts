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
// words in lane order with one swizzle (decode.ts).
//
// The encoder here works four lanes at a time too, mirroring the decoder:
// per vector, one gather of four 16-byte table entries and a transpose, one
// compare for the lanes that renormalise, one swizzle packing their words
// (lanes ascending) below the output pointer, and the step itself as a
// reciprocal multiply with a one-step correction. Nothing branches on data.
// With 32 lanes (large chunks) a round's eight vectors are unrolled, with P
// an immediate per common precision: V8 rebuilds a variable shift count at
// every use, and a loop per vector pays a stack check per iteration.

export const RANS_L: u32 = 1 << 16;
export const MAX_PRECISION: u32 = 15;
export const MAX_CODE_BITS: u32 = 15;

// Decode slot table: per slot, lo32 = freq | (slot - start) << 16, hi32 = code << c.
export const decodeTable = memory.data(8 << MAX_PRECISION, 16);

// Encode symbol table, 16 bytes per code, u32 fields:
//   +0  R = ceil(2^32 / freq)       +4  renorm limit (freq << (16 - P)) - 1
//   +8  freq                        +12 start
// The step x' = (x / freq) << P + x % freq + start needs the exact quotient
// without a divide: q = (x * R) >> 32 is x / freq or one more (x < 2^32), and
// the sign of r = x - q * freq tells which. freq = 1 would need R = 2^32;
// R = 2^32 - 1 yields q = x - 1, r = 1 (x >= 1), which start + 2^P - 1 makes
// up for. A state renormalises when x >= freq << (32 - P), that is when
// x >> 16 exceeds the limit: a compare of values below 2^16, which SIMD does
// signed, on the x >> 16 the step needs anyway.
const encodeTable = memory.data(16 << MAX_CODE_BITS, 16);
// The precision encodeTable was built for.
let encodePrecision: u32 = 0;

/**
 * Fills the entries of the `present` codes at `symbols` (ascending, u32
 * each) with their frequencies at `freqs` (u32 each, summing to 2^P), in a
 * table of `alphabet` codes from code `first` of encodeTable (a context's
 * table g starts at g << codeBits). Absent codes keep stale entries: the
 * counts the frequencies came from say no element has them. Returns false
 * when the table does not fit.
 */
export function buildEncodeTable(symbols: usize, freqs: usize, present: u32, alphabet: u32, precision: u32, first: u32): bool {
  if (first + alphabet > u32(1) << MAX_CODE_BITS) return false;
  encodePrecision = precision;
  let start: u32 = 0;
  for (let i: u32 = 0; i < present; i++) {
    const s = load<u32>(symbols + (usize(i) << 2));
    const f = load<u32>(freqs + (usize(i) << 2));
    if (s >= alphabet || f == 0) return false;
    const t = encodeTable + (usize(first + s) << 4);
    const one = f == 1;
    store<u32>(t, one ? 0xffffffff : u32(((u64(1) << 32) + u64(f) - 1) / u64(f)));
    store<u32>(t, (f << (16 - precision)) - 1, 4);
    store<u32>(t, f, 8);
    store<u32>(t, one ? start + (u32(1) << precision) - 1 : start, 12);
    start += f;
  }
  return true;
}

/**
 * One scalar encode step (the partial round) of the lane whose state is at
 * `sp`, for the code whose encodeTable entry is at `t`. Branch-free: the low
 * word is always stored below `out`, and `out` moves down over it only when
 * the state renormalises. Returns the new `out`.
 */
// @ts-ignore: decorator
@inline function encodeStep(sp: usize, t: usize, out: usize, P: u32): usize {
  let x = load<u32>(sp);
  const emit = x >> 16 > load<u32>(t, 4);
  store<u16>(out - 2, u16(x));
  x = select<u32>(x >> 16, x, emit);
  const f = load<u32>(t, 8);
  const q = u32((u64(x) * u64(load<u32>(t))) >> 32);
  const r = x - q * f;
  const fix = u32(i32(r) >> 31);
  store<u32>(sp, ((q + fix) << P) + r + (f & fix) + load<u32>(t, 12));
  return out - (usize(emit) << 1);
}

// Per 4-bit mask of lanes that renormalise, the swizzle packing those lanes'
// low halves, in lane order, into the top of the low 8 bytes.
const emitTable = memory.data(16 * 16, 16);

export function initEncodeTables(): void {
  for (let m = 0; m < 16; m++) {
    const t = emitTable + usize(m * 16);
    let pos = 8 - 2 * i32(popcnt(m));
    for (let j = 0; j < 16; j++) store<u8>(t + usize(j), 0x80);
    for (let lane = 0; lane < 4; lane++) {
      if (m & (1 << lane)) {
        store<u8>(t + usize(pos), u8(4 * lane));
        store<u8>(t + usize(pos + 1), u8(4 * lane + 1));
        pos += 2;
      }
    }
  }
}

/** High 32 bits of the lane-wise u32 products (two widening multiplies). */
// @ts-ignore: decorator
@inline function mulhi(a: v128, b: v128): v128 {
  return i32x4.shuffle(i64x2.extmul_low_i32x4_u(a, b), i64x2.extmul_high_i32x4_u(a, b), 1, 3, 5, 7);
}

/**
 * Four lanes' encode steps at once: states at `sp`, encodeTable indices of
 * their codes as u16 at `k`. The words of the lanes that renormalise are
 * stored, lanes ascending, just below `out` (8 bytes are written: the rest
 * lies below the new `out`). Returns the new `out`.
 */
// @ts-ignore: decorator
@inline function encodeStep4(sp: usize, k: usize, out: usize, P: i32): usize {
  const e0 = v128.load(usize(load<u16>(k)) << 4, encodeTable);
  const e1 = v128.load(usize(load<u16>(k, 2)) << 4, encodeTable);
  const e2 = v128.load(usize(load<u16>(k, 4)) << 4, encodeTable);
  const e3 = v128.load(usize(load<u16>(k, 6)) << 4, encodeTable);
  const a = i32x4.shuffle(e0, e1, 0, 4, 1, 5);
  const b = i32x4.shuffle(e2, e3, 0, 4, 1, 5);
  const c = i32x4.shuffle(e0, e1, 2, 6, 3, 7);
  const d = i32x4.shuffle(e2, e3, 2, 6, 3, 7);
  const f = i32x4.shuffle(c, d, 0, 1, 4, 5);
  let x = v128.load(sp);
  const high = i32x4.shr_u(x, 16);
  const emit = i32x4.gt_s(high, i32x4.shuffle(a, b, 2, 3, 6, 7));
  const m = usize(i32x4.bitmask(emit));
  v128.store64_lane(out - 8, v128.swizzle(x, v128.load(m << 4, emitTable)), 0);
  // A blend, not a second swizzle: it keeps the table load off the chain
  // from one state to the next.
  x = v128.bitselect(high, x, emit);
  const q = mulhi(x, i32x4.shuffle(a, b, 0, 1, 4, 5));
  const r = i32x4.sub(x, i32x4.mul(q, f));
  const fix = i32x4.shr_s(r, 31);
  const rest = i32x4.add(i32x4.add(r, v128.and(f, fix)), i32x4.shuffle(c, d, 2, 3, 6, 7));
  v128.store(sp, i32x4.add(i32x4.shl(i32x4.add(q, fix), P), rest));
  return out - (usize(popcnt(m)) << 1);
}

// encodeTable entries (u16 indices: the code, plus its table's first index) of the elements of one round.
const roundCodes = memory.data(2 * 32, 16);

// Channel contexts (docs/FORMAT.md §Mode 3): several tables, one chosen per
// round (CONTEXT_ROW) or per lane (CONTEXT_LANE) by position alone. The
// encoder's bases are u16 indices into encodeTable (table g from entry
// g << codeBits): CONTEXT_ROW one per round, CONTEXT_LANE 32 per round
// repeating every (basesEnd - bases) / 64 rounds.
export const CONTEXT_NONE: u32 = 0;
export const CONTEXT_ROW: u32 = 1;
export const CONTEXT_LANE: u32 = 2;

/** The u16 bases of round r's lanes: at the returned address, `step` bytes apart. */
// @ts-ignore: decorator
@inline function roundBases(kind: u32, bases: usize, basesEnd: usize, r: usize): usize {
  if (kind == CONTEXT_ROW) return bases + (r << 1);
  if (kind == CONTEXT_LANE) return bases + ((r << 6) % (basesEnd - bases));
  return zeroBases;
}

// Bases of order-0 chunks: table 0 for every lane.
const zeroBases = memory.data(64, 16);

/**
 * Fills roundCodes for elements e..e+lanes-1 with SIMD, eight at a time
 * (so reading up to 4 elements past the round when N % 8 == 4), each code
 * offset by its lane's table base at `gb` (u16, `step` bytes apart).
 */
// @ts-ignore: decorator
@inline function codesOfRound<T>(src: usize, e: usize, lanes: usize, c: u32, codeMask: u32, gb: usize, step: usize): void {
  const mask = i16x8.splat(u16(codeMask));
  const row = i16x8.splat(load<u16>(gb));
  for (let j: usize = 0; j < lanes; j += 8) {
    const p = src + (e + j) * sizeof<T>();
    let v: v128;
    if (sizeof<T>() == 1) {
      v = i16x8.shr_u(i16x8.extend_low_i8x16_u(v128.load64_zero(p)), c);
    } else if (sizeof<T>() == 2) {
      v = i16x8.shr_u(v128.load(p), c);
    } else {
      // Codes are at most 15 bits: the saturating narrow keeps them.
      const lo = v128.and(i32x4.shr_u(v128.load(p), c), i32x4.splat(codeMask));
      const hi = v128.and(i32x4.shr_u(v128.load(p, 16), c), i32x4.splat(codeMask));
      v = i16x8.narrow_i32x4_u(lo, hi);
    }
    const base = step == 0 ? row : v128.load(gb + (j << 1));
    v128.store(roundCodes + (j << 1), v128.or(v128.and(v, mask), base));
  }
}

/**
 * Encodes the codes of n elements into N lanes, each with its table by
 * `kind` and [bases, basesEnd) (see above). Words are written downwards
 * ending at `outEnd`; `states` (N u32) holds each lane's initial state, in
 * [L, 2^32), and receives its final state. Returns the
 * address of the first payload byte. Writes at most 2n + 8 bytes below
 * outEnd (one word per element, and 8-byte stores ending at the last word);
 * reads up to 4 elements past the end of src (within the caller's slack).
 */
function encodeLanes<T>(src: usize, n: usize, c: u32, codeMask: u32, lanes: usize, kind: u32, bases: usize, basesEnd: usize, states: usize, outEnd: usize): usize {
  const precision = encodePrecision;
  const step: usize = kind == CONTEXT_ROW ? 0 : 2;
  let out = outEnd;
  const full = n - n % lanes;
  // The partial last round, one lane at a time, then full rounds, four lanes
  // at a time; all backwards.
  const tb = roundBases(kind, bases, basesEnd, full / lanes);
  for (let e = n; e > full; ) {
    e--;
    const code = (<u32>load<T>(src + e * sizeof<T>()) >> c) & codeMask;
    const t = encodeTable + ((usize(code) + usize(load<u16>(tb + (e - full) * step))) << 4);
    out = encodeStep(states + ((e - full) << 2), t, out, precision);
  }
  if (lanes == 32) return rounds32Of<T>(src, full, c, codeMask, kind, bases, basesEnd, states, out, precision);
  const P = i32(precision);
  for (let e = full; e > 0; ) {
    e -= lanes;
    codesOfRound<T>(src, e, lanes, c, codeMask, roundBases(kind, bases, basesEnd, e / lanes), step);
    for (let j = lanes; j > 0; ) {
      j -= 4;
      out = encodeStep4(states + (j << 2), roundCodes + (j << 1), out, P);
    }
  }
  return out;
}

/**
 * Full rounds of 32 lanes over elements 0..full-1, backwards, the round's
 * eight steps unrolled; the bases move back a round at a time (no division).
 * Inlined with P constant in the functions below.
 */
// @ts-ignore: decorator
@inline function rounds32<T>(src: usize, full: usize, c: u32, codeMask: u32, kind: u32, bases: usize, basesEnd: usize, states: usize, out: usize, P: i32): usize {
  if (full == 0) return out;
  const step: usize = kind == CONTEXT_ROW ? 0 : 2;
  let gb = roundBases(kind, bases, basesEnd, (full >> 5) - 1);
  for (let e = full; e > 0; ) {
    e -= 32;
    codesOfRound<T>(src, e, 32, c, codeMask, gb, step);
    out = encodeStep4(states + 112, roundCodes + 56, out, P);
    out = encodeStep4(states + 96, roundCodes + 48, out, P);
    out = encodeStep4(states + 80, roundCodes + 40, out, P);
    out = encodeStep4(states + 64, roundCodes + 32, out, P);
    out = encodeStep4(states + 48, roundCodes + 24, out, P);
    out = encodeStep4(states + 32, roundCodes + 16, out, P);
    out = encodeStep4(states + 16, roundCodes + 8, out, P);
    out = encodeStep4(states, roundCodes, out, P);
    if (kind == CONTEXT_ROW) gb -= 2;
    if (kind == CONTEXT_LANE) gb = (gb == bases ? basesEnd : gb) - 64;
  }
  return out;
}

// One function per precision the encoder picks for large chunks (9 to 12),
// each with P an immediate; any other P shares one.
function rounds32P9<T>(src: usize, full: usize, c: u32, codeMask: u32, kind: u32, bases: usize, basesEnd: usize, states: usize, out: usize): usize {
  return rounds32<T>(src, full, c, codeMask, kind, bases, basesEnd, states, out, 9);
}
function rounds32P10<T>(src: usize, full: usize, c: u32, codeMask: u32, kind: u32, bases: usize, basesEnd: usize, states: usize, out: usize): usize {
  return rounds32<T>(src, full, c, codeMask, kind, bases, basesEnd, states, out, 10);
}
function rounds32P11<T>(src: usize, full: usize, c: u32, codeMask: u32, kind: u32, bases: usize, basesEnd: usize, states: usize, out: usize): usize {
  return rounds32<T>(src, full, c, codeMask, kind, bases, basesEnd, states, out, 11);
}
function rounds32P12<T>(src: usize, full: usize, c: u32, codeMask: u32, kind: u32, bases: usize, basesEnd: usize, states: usize, out: usize): usize {
  return rounds32<T>(src, full, c, codeMask, kind, bases, basesEnd, states, out, 12);
}
function rounds32AnyP<T>(src: usize, full: usize, c: u32, codeMask: u32, kind: u32, bases: usize, basesEnd: usize, states: usize, out: usize, precision: u32): usize {
  return rounds32<T>(src, full, c, codeMask, kind, bases, basesEnd, states, out, i32(precision));
}

function rounds32Of<T>(src: usize, full: usize, c: u32, codeMask: u32, kind: u32, bases: usize, basesEnd: usize, states: usize, out: usize, precision: u32): usize {
  if (precision == 9) return rounds32P9<T>(src, full, c, codeMask, kind, bases, basesEnd, states, out);
  if (precision == 10) return rounds32P10<T>(src, full, c, codeMask, kind, bases, basesEnd, states, out);
  if (precision == 11) return rounds32P11<T>(src, full, c, codeMask, kind, bases, basesEnd, states, out);
  if (precision == 12) return rounds32P12<T>(src, full, c, codeMask, kind, bases, basesEnd, states, out);
  return rounds32AnyP<T>(src, full, c, codeMask, kind, bases, basesEnd, states, out, precision);
}

/**
 * Encodes the codes (v >> c) & (2^codeBits - 1) of n elements of `width`
 * bytes at `src` into N = `lanes` lanes, with the tables of the last
 * buildEncodeTable calls. Contexts need N = 32. See encodeLanes.
 */
export function encodeCodes(width: u32, src: usize, n: usize, c: u32, codeBits: u32, lanes: usize, kind: u32, bases: usize, basesEnd: usize, states: usize, outEnd: usize): usize {
  const mask = (u32(1) << codeBits) - 1;
  if (width == 1) return encodeLanes<u8>(src, n, c, mask, lanes, kind, bases, basesEnd, states, outEnd);
  if (width == 2) return encodeLanes<u16>(src, n, c, mask, lanes, kind, bases, basesEnd, states, outEnd);
  return encodeLanes<u32>(src, n, c, mask, lanes, kind, bases, basesEnd, states, outEnd);
}
