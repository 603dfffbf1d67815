// Whole streams: segments in, container out, and back.

import { HEADER_BYTES, parseContainer, writeHeader, writeIndex, type Index, type Source } from "./container.js";
import { resultBuffer } from "./bytes.js";
import { AnsfError } from "./errors.js";
import { ChunkArena } from "./chunk-arena.js";
import type { PairLayout } from "./dtypes.js";
import type { NumericFormat } from "./numformat/index.js";
import { chunkRanges, codedBound, decodeSegment, encodeSegment, type EncodedSegment, type EncodeOptions } from "./segments.js";
import { core } from "./wasm.js";

/** A run of the original file to code as one segment: its bytes, what they hold and (numeric formats) the format its carrier holds. */
export interface SegmentInput {
  data: Uint8Array;
  layout: PairLayout;
  shape: number[];
  format?: NumericFormat | undefined;
}

/**
 * Codes segments on this thread, their chunks into one arena, and lays them
 * out as one in-memory container. The segments come back for their
 * records and choices; their chunks' bytes are gone with the arena.
 */
export function encodeContainer(source: Source, inputs: SegmentInput[], options: EncodeOptions): { stream: Uint8Array; segments: EncodedSegment[] } {
  const ranges = inputs.map((s) => chunkRanges(s.data.length, s.layout, options));
  const arena = ChunkArena.borrow(ranges.reduce((sum, r) => sum + codedBound(r), 0));
  try {
    const c = core();
    const segments = inputs.map((s, i) => encodeSegment(c, s.data, ranges[i]!, s.layout, s.shape, options, arena, s.format));
    return { stream: assemble(source, segments), segments };
  } finally {
    arena.release();
  }
}

/** Lays encoded segments out as one in-memory container. */
export function assemble(source: Source, encoded: EncodedSegment[]): Uint8Array {
  let chunksEnd = HEADER_BYTES;
  for (const e of encoded) for (const c of e.chunks) chunksEnd += c.length;
  const tail = writeIndex(encoded.map((e) => e.segment), chunksEnd);
  const out = new Uint8Array(chunksEnd + tail.length);
  out.set(writeHeader(source), 0);
  let at = HEADER_BYTES;
  for (const e of encoded) {
    for (const c of e.chunks) {
      out.set(c, at);
      at += c.length;
    }
  }
  out.set(tail, at);
  return out;
}

/** Restores the original bytes of every segment, into `out` when given. */
export function restore(stream: Uint8Array, index: Index = parseContainer(stream), out?: Uint8Array): Uint8Array {
  const target = out ?? resultBuffer(index.size);
  if (target.length < index.size) {
    throw new AnsfError("BAD_ARGUMENT", `output buffer of ${target.length} bytes is smaller than the ${index.size} bytes to decode`);
  }
  const c = core();
  for (const s of index.segments) decodeSegment(c, stream, s, target.subarray(s.offset, s.offset + s.length), index.version);
  return out ? target.subarray(0, index.size) : target;
}
