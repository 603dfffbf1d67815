// What a stream holds, without decoding payloads: per segment its type,
// shape, sizes, the k, precision and context each chunk chose, and the order-0
// exponent-only bound it is measured against.

import { parseContainer, segmentDtype, type Index } from "./container.js";
import { readChunkHeader, MODE_CONTEXT, MODE_DEFLATE, MODE_RANS } from "./chunk.js";
import { CONTEXT_ROW } from "./context.js";
import { ggufSegments } from "./gguf-codec.js";
import { safetensorsSegments } from "./safetensors-codec.js";
import { core } from "./wasm.js";
import { decodeSegment } from "./segments.js";

export interface SegmentInfo {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
  compressedBytes: number;
  /** k of each rANS chunk (top mantissa bits in the code); empty when stored. */
  ks: number[];
  precisions: number[];
  /**
   * Every chunk in order: elements, coded bytes, how it is coded, its k (0
   * unless rANS), and its channel context with its number of tables.
   */
  chunks: { elements: number; bytes: number; mode: "stored" | "rans" | "context" | "deflate"; k: number; context: "none" | "row" | "lane"; groups: number }[];
  ratio: number;
  bitsPerElement: number;
  /** Ratio an ideal order-0 exponent-only coder reaches on this tensor (0 for byte segments). */
  boundRatio: number;
}

export interface StreamInfo {
  source: string;
  bytes: number;
  compressedBytes: number;
  ratio: number;
  segments: SegmentInfo[];
}

/**
 * Names of the segments (tensor names for safetensors and GGUF, else
 * positional), for tensors carried as bytes their type in the source (an I8
 * tensor, Q4_K blocks), and a safetensors tensor's shape.
 */
function segmentLabels(stream: Uint8Array, index: Index): { names: string[]; dtypes: (string | undefined)[]; shapes?: number[][] } {
  const first = index.segments[0];
  if ((index.source === "safetensors" || index.source === "gguf") && first) {
    const header = new Uint8Array(first.length);
    decodeSegment(core(), stream, first, header, index.version);
    if (index.source === "safetensors") return safetensorsSegments(header, index.size, index.segments);
    const labels = ggufSegments(header, index.size, index.segments.length);
    if (labels) return labels;
  }
  return { names: index.segments.map((_, i) => (index.source === "tensor" && i === 0 ? "tensor" : `segment ${i}`)), dtypes: [] };
}

export function inspect(stream: Uint8Array): StreamInfo {
  const index = parseContainer(stream);
  const { names, dtypes, shapes } = segmentLabels(stream, index);
  const segments = index.segments.map((s, i): SegmentInfo => {
    const compressedBytes = s.chunks.reduce((sum, c) => sum + c.length, 0);
    const ks: number[] = [];
    const precisions: number[] = [];
    const chunks: SegmentInfo["chunks"] = [];
    for (const c of s.chunks) {
      const h = readChunkHeader(stream.subarray(c.offset, c.offset + c.length), s.layout, c.elements, index.version);
      if (h.mode === MODE_RANS || h.mode === MODE_CONTEXT) {
        ks.push(h.k);
        precisions.push(h.precision);
      }
      const mode = h.mode === MODE_RANS ? "rans" : h.mode === MODE_CONTEXT ? "context" : h.mode === MODE_DEFLATE ? "deflate" : "stored";
      const context = !h.context ? "none" : h.context.kind === CONTEXT_ROW ? "row" : "lane";
      chunks.push({ elements: c.elements, bytes: c.length, mode, k: h.k, context, groups: Math.max(1, h.tables.length) });
    }
    const elements = s.length / s.layout.width;
    return {
      name: names[i] ?? `segment ${i}`,
      dtype: segmentDtype(s, dtypes[i], "bytes"),
      shape: shapes?.[i] ?? s.shape,
      bytes: s.length,
      compressedBytes,
      ks,
      precisions,
      chunks,
      ratio: compressedBytes ? s.length / compressedBytes : 1,
      bitsPerElement: elements ? (8 * compressedBytes) / elements : 0,
      boundRatio: s.boundBytes ? s.length / s.boundBytes : 0,
    };
  });
  return { source: index.source, bytes: index.size, compressedBytes: stream.length, ratio: index.size / stream.length, segments };
}
