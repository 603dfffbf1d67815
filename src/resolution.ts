// Frequencies of limited resolution (docs/FORMAT.md §Frequency model,
// version 4). A model with R significant bits per frequency writes at most
// R − 1 bits below each leading one, and one code, the residual, takes what
// the others leave of 2^P. Counts known from a few thousand elements do not
// deserve every bit of their frequencies: on stories260K's 64- to 4096-element
// tensors, 1 to 3 significant bits cost less payload than the bits they save.

import { fixUpHeap, keptBits, log2Of, siftDown, type Histogram } from "./model.js";
import { FRESH, type ArrayRoom } from "./scratch.js";

/** The largest resolution a chunk can name (4 bits in its lanes byte). */
export const MAX_RESOLUTION = 15;

/** The largest frequency of at most `resolution` significant bits not above f (f ≥ 1). */
function floorTo(f: number, resolution: number): number {
  const length = 31 - Math.clz32(f);
  const dropped = length - keptBits(length, resolution);
  return (f >>> dropped) << dropped;
}

/** The next frequency above f (itself of `resolution` bits) that has at most `resolution` significant bits. */
function above(f: number, resolution: number): number {
  const length = 31 - Math.clz32(f);
  return f + (1 << (length - keptBits(length, resolution)));
}

/** The index of the first largest value: the residual that saves most bits when every bit is written. */
export function largestAt(values: ArrayLike<number>): number {
  let at = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[at]!) at = i;
  return at;
}

/**
 * Frequencies (aligned with h.symbols) summing to exactly 2^precision, each
 * at least 1 and, but for the residual's, of at most `resolution`
 * significant bits, near the least coded size sum(c · log2(2^P / f)). The
 * residual is the most frequent code, where the others' rounding costs least
 * per slot. Each frequency starts at the representable value nearest (in
 * ratio) its proportional share; then two passes move single frequencies
 * one representable step, against the residual, where that shortens the
 * payload (more passes moved almost nothing on the real files).
 * Null when more codes are present than slots.
 */
export function normalizeResolved(
  h: Histogram, precision: number, resolution: number, room: ArrayRoom = FRESH,
): { freqs: Uint32Array; residual: number } | null {
  const total = 1 << precision;
  const { counts } = h;
  const present = counts.length;
  if (present === 0 || present > total) return null;
  const residual = largestAt(counts);
  const freqs = room.u32(present);
  let others = 0;
  for (let i = 0; i < present; i++) {
    if (i === residual) continue;
    const share = Math.max(1, (counts[i]! * total) / h.total);
    const low = floorTo(Math.floor(share), resolution);
    const high = low === share ? low : above(low, resolution);
    freqs[i] = share * share <= low * high ? low : high;
    others += freqs[i]!;
  }
  // Rare codes rounded up to a whole slot can leave the residual nothing: lower whichever code loses least per slot it frees.
  if (others >= total) {
    // Keyed by minus the bits lost per slot freed: the top loses least.
    const lossPerSlot = (i: number): number => {
      const f = freqs[i]!;
      if (i === residual || f === 1) return -Infinity;
      const down = floorTo(f - 1, resolution);
      return (-counts[i]! * (log2Of(f) - log2Of(down))) / (f - down);
    };
    const heap = fixUpHeap(present, lossPerSlot, room);
    while (others >= total) {
      const i = heap.items[0]!;
      const down = floorTo(freqs[i]! - 1, resolution);
      others -= freqs[i]! - down;
      freqs[i] = down;
      heap.keys[0] = lossPerSlot(i);
      siftDown(heap, present, 0);
    }
  }
  // Moving code i from f to g takes g − f slots from the residual: it pays when
  // c_i · log2(g / f) + c_residual · log2(rest' / rest) > 0.
  const cr = counts[residual]!;
  let rest = total - others;
  let restLog = log2Of(rest);
  for (let pass = 0, moved = true; moved && pass < 2; pass++) {
    moved = false;
    for (let i = 0; i < present; i++) {
      if (i === residual) continue;
      const c = counts[i]!;
      const f = freqs[i]!;
      const logF = log2Of(f);
      const up = above(f, resolution);
      const upGain = rest - (up - f) >= 1 ? c * (log2Of(up) - logF) + cr * (log2Of(rest - (up - f)) - restLog) : -Infinity;
      const down = f > 1 ? floorTo(f - 1, resolution) : 0;
      const downGain = down >= 1 ? c * (log2Of(down) - logF) + cr * (log2Of(rest + (f - down)) - restLog) : -Infinity;
      if (Math.max(upGain, downGain) <= 1e-9) continue;
      const to = upGain >= downGain ? up : down;
      rest -= to - f;
      restLog = log2Of(rest);
      freqs[i] = to;
      moved = true;
    }
  }
  freqs[residual] = rest;
  return { freqs, residual };
}
