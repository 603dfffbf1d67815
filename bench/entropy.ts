// The ideal bound every exponent-only coder is measured against: per float
// tensor, the exponent field coded at its order-0 entropy with a free model,
// sign and mantissa stored raw, and every other byte (header, non-float
// tensors) stored raw.

import { FLOAT_LAYOUTS, isFloatDtype, type SafetensorsLayout } from "./safetensors.js";

export interface ExponentBound {
  /** Size of the file under the bound, in bits. */
  bits: number;
  /** Original size over that bound. */
  ratio: number;
}

/** Order-0 entropy of a histogram, in bits for all of its samples together. */
export function histogramBits(counts: ArrayLike<number>): number {
  let total = 0;
  let sumCLogC = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c === 0) continue;
    total += c;
    sumCLogC += c * Math.log2(c);
  }
  return total === 0 ? 0 : total * Math.log2(total) - sumCLogC;
}

export function exponentBound(file: Uint8Array, layout: SafetensorsLayout): ExponentBound {
  let rawBytes = file.length;
  let bits = 0;
  for (const t of layout.tensors) {
    if (!isFloatDtype(t.dtype)) continue;
    const { width, exponentBits, mantissaBits } = FLOAT_LAYOUTS[t.dtype];
    const n = (t.end - t.begin) / width;
    // The top 16 bits of every float format here hold the sign and the whole
    // exponent, so one extraction serves bf16, fp16 and fp32.
    const shift = 15 - exponentBits;
    const mask = (1 << exponentBits) - 1;
    const counts = new Float64Array(1 << exponentBits);
    for (let at = t.begin + width - 2; at < t.end; at += width) {
      const top16 = file[at]! | (file[at + 1]! << 8);
      counts[(top16 >> shift) & mask]!++;
    }
    bits += histogramBits(counts) + n * (1 + mantissaBits);
    rawBytes -= t.end - t.begin;
  }
  bits += rawBytes * 8;
  return { bits, ratio: (file.length * 8) / bits };
}

/** What the bound over ansfloat's choices needs to know of each stored chunk, in file order (from inspect()). */
export interface ChosenChunk {
  elements: number;
  mode: "stored" | "rans" | "context" | "deflate";
  k: number;
  /** Context chunks: the table group of each element of the chunk. */
  groupOf?: (e: number) => number;
}

/**
 * The entropy of the coding pairs ansfloat chose: for each float tensor's
 * rANS chunk, its codes (exponent + the chunk's k top mantissa bits) at their
 * order-0 entropy with a free model (per group of channels in a context
 * chunk), the other 1 + M − k bits raw; stored chunks and every other byte
 * raw. The gap between this and ansfloat's size
 * is the coder's own overhead (models, lane states, headers, rounding).
 * `chunksOf(i)` gives the chunks of the i-th tensor in file order.
 */
export function pairBound(file: Uint8Array, layout: SafetensorsLayout, chunksOf: (i: number) => ChosenChunk[]): ExponentBound {
  let rawBytes = file.length;
  let bits = 0;
  layout.tensors.forEach((t, i) => {
    if (!isFloatDtype(t.dtype)) return;
    const { width, exponentBits, mantissaBits } = FLOAT_LAYOUTS[t.dtype];
    let at = t.begin;
    for (const c of chunksOf(i)) {
      const end = at + c.elements * width;
      if (c.mode !== "rans" && c.mode !== "context") {
        bits += (end - at) * 8;
      } else {
        const shift = mantissaBits - c.k;
        const mask = (1 << (exponentBits + c.k)) - 1;
        const groups = new Map<number, Float64Array>();
        const view = new DataView(file.buffer, file.byteOffset);
        for (let p = at, e = 0; p < end; p += width, e++) {
          const v = width === 2 ? view.getUint16(p, true) : view.getUint32(p, true);
          const g = c.groupOf ? c.groupOf(e) : 0;
          let counts = groups.get(g);
          if (!counts) groups.set(g, (counts = new Float64Array(mask + 1)));
          counts[(v >>> shift) & mask]!++;
        }
        for (const counts of groups.values()) bits += histogramBits(counts);
        bits += c.elements * (1 + shift);
      }
      at = end;
    }
    if (at !== t.end) throw new Error(`tensor ${t.name}: chunks cover ${at - t.begin} of ${t.end - t.begin} bytes`);
    rawBytes -= t.end - t.begin;
  });
  bits += rawBytes * 8;
  return { bits, ratio: (file.length * 8) / bits };
}
