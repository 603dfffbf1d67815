// The bitstream of a version-4 or -5 chunk after its fixed fields: G frequency
// models, then N lane states (docs/FORMAT.md §Frequency model, §Lane states),
// read straight into the decoder's tables. In JavaScript, parsing them cost
// small chunks more than decoding did: a few microseconds of allocations and
// bit reads per chunk, 15-20% of stories260K's decode.
//
// Every field is validated as it is read; on a malformed stream the reader
// stops at the field that fails, returns a negative code and leaves up to
// two numbers for the message (headerDetail), and writes nothing outside
// its tables and states but the scratch regions a shaped model is computed
// in (assembly/shape.ts).

import { indexBits, keptBits, normalizeFreqs, normalizeSymbols } from "./normalize";
import { SHAPE_BETA_BITS, shapeFreqs, shapePositions, shapeScaleBase } from "./shape";

/** The stream ends before a field does. */
export const HEADER_ENDS_EARLY: i32 = -1;
/** A gamma code with more leading zeros than its field allows. */
export const HEADER_GAMMA_TOO_LONG: i32 = -2;
/** Bits after the last state, up to the byte boundary, are not zero. */
export const HEADER_PADDING: i32 = -3;
/** More runs of present codes (detail 0) than the alphabet has codes. */
export const HEADER_RUNS: i32 = -4;
/** The top code (detail 0) lies outside the alphabet. */
export const HEADER_TOP: i32 = -5;
/** A run [detail 0, detail 1) reaches below code 0. */
export const HEADER_RUN: i32 = -6;
/** The residual index (detail 0) is not one of the present codes (detail 1). */
export const HEADER_RESIDUAL: i32 = -7;
/** A frequency of detail 0 + 1 bits, beyond the precision. */
export const HEADER_LENGTH: i32 = -8;
/** The frequencies leave the implied one less than 1 of 2^P. */
export const HEADER_EXCEED: i32 = -9;
/** A shaped model's codes leave its largest less than 1 of 2^P. */
export const HEADER_SHAPE: i32 = -10;
/** A shaped model has more codes (detail 0) than its chunk has elements (detail 1). */
export const HEADER_SHAPE_CODES: i32 = -11;

// LSB-first: the unread bits are the low `avail` bits of `acc`, the bytes
// from `next` to `end` not yet taken.
let acc: u64 = 0;
let avail: u32 = 0;
let next: usize = 0;
let end: usize = 0;
let failure: i32 = 0;
let detail0: i32 = 0;
let detail1: i32 = 0;
// Each run of present codes as u16 (first code, length - 1), top run first:
// at most one run per code of a 2^15-code alphabet.
const runs = memory.data(4 << 15, 16);

/** The numbers a failure names, 0 and 1 (see the HEADER_ codes). */
export function headerDetail(which: u32): i32 {
  return which == 0 ? detail0 : detail1;
}

// @ts-ignore: decorator
@inline function fail(code: i32, a: i32 = 0, b: i32 = 0): void {
  if (failure != 0) return;
  failure = code;
  detail0 = a;
  detail1 = b;
}

// @ts-ignore: decorator
@inline function refill(): void {
  while (avail <= 56 && next < end) {
    acc |= u64(load<u8>(next)) << avail;
    next++;
    avail += 8;
  }
}

/** The next n (at most 24) bits; 0 once the stream has failed. */
function bits(n: u32): u32 {
  if (avail < n) {
    refill();
    if (avail < n) {
      fail(HEADER_ENDS_EARLY);
      return 0;
    }
  }
  const v = u32(acc) & ((u32(1) << n) - 1);
  acc >>= n;
  avail -= n;
  return v;
}

/** Elias gamma with fewer than maxBits leading zeros; 1 once the stream has failed. */
function gamma(maxBits: u32): u32 {
  refill();
  const zeros = acc == 0 ? avail : u32(ctz(acc));
  if (zeros >= maxBits) {
    fail(HEADER_GAMMA_TOO_LONG);
    return 1;
  }
  if (acc == 0) {
    fail(HEADER_ENDS_EARLY);
    return 1;
  }
  acc >>= zeros + 1;
  avail -= zeros + 1;
  return (u32(1) << zeros) | bits(zeros);
}

/** Zigzag back: 0, 1, 2, 3, … as 0, -1, 1, -2, … */
// @ts-ignore: decorator
@inline function unzigzag(z: u32): i32 {
  return z & 1 ? -i32((z + 1) >> 1) : i32(z >> 1);
}

/** One model (src/model.ts serializeModel) into `freqs` (alphabet u32, zeroed); from version 5 (`kinds`) a written or a shaped one. False on failure. */
function readModel(alphabet: u32, precision: u32, resolution: u32, freqs: usize, k: u32, kinds: bool, elements: u32): bool {
  const shaped = kinds && bits(1) == 1;
  const runCount = gamma(17);
  if (runCount > alphabet) fail(HEADER_RUNS, i32(runCount));
  let top = i32(alphabet >> 1) + unzigzag(gamma(17) - 1);
  if (failure != 0) return false;
  if (top < 1 || top > i32(alphabet)) {
    fail(HEADER_TOP, top - 1);
    return false;
  }
  let present: u32 = 0;
  for (let i: u32 = 0; i < runCount; i++) {
    if (i > 0) top -= i32(gamma(17));
    const length = i32(gamma(17));
    if (failure != 0) return false;
    if (top - length < 0) {
      fail(HEADER_RUN, top - length, top);
      return false;
    }
    top -= length;
    store<u16>(runs + (usize(i) << 2), u16(top));
    store<u16>(runs + (usize(i) << 2), u16(length - 1), 2);
    present += u32(length);
  }
  if (shaped) return readShape(runCount, present, k, precision, freqs, elements);
  // Gamma codes are at least 1: a model has a run, and so the code whose frequency is implied.
  const residual = bits(indexBits(present));
  if (failure != 0) return false;
  if (residual >= present) {
    fail(HEADER_RESIDUAL, i32(residual), i32(present));
    return false;
  }
  const total = u32(1) << precision;
  let sum: u32 = 0;
  let previous: i32 = 0;
  let index: u32 = 0;
  let residualCode: u32 = 0;
  // Frequencies in ascending code order: the runs from the last read up.
  for (let r = i32(runCount) - 1; r >= 0; r--) {
    const first = u32(load<u16>(runs + (usize(r) << 2)));
    const stop = first + u32(load<u16>(runs + (usize(r) << 2), 2)) + 1;
    for (let s = first; s < stop; s++, index++) {
      if (index == residual) {
        residualCode = s;
        continue;
      }
      const length = previous + unzigzag(gamma(6) - 1);
      if (failure != 0) return false;
      if (length < 0 || length > i32(precision)) {
        fail(HEADER_LENGTH, length);
        return false;
      }
      const kept = keptBits(u32(length), resolution);
      const f = ((u32(1) << kept) | bits(kept)) << (u32(length) - kept);
      previous = length;
      sum += f;
      if (failure != 0) return false;
      if (sum > total) {
        fail(HEADER_EXCEED);
        return false;
      }
      store<u32>(freqs + (usize(s) << 2), f);
    }
  }
  if (sum == total) {
    fail(HEADER_EXCEED);
    return false;
  }
  store<u32>(freqs + (usize(residualCode) << 2), total - sum);
  return true;
}

/** The runs' codes, ascending, as the normaliser's code list; with `freqs`, the normaliser's frequencies into the table instead. */
function eachCode(runCount: u32, freqs: usize): void {
  let index: usize = 0;
  for (let r = i32(runCount) - 1; r >= 0; r--) {
    const first = u32(load<u16>(runs + (usize(r) << 2)));
    const stop = first + u32(load<u16>(runs + (usize(r) << 2), 2)) + 1;
    for (let s = first; s < stop; s++, index += 4) {
      if (freqs) store<u32>(freqs + (usize(s) << 2), load<u32>(normalizeFreqs() + index));
      else store<u32>(normalizeSymbols() + index, s);
    }
  }
}

/**
 * A shaped model's β and scale after its symbol set, and its frequencies
 * computed (assembly/shape.ts) into `freqs`. Its codes must be no more than
 * the chunk's elements, as in any table the encoder makes: computing a code's
 * frequency costs far more than reading a written one's, and so the work stays
 * in proportion to the chunk's output, not to the few bits a symbol set of
 * thousands of codes takes.
 */
function readShape(runCount: u32, present: u32, k: u32, precision: u32, freqs: usize, elements: u32): bool {
  if (present > elements) {
    fail(HEADER_SHAPE_CODES, i32(present), i32(elements));
    return false;
  }
  eachCode(runCount, 0);
  shapePositions(present, k);
  const beta = bits(SHAPE_BETA_BITS);
  const scale = shapeScaleBase(present) + unzigzag(gamma(17) - 1);
  if (failure != 0) return false;
  if (!shapeFreqs(present, k, precision, beta, scale)) {
    fail(HEADER_SHAPE);
    return false;
  }
  eachCode(runCount, freqs);
  return true;
}

/**
 * Reads `groups` models over `alphabet` codes at `precision` and
 * `resolution` into consecutive tables of `alphabet` u32 at `tables`
 * (zeroed here), then `lanes` lane states (u32 each, in [2^16, 2^32)) into
 * `states`, from the `length` bytes at `src`; `k` the codes' mantissa bits,
 * `kinds` whether each model starts with its kind (version 5) and
 * `elements` the chunk's. Returns the whole bytes the bitstream took, or a
 * HEADER_ code.
 */
export function readModelsAndStates(
  src: usize, length: usize, groups: u32, alphabet: u32, precision: u32, resolution: u32, tables: usize, lanes: u32, states: usize,
  k: u32, kinds: bool, elements: u32,
): i32 {
  acc = 0;
  avail = 0;
  next = src;
  end = src + length;
  failure = 0;
  memory.fill(tables, 0, usize(groups * alphabet) << 2);
  for (let g: u32 = 0; g < groups; g++) {
    if (!readModel(alphabet, precision, resolution, tables + (usize(g * alphabet) << 2), k, kinds, elements)) return failure;
  }
  for (let j: u32 = 0; j < lanes; j++) {
    const bitLength = 16 + bits(4);
    const low = bits(16);
    const high = bits(bitLength - 16);
    if (failure != 0) return failure;
    store<u32>(states + (usize(j) << 2), (u32(1) << bitLength) | (high << 16) | low);
  }
  // The unread bits of the last byte taken must be zero: then no bit of the chunk goes unchecked.
  if ((acc & ((u64(1) << u64(avail & 7)) - 1)) != 0) return HEADER_PADDING;
  return i32(next - src) - i32(avail >> 3);
}
