// Frequencies of limited resolution (docs/FORMAT.md §Frequency model,
// version 4). A model with R significant bits per frequency writes at most
// R − 1 bits below each leading one, and one code, the residual, takes what
// the others leave of 2^P. Counts known from a few thousand elements do not
// deserve every bit of their frequencies: on stories260K's 64- to 4096-element
// tensors, 1 to 3 significant bits cost less payload than the bits they save.

import { normalizerOf, type Histogram } from "./model.js";
import { FRESH, type ArrayRoom } from "./scratch.js";
import type { Core } from "./wasm.js";

/** The largest resolution a chunk can name (4 bits in its lanes byte). */
export const MAX_RESOLUTION = 15;

/** The index of the first largest value: the residual that saves most bits when every bit is written. */
export function largestAt(values: ArrayLike<number>): number {
  let at = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[at]!) at = i;
  return at;
}

/**
 * Frequencies (aligned with h.symbols) summing to exactly 2^precision, each
 * at least 1 and, but for the residual's, of at most `resolution`
 * significant bits, near the least coded size sum(c · log2(2^P / f)), by the
 * core's normaliser (assembly/normalize.ts). The residual is the most
 * frequent code, where the others' rounding costs least per slot. Each
 * frequency starts at the representable value nearest (in ratio) its
 * proportional share; where rare codes rounded up to a whole slot leave the
 * residual nothing, the codes that lose least per slot freed step down;
 * then two passes move single frequencies one representable step, against
 * the residual, where that shortens the payload (more passes moved almost
 * nothing on the real files). Null when more codes are present than slots.
 */
export function normalizeResolved(
  core: Core, h: Histogram, precision: number, resolution: number, room: ArrayRoom = FRESH,
): { freqs: Uint32Array; residual: number } | null {
  const present = h.counts.length;
  if (present === 0 || present > 1 << precision) return null;
  const normalizer = normalizerOf(core);
  const residual = normalizer.countsOf(h).normalizeResolved(present, h.total, precision, resolution);
  return { freqs: normalizer.freqsOut(present, room), residual };
}
