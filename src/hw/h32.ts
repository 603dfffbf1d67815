// ANSF-H32 written from docs/FORMAT.md §Checksum, in plain scalar TypeScript,
// sharing nothing with the SIMD Wasm checksum: agreement between the two is
// evidence that both follow the document.

import { rotl32 } from "./bits.js";

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;
const LANES = 32;
const STRIPE = 4 * LANES;

/** XXH32's round: rotl32(acc + word · P2, 13) · P1, all mod 2^32. */
function round(acc: number, word: number): number {
  return Math.imul(rotl32((acc + Math.imul(word, P2)) >>> 0, 13), P1) >>> 0;
}

/** Little-endian u32 at `at`, reading zero past the end (the zero-padded last stripe). */
function word(bytes: Uint8Array, at: number): number {
  if (at + 4 <= bytes.length) return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
  let v = 0;
  for (let i = 0; i < 4 && at + i < bytes.length; i++) v |= bytes[at + i]! << (8 * i);
  return v >>> 0;
}

export function ansfH32(bytes: Uint8Array): number {
  const acc = new Uint32Array(LANES);
  for (let j = 0; j < LANES; j++) acc[j] = Math.imul(P5, j + 1) >>> 0;
  for (let s = 0; s < bytes.length; s += STRIPE) {
    for (let j = 0; j < LANES; j++) acc[j] = round(acc[j]!, word(bytes, s + 4 * j));
  }
  const len = bytes.length;
  // len < 2^53, so the split into low and high 32-bit halves is exact.
  let h = (Math.imul(len >>> 0, P5) + Math.floor(len / 0x100000000)) >>> 0;
  for (let j = 0; j < LANES; j++) h = Math.imul(rotl32((h + Math.imul(acc[j]!, P3)) >>> 0, 17), P4) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h, P2) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, P3) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h;
}
