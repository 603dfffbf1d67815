// The decoder's initial lane states as version 4 writes them (docs/FORMAT.md
// §Lane states): each in as many bits as it has, after the chunk's models.
// A final encoder state lies anywhere in [2^16, 2^32), its logarithm about
// uniform, so a u32 leaves 8 of its bits zero on average; a 4-bit length
// and the bits below the leading one take 27.5 on average. The decoder
// reads them in Wasm, with the models (header-bits.ts).

import type { BitWriter } from "./bytes.js";

/** Bits that give a state's length: floor(log2 x) − 16, from 0 to 15. */
const LENGTH_BITS = 4;
const LOW_BITS = 16;
/** What one lane state costs on average, for the encoder's size estimates. */
export const MEAN_STATE_BITS = LENGTH_BITS + LOW_BITS + 7.5;

/** Appends states (each in [2^16, 2^32)) to the chunk's bitstream. */
export function writeLaneStates(w: BitWriter, states: Uint32Array): void {
  for (const x of states) {
    const length = 31 - Math.clz32(x);
    w.bits(length - LOW_BITS, LENGTH_BITS);
    w.bits(x, LOW_BITS);
    w.bits(x >>> LOW_BITS, length - LOW_BITS);
  }
}
