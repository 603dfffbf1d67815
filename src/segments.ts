// A segment is one contiguous run of the original file (a tensor, or a
// header's bytes) cut into chunks that code and decode independently.

import type { ChunkArena } from "./chunk-arena.js";
import { chunkBound, decodeChunk, encodeChunk, type ChunkChoice, type ChunkOptions, type EncodedChunk } from "./chunk.js";
import { MAX_CHUNK_BYTES, SEGMENT_BYTES, SEGMENT_FORMAT, SEGMENT_TENSOR, type Segment, type SegmentRecord } from "./container.js";
import { AnsfError } from "./errors.js";
import type { PairLayout } from "./dtypes.js";
import type { NumericFormat } from "./numformat/index.js";
import type { Core } from "./wasm.js";

/**
 * Elements per chunk. 2^20 bf16 (2 MiB decoded, ~1.4 MiB coded) keeps a
 * chunk's working set inside this machine's 2 MiB L2 share while the
 * per-chunk model and lane states stay under 0.05% of the payload.
 */
export const DEFAULT_CHUNK_ELEMENTS = 1 << 20;

export interface EncodeOptions extends ChunkOptions {
  chunkElements?: number;
}

export interface EncodedSegment {
  segment: SegmentRecord;
  chunks: Uint8Array[];
  choices: ChunkChoice[];
}

/** Byte ranges [begin, end) of the chunks a segment of `length` bytes is cut into. */
export function chunkRanges(length: number, layout: PairLayout, options: EncodeOptions = {}): [number, number][] {
  const elements = options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS;
  // Larger chunks than a reader accepts (MAX_CHUNK_BYTES) would make a stream nothing can decode.
  const most = MAX_CHUNK_BYTES / layout.width;
  if (!Number.isInteger(elements) || elements < 1 || elements > most) {
    throw new AnsfError("BAD_ARGUMENT", `chunkElements must be an integer from 1 to ${most} for ${layout.name}, not ${elements}`);
  }
  const per = elements * layout.width;
  const ranges: [number, number][] = [];
  for (let at = 0; at < length; at += per) ranges.push([at, Math.min(at + per, length)]);
  return ranges;
}

/** The most bytes the chunks of `ranges` take coded: each its stored form at most (chunkBound). */
export function codedBound(ranges: [number, number][]): number {
  return ranges.reduce((sum, [begin, end]) => sum + chunkBound(end - begin), 0);
}

/** What the index records of one coded chunk. */
export interface ChunkRecord {
  elements: number;
  length: number;
  choice: ChunkChoice;
}

/** The index record of a segment from its coded chunks, in order. With a format, `layout` is its carrier. */
export function segmentRecord(layout: PairLayout, shape: number[], length: number, chunks: ChunkRecord[], format?: NumericFormat): SegmentRecord {
  const kind = format ? SEGMENT_FORMAT : layout.mantissaBits === 0 && layout.width === 1 ? SEGMENT_BYTES : SEGMENT_TENSOR;
  const boundBits = kind !== SEGMENT_BYTES ? chunks.reduce((sum, c) => sum + c.choice.exponentBoundBits, 0) : 0;
  return {
    kind, layout, length, shape, boundBytes: Math.ceil(boundBits / 8),
    chunks: chunks.map((c) => ({ elements: c.elements, length: c.length })),
    ...(format ? { format } : {}),
  };
}

/**
 * A segment of `length` bytes (elements of `layout`, or patterns of `format`
 * carried by it) from its coded chunks, in order.
 */
export function encodedSegment(layout: PairLayout, shape: number[], length: number, coded: EncodedChunk[], format?: NumericFormat): EncodedSegment {
  return {
    segment: segmentRecord(layout, shape, length, coded.map((c) => ({ elements: c.choice.elements, length: c.bytes.length, choice: c.choice })), format),
    chunks: coded.map((c) => c.bytes),
    choices: coded.map((c) => c.choice),
  };
}

/** Codes `data` chunk by chunk (its `ranges`, from chunkRanges) on this thread (see encodedSegment), each chunk written into `arena`. */
export function encodeSegment(
  core: Core, data: Uint8Array, ranges: [number, number][], layout: PairLayout, shape: number[], options: EncodeOptions, arena: ChunkArena, format?: NumericFormat,
): EncodedSegment {
  const coded = ranges.map(([begin, end]) => {
    const chunk = encodeChunk(core, data.subarray(begin, end), layout, options, { shape, start: begin / layout.width }, arena.room(end - begin));
    arena.keep(chunk.bytes);
    return chunk;
  });
  return encodedSegment(layout, shape, data.length, coded, format);
}

/** Decodes a segment's chunks from `stream` (the whole container, of `version`) into `out` (segment.length bytes). */
export function decodeSegment(core: Core, stream: Uint8Array, segment: Segment, out: Uint8Array, version: number): void {
  let at = 0;
  for (const c of segment.chunks) {
    const bytes = c.elements * segment.layout.width;
    decodeChunk(core, stream.subarray(c.offset, c.offset + c.length), segment.layout, c.elements, out.subarray(at, at + bytes), version);
    at += bytes;
  }
}
