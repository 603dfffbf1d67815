// The rANS decoder fused with the coding-pair merge (docs/FORMAT.md §Chunk).
//
// A decode step per lane: entry = table[x & (2^P - 1)],
// x = freq * (x >> P) + (slot - start), then one 16-bit word when x < 2^16.
// Four lanes share a v128; words for the lanes of a vector are consecutive
// in the stream, in lane order, so one swizzle from a 16-entry table (indexed
// by the 4-bit mask of lanes in need) hands each lane its word.
//
// The 32-lane loop (what the encoder picks for large chunks) is bound by the
// three vector ALU ports of x86 under V8, so it is built to spend few vector
// instructions per element:
//  - Its 8 state vectors live in locals, not memory, and it is instantiated
//    per common P so that x >> P is a shift by an immediate (V8 rebuilds a
//    variable shift count, through a general register, at every use). The
//    same loop with 4 vectors serves 16-lane chunks (4 to 16 Ki elements):
//    with states in memory they decoded 9% slower (stories260K).
//  - Table entries are 64-bit (freq | bias << 16, code << c): two 64-bit
//    loads and one shuffle give four lanes' freq and bias, one more shuffle
//    their codes. 32-bit entries would save the shuffles but cost more
//    instructions to gather (one insert per lane) and unpack (three fields).
//  - Table offsets for the next round are stored to scratch memory as soon
//    as a state is final and read back as scalars: four scalar loads are
//    cheaper than extracting four lanes. With fewer lanes (small chunks) the
//    chain from one state to the next is the limit, not throughput, and
//    extracting lanes is the shorter path.
//  - Renormalisation is branch-free with no compare or blend: the sign bits
//    of "high half == 0" index two swizzles, one moving those lanes' low
//    halves up, one dropping the next words into the freed low halves.
//  - The merge with the raw plane works on eight 16-bit outputs at once when
//    the raw field fits two bytes (bf16 always; fp16 when k >= 2): one
//    swizzle and one multiply unpack eight fields, one arithmetic shift and
//    one mask place sign and low bits around the codes.

import { CONTEXT_LANE, CONTEXT_NONE, CONTEXT_ROW, decodeTable, MAX_PRECISION, RANS_L } from "./rans";
import { unpack1, unpack4Top, unpack8Table, unpack8Top, MAX_RAW_BITS_16 } from "./rawbits";

// Per 4-bit mask m of lanes below 2^16: +0 the swizzle handing the next words
// (u16, in lane order) to those lanes' low halves, zero elsewhere; +16 the
// multipliers (u32) moving those lanes' low halves to their high halves:
// 2^16 for them, 1 for the rest. A multiply by a table entry is one
// instruction; a second swizzle would be three (V8 guards a swizzle's
// indices with an add of a constant it first loads).
const renormTable = memory.data(16 * 32, 16);
// Byte offsets into decodeTable of each lane's next slot, for 8 vectors.
const slotScratch = memory.data(128, 16);
// The 32-lane loop's `keep` mask (see merge4), read from memory at each use
// rather than held in a local: 8 states and the loop's constants already
// fill the 16 vector registers (a local measured slower, with more spills).
const keepScratch = memory.data(16, 16);

// Channel contexts (rans.ts): the decoder's bases are byte offsets into
// decodeTable, so the hot loop never branches on data:
//  - CONTEXT_ROW: one u32 per round (the tail round included), all lanes
//    alike; added to the scalar table address, no vector instruction.
//  - CONTEXT_LANE: 32 u32 per round, one per lane, repeating every
//    (basesEnd - bases) / 128 rounds; added to the slot offsets, one vector
//    add per four lanes.
// decodeCodes' bases and basesEnd, read by the loops it dispatches to (kept
// out of their signatures, which every shape repeats).
const contextScratch = memory.data(8, 8);
// Bases of order-0 chunks: table 0 for every lane.
const zeroBases = memory.data(128, 16);

export function initDecodeTables(): void {
  for (let m = 0; m < 16; m++) {
    let next = 0;
    for (let lane = 0; lane < 4; lane++) {
      const t = renormTable + usize(m * 32 + lane * 4);
      const need = (m & (1 << lane)) != 0;
      for (let j = 0; j < 4; j++) store<u8>(t + usize(j), need && j < 2 ? u8(2 * next + j) : 0x80);
      store<u32>(t, need ? RANS_L : 1, 16);
      if (need) next++;
    }
  }
}

/**
 * Fills table `group` of the decode slot table (slots group * 2^P ..) from
 * normalised frequencies (u32 per code, summing to 2^P). Per slot, 8 bytes:
 * lo32 = freq | (slot - start) << 16, hi32 = code << c, the code's bits in
 * place in the restored element. Returns false when the frequencies do not
 * sum to 2^P or the table does not fit.
 */
export function buildDecodeTable(freqs: usize, alphabet: u32, precision: u32, c: u32, group: u32): bool {
  if (precision > MAX_PRECISION || group >= u32(1) << (MAX_PRECISION - precision)) return false;
  const total: u32 = 1 << precision;
  const table = decodeTable + (usize(group << precision) << 3);
  // A small chunk decodes in about the time its table takes to fill, so the
  // fill skips absent codes four at a time (most of a wide alphabet) and
  // writes two slots per store.
  const step = i64x2.splat(i64(2) << 16);
  let slot: u32 = 0;
  for (let s: u32 = 0; s < alphabet; s++) {
    if ((s & 3) == 0 && s + 4 <= alphabet && !v128.any_true(v128.load(freqs + (usize(s) << 2)))) {
      s += 3;
      continue;
    }
    const f = load<u32>(freqs + (usize(s) << 2));
    if (f > total - slot) return false;
    const entry = (u64(s << c) << 32) | u64(f);
    let at = table + (usize(slot) << 3);
    const end = at + (usize(f) << 3);
    let pair = i64x2(i64(entry), i64(entry | (u64(1) << 16)));
    for (; at + 16 <= end; at += 16) {
      v128.store(at, pair);
      pair = i64x2.add(pair, step);
    }
    if (at < end) store<u64>(at, u64(i64x2.extract_lane(pair, 0)));
    slot += f;
  }
  return slot == total;
}

/** Byte offsets into decodeTable of the slots of a state vector. */
// @ts-ignore: decorator
@inline function slotOffsets(x: v128, slotMask: v128): v128 {
  return i32x4.shl(v128.and(x, slotMask), 3);
}

/** Two lanes' table entries, from their byte offsets into decodeTable. */
// @ts-ignore: decorator
@inline function entries(o0: u32, o1: u32): v128 {
  return v128.load64_lane(usize(o1), v128.load64_zero(usize(o0), decodeTable), 1, decodeTable);
}

/**
 * Two lanes' table entries, from their offsets stored at `at`, into the
 * table at `table` (CONTEXT_ROW) or decodeTable (offsets hold any base).
 */
// @ts-ignore: decorator
@inline function entriesAt(at: usize, kind: u32, table: usize): v128 {
  if (kind == CONTEXT_ROW) {
    return v128.load64_lane(table + usize(load<u32>(at, 4)), v128.load64_zero(table + usize(load<u32>(at))), 1);
  }
  return entries(load<u32>(at), load<u32>(at, 4));
}

/** Offsets of the next round's slots; CONTEXT_LANE adds the lanes' table bases at `lb`. */
// @ts-ignore: decorator
@inline function nextOffsets(x: v128, slotMask: v128, kind: u32, lb: usize): v128 {
  const o = slotOffsets(x, slotMask);
  return kind == CONTEXT_LANE ? i32x4.add(o, v128.load(lb)) : o;
}

/** The decode step before renormalisation; a, b: entries of lanes 0, 1 and 2, 3. */
// @ts-ignore: decorator
@inline function advance(x: v128, a: v128, b: v128, P: i32): v128 {
  const fb = i32x4.shuffle(a, b, 0, 2, 4, 6);
  return i32x4.add(i32x4.mul(v128.and(fb, i32x4.splat(0xffff)), i32x4.shr_u(x, P)), i32x4.shr_u(fb, 16));
}

/** Each lane's code << c, from its entries (as for advance). */
// @ts-ignore: decorator
@inline function codes(a: v128, b: v128): v128 {
  return i32x4.shuffle(a, b, 1, 3, 5, 7);
}

/** Bit j set when lane j is below 2^16: the sign of "high half == 0". */
// @ts-ignore: decorator
@inline function needBits(y: v128): usize {
  return usize(i32x4.bitmask(i16x8.eq(y, i16x8.splat(0))));
}

/** Renormalised states: lanes below 2^16 take the next words from `ptr`. */
// @ts-ignore: decorator
@inline function refill(y: v128, ptr: usize): v128 {
  const t = needBits(y) << 5;
  const shifted = i32x4.mul(y, v128.load(t, renormTable + 16));
  return v128.or(shifted, v128.swizzle(v128.load64_zero(ptr), v128.load(t, renormTable)));
}

/** Bytes of words refill(y, ...) takes. */
// @ts-ignore: decorator
@inline function consumed(y: v128): usize {
  return usize(popcnt(needBits(y))) << 1;
}

/**
 * Restored elements from raw fields at the top of i32 lanes (unpack4Top) and
 * codes in place: shifting the field down arithmetically copies the sign over
 * bits c.., and `keep` (sign bit | low c bits) drops all but the top copy.
 */
// @ts-ignore: decorator
@inline function merge4(top: v128, w: usize, code: v128, keep: v128): v128 {
  return v128.or(v128.and(i32x4.shr_s(top, 32 - i32(w)), keep), code);
}

/**
 * Writes elements e..e+7 from the codes of two state vectors (as i32 lanes,
 * see codes). `rp` is the raw plane at element e, used when the fields fit
 * 16-bit lanes (`narrow`), which shift down by `down` = 16 - w (worked out
 * once: V8 rebuilds a shift count at every use, its arithmetic too); bytes
 * (w = 0) have no raw fields.
 */
// @ts-ignore: decorator
@inline function write8<T>(dst: usize, e: usize, c0: v128, c1: v128, raw: usize, rp: usize, w: usize, narrow: bool, down: i32): void {
  const o = dst + e * sizeof<T>();
  if (sizeof<T>() == 1) {
    const h = i16x8.narrow_i32x4_u(c0, c1);
    v128.store64_lane(o, i8x16.narrow_i16x8_u(h, h), 0);
    return;
  }
  const keep = v128.load(keepScratch);
  if (sizeof<T>() == 2 && narrow) {
    const t = unpack8Table(u32(w));
    const r = i16x8.shr_s(unpack8Top(rp, t), down);
    v128.store(o, v128.or(v128.and(r, keep), i16x8.narrow_i32x4_u(c0, c1)));
  } else if (sizeof<T>() == 2) {
    const lo = v128.and(i32x4.shr_s(unpack4Top(raw, e, w), 32 - i32(w)), keep);
    const hi = v128.and(i32x4.shr_s(unpack4Top(raw, e + 4, w), 32 - i32(w)), keep);
    v128.store(o, v128.or(i16x8.narrow_i32x4_u(lo, hi), i16x8.narrow_i32x4_u(c0, c1)));
  } else {
    v128.store(o, merge4(unpack4Top(raw, e, w), w, c0, keep));
    v128.store(o, merge4(unpack4Top(raw, e + 4, w), w, c1, keep), 16);
  }
}

/** The `keep` mask of merge4 (i32 lanes) or of write8's i16 lanes (`narrow`). */
// @ts-ignore: decorator
@inline function keepMask<T>(c: u32, signed: u32, narrow: bool): v128 {
  const low = (u32(1) << c) - 1;
  if (narrow) return i16x8.splat(i16(low | (signed << 15)));
  return i32x4.splat(low | (signed << (sizeof<T>() * 8 - 1)));
}

/**
 * Full rounds of N = 32 or 16 lanes (`half`), states held in 8 or 4 v128
 * locals. Decodes n elements (a multiple of N); returns the payload read
 * pointer, or 0 on overrun. Inlined into the functions below with P,
 * `narrow`, `kind` and `half` constant; contexts come with 32 lanes only.
 */
// @ts-ignore: decorator
@inline function roundsHeld<T>(dst: usize, n: usize, c: u32, signed: u32, P: i32, narrow: bool, kind: u32, half: bool, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  const w = usize(c + signed);
  const down = 16 - i32(w);
  v128.store(keepScratch, keepMask<T>(c, signed, narrow));
  const slotMask = i32x4.splat((1 << P) - 1);
  const sc = slotScratch;
  const bases = usize(load<u32>(contextScratch));
  const basesEnd = usize(load<u32>(contextScratch, 4));
  // This round's bases (gb) and table (CONTEXT_ROW), and the next round's bases (nb).
  let gb = bases;
  let table = decodeTable;
  if (kind == CONTEXT_ROW) table += usize(load<u32>(gb));
  let x0 = v128.load(states, 0);
  let x1 = v128.load(states, 16);
  let x2 = v128.load(states, 32);
  let x3 = v128.load(states, 48);
  let x4 = half ? x0 : v128.load(states, 64);
  let x5 = half ? x0 : v128.load(states, 80);
  let x6 = half ? x0 : v128.load(states, 96);
  let x7 = half ? x0 : v128.load(states, 112);
  v128.store(sc, nextOffsets(x0, slotMask, kind, gb), 0);
  v128.store(sc, nextOffsets(x1, slotMask, kind, gb + 16), 16);
  v128.store(sc, nextOffsets(x2, slotMask, kind, gb + 32), 32);
  v128.store(sc, nextOffsets(x3, slotMask, kind, gb + 48), 48);
  if (!half) {
    v128.store(sc, nextOffsets(x4, slotMask, kind, gb + 64), 64);
    v128.store(sc, nextOffsets(x5, slotMask, kind, gb + 80), 80);
    v128.store(sc, nextOffsets(x6, slotMask, kind, gb + 96), 96);
    v128.store(sc, nextOffsets(x7, slotMask, kind, gb + 112), 112);
  }
  const round: usize = half ? 16 : 32;
  let ptr = payload;
  let rp = raw;
  for (let e: usize = 0; e < n; e += round) {
    // A round reads at most 64 bytes (+8 of lookahead) past this check.
    if (ptr > payloadEnd) return 0;
    let nb = gb;
    if (kind == CONTEXT_ROW) nb = gb + 4;
    if (kind == CONTEXT_LANE) {
      nb = gb + 128;
      if (nb == basesEnd) nb = bases;
    }
    // Each vector: gather, step, renormalise, store next round's offsets.
    let a = entriesAt(sc, kind, table), b = entriesAt(sc + 8, kind, table);
    let y = advance(x0, a, b, P);
    x0 = refill(y, ptr); ptr += consumed(y);
    v128.store(sc, nextOffsets(x0, slotMask, kind, nb), 0);
    let c0 = codes(a, b);
    a = entriesAt(sc + 16, kind, table); b = entriesAt(sc + 24, kind, table);
    y = advance(x1, a, b, P);
    x1 = refill(y, ptr); ptr += consumed(y);
    v128.store(sc, nextOffsets(x1, slotMask, kind, nb + 16), 16);
    write8<T>(dst, e, c0, codes(a, b), raw, rp, w, narrow, down);

    a = entriesAt(sc + 32, kind, table); b = entriesAt(sc + 40, kind, table);
    y = advance(x2, a, b, P);
    x2 = refill(y, ptr); ptr += consumed(y);
    v128.store(sc, nextOffsets(x2, slotMask, kind, nb + 32), 32);
    c0 = codes(a, b);
    a = entriesAt(sc + 48, kind, table); b = entriesAt(sc + 56, kind, table);
    y = advance(x3, a, b, P);
    x3 = refill(y, ptr); ptr += consumed(y);
    v128.store(sc, nextOffsets(x3, slotMask, kind, nb + 48), 48);
    write8<T>(dst, e + 8, c0, codes(a, b), raw, rp + w, w, narrow, down);

    if (!half) {
      a = entriesAt(sc + 64, kind, table); b = entriesAt(sc + 72, kind, table);
      y = advance(x4, a, b, P);
      x4 = refill(y, ptr); ptr += consumed(y);
      v128.store(sc, nextOffsets(x4, slotMask, kind, nb + 64), 64);
      c0 = codes(a, b);
      a = entriesAt(sc + 80, kind, table); b = entriesAt(sc + 88, kind, table);
      y = advance(x5, a, b, P);
      x5 = refill(y, ptr); ptr += consumed(y);
      v128.store(sc, nextOffsets(x5, slotMask, kind, nb + 80), 80);
      write8<T>(dst, e + 16, c0, codes(a, b), raw, rp + 2 * w, w, narrow, down);

      a = entriesAt(sc + 96, kind, table); b = entriesAt(sc + 104, kind, table);
      y = advance(x6, a, b, P);
      x6 = refill(y, ptr); ptr += consumed(y);
      v128.store(sc, nextOffsets(x6, slotMask, kind, nb + 96), 96);
      c0 = codes(a, b);
      a = entriesAt(sc + 112, kind, table); b = entriesAt(sc + 120, kind, table);
      y = advance(x7, a, b, P);
      x7 = refill(y, ptr); ptr += consumed(y);
      v128.store(sc, nextOffsets(x7, slotMask, kind, nb + 112), 112);
      write8<T>(dst, e + 24, c0, codes(a, b), raw, rp + 3 * w, w, narrow, down);
    }
    rp += (round >> 3) * w;
    gb = nb;
    if (kind == CONTEXT_ROW) table = decodeTable + usize(load<u32>(gb));
  }
  v128.store(states, x0, 0);
  v128.store(states, x1, 16);
  v128.store(states, x2, 32);
  v128.store(states, x3, 48);
  if (!half) {
    v128.store(states, x4, 64);
    v128.store(states, x5, 80);
    v128.store(states, x6, 96);
    v128.store(states, x7, 112);
  }
  return ptr;
}

/**
 * One step of four lanes for the small-chunk loops: writes elements
 * e..e+3 and returns the states before renormalisation.
 */
// @ts-ignore: decorator
@inline function step4<T>(x: v128, dst: usize, e: usize, raw: usize, w: usize, keep: v128, slotMask: v128, P: i32): v128 {
  const at = slotOffsets(x, slotMask);
  const a = entries(i32x4.extract_lane(at, 0), i32x4.extract_lane(at, 1));
  const b = entries(i32x4.extract_lane(at, 2), i32x4.extract_lane(at, 3));
  const out = merge4(unpack4Top(raw, e, w), w, codes(a, b), keep);
  const o = dst + e * sizeof<T>();
  if (sizeof<T>() == 4) {
    v128.store(o, out);
  } else if (sizeof<T>() == 2) {
    v128.store64_lane(o, i16x8.narrow_i32x4_u(out, out), 0);
  } else {
    const h = i16x8.narrow_i32x4_u(out, out);
    v128.store32_lane(o, i8x16.narrow_i16x8_u(h, h), 0);
  }
  return advance(x, a, b, P);
}

/**
 * Full rounds for any lane count (a multiple of 4), states in memory: small
 * chunks. Decodes n elements (a multiple of `lanes`).
 */
function rounds<T>(dst: usize, n: usize, c: u32, signed: u32, precision: u32, lanes: usize, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  const w = usize(c + signed);
  const keep = keepMask<T>(c, signed, false);
  const P = i32(precision);
  const slotMask = i32x4.splat((1 << P) - 1);
  let ptr = payload;
  for (let e: usize = 0; e < n; ) {
    if (ptr > payloadEnd) return 0;
    for (let sp = states; sp < states + (lanes << 2); sp += 16) {
      const y = step4<T>(v128.load(sp), dst, e, raw, w, keep, slotMask, P);
      v128.store(sp, refill(y, ptr));
      ptr += consumed(y);
      e += 4;
    }
  }
  return ptr;
}

/**
 * Full rounds of 4 lanes, the encoder's choice below 16 Ki elements: the
 * state stays in a local, so the chain from one round to the next does not
 * pass through a store and a load.
 */
function rounds4<T>(dst: usize, n: usize, c: u32, signed: u32, precision: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  const w = usize(c + signed);
  const keep = keepMask<T>(c, signed, false);
  const P = i32(precision);
  const slotMask = i32x4.splat((1 << P) - 1);
  let x = v128.load(states);
  let ptr = payload;
  for (let e: usize = 0; e < n; e += 4) {
    if (ptr > payloadEnd) return 0;
    const y = step4<T>(x, dst, e, raw, w, keep, slotMask, P);
    x = refill(y, ptr);
    ptr += consumed(y);
  }
  v128.store(states, x);
  return ptr;
}

/**
 * The partial last round, elements e..n-1 in lanes 0.., one at a time; lane
 * j's table is at byte offset load<u32>(bases + j * step) in decodeTable.
 */
function tail<T>(dst: usize, e: usize, n: usize, c: u32, signed: u32, precision: u32, states: usize, ptr: usize, raw: usize, bases: usize, step: usize): usize {
  const w = c + signed;
  const slotMask: u32 = (u32(1) << precision) - 1;
  const low: u32 = (u32(1) << c) - 1;
  const signShift = u32(sizeof<T>() * 8 - 1);
  for (let sp = states, bp = bases; e < n; sp += 4, bp += step, e++) {
    let x = load<u32>(sp);
    const entry = load<u64>(decodeTable + usize(load<u32>(bp)) + (usize(x & slotMask) << 3));
    const fb = u32(entry);
    x = (fb & 0xffff) * (x >> precision) + (fb >> 16);
    if (x < RANS_L) {
      x = (x << 16) | u32(load<u16>(ptr));
      ptr += 2;
    }
    store<u32>(sp, x);
    const r = unpack1(raw, e, w);
    store<T>(dst + e * sizeof<T>(), <T>(((r >> c) << signShift) | u32(entry >> 32) | (r & low)));
  }
  return ptr;
}

// The 32-lane shapes, each its own function: x >> P by an immediate for the
// encoder's precisions (11 and 12 order-0, 9 to 12 with contexts, whose
// several tables share the room of one), any P otherwise, per context kind.
// V8 optimises a function at a time in the background; one function holding
// every shape takes it ~10 ms, during which decoding runs unoptimised.
function narrow32P11(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, 11, true, CONTEXT_NONE, false, states, payload, payloadEnd, raw);
}
function narrow32P12(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, 12, true, CONTEXT_NONE, false, states, payload, payloadEnd, raw);
}
function narrow32(dst: usize, n: usize, c: u32, signed: u32, precision: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, i32(precision), true, CONTEXT_NONE, false, states, payload, payloadEnd, raw);
}
function narrowRow32P9(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, 9, true, CONTEXT_ROW, false, states, payload, payloadEnd, raw);
}
function narrowRow32P10(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, 10, true, CONTEXT_ROW, false, states, payload, payloadEnd, raw);
}
function narrowRow32P11(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, 11, true, CONTEXT_ROW, false, states, payload, payloadEnd, raw);
}
function narrowRow32P12(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, 12, true, CONTEXT_ROW, false, states, payload, payloadEnd, raw);
}
function narrowRow32(dst: usize, n: usize, c: u32, signed: u32, precision: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, i32(precision), true, CONTEXT_ROW, false, states, payload, payloadEnd, raw);
}
function narrowLane32P9(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, 9, true, CONTEXT_LANE, false, states, payload, payloadEnd, raw);
}
function narrowLane32P10(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, 10, true, CONTEXT_LANE, false, states, payload, payloadEnd, raw);
}
function narrowLane32P11(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, 11, true, CONTEXT_LANE, false, states, payload, payloadEnd, raw);
}
function narrowLane32P12(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, 12, true, CONTEXT_LANE, false, states, payload, payloadEnd, raw);
}
function narrowLane32(dst: usize, n: usize, c: u32, signed: u32, precision: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, i32(precision), true, CONTEXT_LANE, false, states, payload, payloadEnd, raw);
}
function wide32P11<T>(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<T>(dst, n, c, signed, 11, false, CONTEXT_NONE, false, states, payload, payloadEnd, raw);
}
function wide32P12<T>(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<T>(dst, n, c, signed, 12, false, CONTEXT_NONE, false, states, payload, payloadEnd, raw);
}
function wide32<T>(dst: usize, n: usize, c: u32, signed: u32, precision: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<T>(dst, n, c, signed, i32(precision), false, CONTEXT_NONE, false, states, payload, payloadEnd, raw);
}
// Wide fields with contexts (fp32, fp16 with k < 2): any P, one shape per kind.
function wideRow32<T>(dst: usize, n: usize, c: u32, signed: u32, precision: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<T>(dst, n, c, signed, i32(precision), false, CONTEXT_ROW, false, states, payload, payloadEnd, raw);
}
function wideLane32<T>(dst: usize, n: usize, c: u32, signed: u32, precision: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<T>(dst, n, c, signed, i32(precision), false, CONTEXT_LANE, false, states, payload, payloadEnd, raw);
}

// The 16-lane shapes (order-0 chunks of 4 to 16 Ki elements).
function narrow16P11(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, 11, true, CONTEXT_NONE, true, states, payload, payloadEnd, raw);
}
function narrow16P12(dst: usize, n: usize, c: u32, signed: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, 12, true, CONTEXT_NONE, true, states, payload, payloadEnd, raw);
}
function narrow16(dst: usize, n: usize, c: u32, signed: u32, precision: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<u16>(dst, n, c, signed, i32(precision), true, CONTEXT_NONE, true, states, payload, payloadEnd, raw);
}
function wide16<T>(dst: usize, n: usize, c: u32, signed: u32, precision: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  return roundsHeld<T>(dst, n, c, signed, i32(precision), false, CONTEXT_NONE, true, states, payload, payloadEnd, raw);
}

function narrowShape(kind: u32, dst: usize, n: usize, c: u32, signed: u32, precision: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  if (kind == CONTEXT_ROW) {
    if (precision == 9) return narrowRow32P9(dst, n, c, signed, states, payload, payloadEnd, raw);
    if (precision == 10) return narrowRow32P10(dst, n, c, signed, states, payload, payloadEnd, raw);
    if (precision == 11) return narrowRow32P11(dst, n, c, signed, states, payload, payloadEnd, raw);
    if (precision == 12) return narrowRow32P12(dst, n, c, signed, states, payload, payloadEnd, raw);
    return narrowRow32(dst, n, c, signed, precision, states, payload, payloadEnd, raw);
  }
  if (kind == CONTEXT_LANE) {
    if (precision == 9) return narrowLane32P9(dst, n, c, signed, states, payload, payloadEnd, raw);
    if (precision == 10) return narrowLane32P10(dst, n, c, signed, states, payload, payloadEnd, raw);
    if (precision == 11) return narrowLane32P11(dst, n, c, signed, states, payload, payloadEnd, raw);
    if (precision == 12) return narrowLane32P12(dst, n, c, signed, states, payload, payloadEnd, raw);
    return narrowLane32(dst, n, c, signed, precision, states, payload, payloadEnd, raw);
  }
  if (precision == 11) return narrow32P11(dst, n, c, signed, states, payload, payloadEnd, raw);
  if (precision == 12) return narrow32P12(dst, n, c, signed, states, payload, payloadEnd, raw);
  return narrow32(dst, n, c, signed, precision, states, payload, payloadEnd, raw);
}

function wideShape<T>(kind: u32, dst: usize, n: usize, c: u32, signed: u32, precision: u32, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  if (kind == CONTEXT_ROW) return wideRow32<T>(dst, n, c, signed, precision, states, payload, payloadEnd, raw);
  if (kind == CONTEXT_LANE) return wideLane32<T>(dst, n, c, signed, precision, states, payload, payloadEnd, raw);
  if (precision == 11) return wide32P11<T>(dst, n, c, signed, states, payload, payloadEnd, raw);
  if (precision == 12) return wide32P12<T>(dst, n, c, signed, states, payload, payloadEnd, raw);
  return wide32<T>(dst, n, c, signed, precision, states, payload, payloadEnd, raw);
}

function decodeAs<T>(dst: usize, n: usize, c: u32, signed: u32, precision: u32, lanes: usize, kind: u32, bases: usize, basesEnd: usize, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  const w = c + signed;
  const full = n - n % lanes;
  // Fields of two bytes or less (bf16 always, fp16 for k >= 2) merge eight
  // at a time in i16 lanes; bytes have no raw fields to merge.
  // 32 lanes, or 16 without a context, keep their states in registers.
  const held = lanes == 32 || (lanes == 16 && kind == CONTEXT_NONE);
  const narrow = sizeof<T>() == 2 && w >= 1 && w <= MAX_RAW_BITS_16 && held;
  const wide = held && (sizeof<T>() > 1 || w == 0);
  // Contexts need the 32-lane loops.
  if (kind != CONTEXT_NONE && !narrow && !wide) return 0;
  store<u32>(contextScratch, u32(bases));
  store<u32>(contextScratch, u32(basesEnd), 4);
  let ptr: usize;
  if (narrow && lanes == 16) {
    if (precision == 11) ptr = narrow16P11(dst, full, c, signed, states, payload, payloadEnd, raw);
    else if (precision == 12) ptr = narrow16P12(dst, full, c, signed, states, payload, payloadEnd, raw);
    else ptr = narrow16(dst, full, c, signed, precision, states, payload, payloadEnd, raw);
  } else if (wide && lanes == 16) ptr = wide16<T>(dst, full, c, signed, precision, states, payload, payloadEnd, raw);
  else if (narrow) ptr = narrowShape(kind, dst, full, c, signed, precision, states, payload, payloadEnd, raw);
  else if (wide) ptr = wideShape<T>(kind, dst, full, c, signed, precision, states, payload, payloadEnd, raw);
  else if (lanes == 4) ptr = rounds4<T>(dst, full, c, signed, precision, states, payload, payloadEnd, raw);
  else ptr = rounds<T>(dst, full, c, signed, precision, lanes, states, payload, payloadEnd, raw);
  if (ptr == 0) return 0;
  // The tail round's bases: its own row of CONTEXT_LANE's, CONTEXT_ROW's last entry for every lane.
  let tailBases = zeroBases;
  let step: usize = 4;
  if (kind == CONTEXT_ROW) {
    tailBases = bases + ((full >> 5) << 2);
    step = 0;
  } else if (kind == CONTEXT_LANE) {
    tailBases = bases + (((full >> 5) << 7) % (basesEnd - bases));
  }
  ptr = tail<T>(dst, full, n, c, signed, precision, states, ptr, raw, tailBases, step);
  return ptr > payloadEnd ? 0 : ptr;
}

/**
 * Decodes n elements of `width` bytes from N = `lanes` lanes (states at
 * `states`, updated in place), reading words from [payload, payloadEnd) and
 * raw fields from `raw`, and writes the restored elements to `dst`. `kind`
 * and [bases, basesEnd) choose each lane's table (see CONTEXT_ROW and
 * CONTEXT_LANE; the caller checks every base lies inside decodeTable).
 * Returns the payload address after the last word read, or 0 when the
 * stream ran past its end. Needs 256 readable bytes past payloadEnd and past
 * the raw plane; reads no table entry outside the table whatever the input.
 */
export function decodeCodes(width: u32, dst: usize, n: usize, c: u32, signed: u32, precision: u32, lanes: usize, kind: u32, bases: usize, basesEnd: usize, states: usize, payload: usize, payloadEnd: usize, raw: usize): usize {
  if (width == 1) return decodeAs<u8>(dst, n, c, signed, precision, lanes, kind, bases, basesEnd, states, payload, payloadEnd, raw);
  if (width == 2) return decodeAs<u16>(dst, n, c, signed, precision, lanes, kind, bases, basesEnd, states, payload, payloadEnd, raw);
  return decodeAs<u32>(dst, n, c, signed, precision, lanes, kind, bases, basesEnd, states, payload, payloadEnd, raw);
}
