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
  /** Bytes the chunk takes in the stream. */
  bytes: number;
  mode: "stored" | "rans" | "context" | "deflate";
  k: number;
  /** Context chunks: the table group of each element of the chunk. */
  groupOf?: (e: number) => number;
}

/** Some of a file's float tensor chunks: what they take and the entropy of their coding pairs. */
export interface ChunkOverhead {
  /** Bytes the chunks take in the stream. */
  bytes: number;
  /** Entropy of their coding pairs as pairBound counts it: per group of channels in a context chunk. */
  bits: number;
  /** The same pairs at their order-0 entropy per chunk, whatever table coded them. */
  orderZeroBits: number;
}

export interface PairBound extends ExponentBound {
  /** Every chunk of the float tensors. */
  chunks: ChunkOverhead;
  /** The context chunks among them. */
  contexts: ChunkOverhead;
}

/** How far `bytes` lies above (or below, negative) `bits`, in per cent. */
export function overheadPercent(bytes: number, bits: number): number {
  return bits === 0 ? 0 : ((8 * bytes) / bits - 1) * 100;
}

/**
 * The entropy of the coding pairs ansfloat chose: for each float tensor's
 * rANS chunk, its codes (exponent + the chunk's k top mantissa bits) at their
 * order-0 entropy with a free model (per group of channels in a context
 * chunk), the other 1 + M − k bits raw; stored chunks and every other byte
 * raw. The gap between this and ansfloat's size
 * is the coder's own overhead (models, lane states, headers, rounding).
 * A context chunk's groups each pay for a table of their own; its order-0
 * entropy, the one table of a chunk without contexts, is kept beside
 * (orderZeroBits) to show what the context gains.
 * `chunksOf(i)` gives the chunks of the i-th tensor in file order.
 */
export function pairBound(file: Uint8Array, layout: SafetensorsLayout, chunksOf: (i: number) => ChosenChunk[]): PairBound {
  let rawBytes = file.length;
  const chunks: ChunkOverhead = { bytes: 0, bits: 0, orderZeroBits: 0 };
  const contexts: ChunkOverhead = { bytes: 0, bits: 0, orderZeroBits: 0 };
  const view = new DataView(file.buffer, file.byteOffset);
  layout.tensors.forEach((t, i) => {
    if (!isFloatDtype(t.dtype)) return;
    const { width, exponentBits, mantissaBits } = FLOAT_LAYOUTS[t.dtype];
    let at = t.begin;
    for (const c of chunksOf(i)) {
      const end = at + c.elements * width;
      let bits = (end - at) * 8;
      let orderZeroBits = bits;
      if (c.mode === "rans" || c.mode === "context") {
        const shift = mantissaBits - c.k;
        const mask = (1 << (exponentBits + c.k)) - 1;
        const groups = new Map<number, Float64Array>();
        const all = new Float64Array(mask + 1);
        for (let p = at, e = 0; p < end; p += width, e++) {
          const code = ((width === 2 ? view.getUint16(p, true) : view.getUint32(p, true)) >>> shift) & mask;
          all[code]!++;
          if (!c.groupOf) continue;
          const g = c.groupOf(e);
          let counts = groups.get(g);
          if (!counts) groups.set(g, (counts = new Float64Array(mask + 1)));
          counts[code]!++;
        }
        const rawFields = c.elements * (1 + shift);
        orderZeroBits = histogramBits(all) + rawFields;
        bits = c.groupOf ? [...groups.values()].reduce((sum, counts) => sum + histogramBits(counts), 0) + rawFields : orderZeroBits;
      }
      for (const totals of c.mode === "context" ? [chunks, contexts] : [chunks]) {
        totals.bytes += c.bytes;
        totals.bits += bits;
        totals.orderZeroBits += orderZeroBits;
      }
      at = end;
    }
    if (at !== t.end) throw new Error(`tensor ${t.name}: chunks cover ${at - t.begin} of ${t.end - t.begin} bytes`);
    rawBytes -= t.end - t.begin;
  });
  const bits = chunks.bits + rawBytes * 8;
  return { bits, ratio: (file.length * 8) / bits, chunks, contexts };
}
