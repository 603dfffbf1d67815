// The .ansf container (docs/FORMAT.md §Container): a header, the chunks of
// every segment back to back, a binary index and a fixed footer. The index
// sits at the end so a writer can stream chunks out as it makes them, and a
// reader finds any chunk from the footer without decoding anything else.

import { requireBytes } from "./arguments.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { layoutById, type PairLayout } from "./dtypes.js";
import { AnsfError } from "./errors.js";
import { carrierLayout, formatKey, readFormatTable, writeFormatTable } from "./format-table.js";
import type { NumericFormat } from "./numformat/index.js";
import { core } from "./wasm.js";

export const MAGIC = [0x41, 0x4e, 0x53, 0x46]; // "ANSF"
export const FOOTER_MAGIC = [0x46, 0x53, 0x4e, 0x41]; // "FSNA"
/**
 * Written version. Version 2 added mode-3 chunks (channel contexts),
 * log-delta models, k up to 7 for fp16, and an index that starts with a
 * table of numeric formats (empty when no tensor is in one). Version 3
 * (chunk.ts STATE_BITS_VERSION) carries each rANS chunk's last raw bits in its lane
 * states. Version 4 (chunk.ts RESOLVED_VERSION) writes models at a resolution
 * chosen per chunk and drops the chunk header's model and payload lengths.
 * Version 5 (chunk.ts SHAPED_VERSION) starts each model with its kind, so
 * that a table may be computed from a shape. Version 1 to 4 streams still decode.
 */
export const VERSION = 5;
const OLDEST_READABLE = 1;
export const HEADER_BYTES = 8;
export const FOOTER_BYTES = 16;
/** A chunk decodes into at most this many bytes, so no corrupt count can ask for more memory. */
export const MAX_CHUNK_BYTES = 64 << 20;

/** What the original file was; the segments concatenated restore it. */
export const SOURCES = ["tensor", "safetensors", "gguf", "raw"] as const;
export type Source = (typeof SOURCES)[number];

export const SEGMENT_BYTES = 0;
export const SEGMENT_TENSOR = 1;
/** A tensor of stored patterns of a numeric format, coded by its carrier layout. */
export const SEGMENT_FORMAT = 2;

export interface ChunkEntry {
  /** Elements (bytes, for byte segments) the chunk decodes to. */
  elements: number;
  /** Offset of the chunk in the container. */
  offset: number;
  length: number;
}

export interface Segment {
  kind: typeof SEGMENT_BYTES | typeof SEGMENT_TENSOR | typeof SEGMENT_FORMAT;
  /** For format segments, the carrier layout of the format's patterns. */
  layout: PairLayout;
  /** The numeric format of a format segment's elements. */
  format?: NumericFormat;
  /** Offset and length in the original file. */
  offset: number;
  length: number;
  shape: number[];
  /** Order-0 exponent-only bound of this segment in bytes (0 for byte segments). */
  boundBytes: number;
  chunks: ChunkEntry[];
}

/**
 * What a listing calls a segment's elements: its numeric format, else its
 * coded layout, else (carried as bytes) its type in the source when known
 * (an I8 tensor, Q4_K blocks), else `bytesName`.
 */
export function segmentDtype(segment: Omit<Segment, "offset">, sourceDtype: string | undefined, bytesName: string): string {
  if (segment.format) return segment.format.name;
  if (segment.kind === SEGMENT_TENSOR) return segment.layout.name;
  return sourceDtype ?? bytesName;
}

export interface Index {
  source: Source;
  /** Container version: how the chunks are to be read (readChunkHeader). */
  version: number;
  /** Size of the original file. */
  size: number;
  segments: Segment[];
}

export function writeHeader(source: Source): Uint8Array {
  return new Uint8Array([...MAGIC, VERSION, SOURCES.indexOf(source), 0, 0]);
}

/**
 * What the index records of a segment: all but where it and its chunks lie,
 * which follow from their order (segments restore consecutive ranges of the
 * file, chunks lie back to back after the header).
 */
export type SegmentRecord = Omit<Segment, "offset" | "chunks"> & { chunks: readonly Omit<ChunkEntry, "offset">[] };

/** Index bytes followed by the footer, for chunks that end at `indexOffset`. */
export function writeIndex(segments: readonly SegmentRecord[], indexOffset: number): Uint8Array {
  const w = new ByteWriter();
  const formats = new Map<string, { at: number; format: NumericFormat }>();
  for (const s of segments) {
    if (s.format && !formats.has(formatKey(s.format))) formats.set(formatKey(s.format), { at: formats.size, format: s.format });
  }
  writeFormatTable(w, [...formats.values()].map((f) => f.format));
  w.varint(segments.length);
  for (const s of segments) {
    w.u8(s.kind);
    w.u8(s.layout.id);
    if (s.format) w.varint(formats.get(formatKey(s.format))!.at);
    w.varint(s.length);
    w.varint(s.shape.length);
    for (const d of s.shape) w.varint(d);
    w.varint(s.boundBytes);
    w.varint(s.chunks.length);
    for (const c of s.chunks) {
      w.varint(c.elements);
      w.varint(c.length);
    }
  }
  const body = w.finish();
  const out = new ByteWriter();
  out.bytes(body);
  out.u32(checksumOf(body));
  out.u64(indexOffset);
  out.u32(body.length + 4);
  out.bytes(new Uint8Array(FOOTER_MAGIC));
  return out.finish();
}

function checksumOf(bytes: Uint8Array): number {
  const c = core();
  c.reset();
  return c.fn.checksum(c.put(bytes), bytes.length) >>> 0;
}

export interface StreamHeader {
  source: Source;
  version: number;
}

/** Checks the 8-byte header. */
export function readHeader(head: Uint8Array): StreamHeader {
  for (let i = 0; i < Math.min(4, head.length); i++) {
    if (head[i] !== MAGIC[i]) throw new AnsfError("BAD_MAGIC", "not an .ansf stream: bad magic number");
  }
  if (head.length < HEADER_BYTES) throw new AnsfError("TRUNCATED", `.ansf stream of ${head.length} bytes is shorter than its header`);
  const version = head[4]!;
  if (version < OLDEST_READABLE || version > VERSION) {
    throw new AnsfError("UNSUPPORTED_VERSION", `.ansf version ${version} is not supported (this build reads versions ${OLDEST_READABLE} to ${VERSION})`);
  }
  const source = SOURCES[head[5]!];
  if (!source || head[6] !== 0 || head[7] !== 0) throw new AnsfError("CORRUPT_STREAM", "corrupt .ansf header");
  return { source, version };
}

/** Where the index is, from the last 16 bytes of a container of `size` bytes. */
export function readFooter(footer: Uint8Array, size: number): { indexOffset: number; indexLength: number } {
  if (size < HEADER_BYTES + FOOTER_BYTES) throw new AnsfError("TRUNCATED", `.ansf stream of ${size} bytes is too short to hold header and footer`);
  if (footer.subarray(12).some((b, i) => b !== FOOTER_MAGIC[i])) {
    throw new AnsfError("TRUNCATED", ".ansf stream is truncated or has trailing data: no footer at its end");
  }
  const r = new ByteReader(footer, "footer");
  const indexOffset = r.u64();
  const indexLength = r.u32();
  if (indexOffset < HEADER_BYTES || indexOffset + indexLength + FOOTER_BYTES !== size) {
    throw new AnsfError("CORRUPT_STREAM", `footer places the index at [${indexOffset}, +${indexLength}), outside a ${size}-byte stream`);
  }
  return { indexOffset, indexLength };
}

/** Parses and validates the index (its checksum, every count and every length). */
export function readIndex(header: StreamHeader, indexBytes: Uint8Array, indexOffset: number): Index {
  if (indexBytes.length < 4) throw new AnsfError("CORRUPT_STREAM", "index shorter than its checksum");
  const body = indexBytes.subarray(0, indexBytes.length - 4);
  const stored = new DataView(indexBytes.buffer, indexBytes.byteOffset + body.length, 4).getUint32(0, true);
  if (checksumOf(body) !== stored) throw new AnsfError("CHECKSUM_MISMATCH", "index checksum mismatch: the stream is corrupt");
  const r = new ByteReader(body, "index");
  const bad = (why: string) => new AnsfError("CORRUPT_STREAM", `index: ${why}`);
  const formats = header.version >= 2 ? readFormatTable(r) : [];
  const count = r.varint();
  if (count > body.length) throw bad(`${count} segments cannot fit in ${body.length} bytes`);
  const segments: Segment[] = [];
  let offset = 0;
  let chunkOffset = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const kind = r.u8();
    if (kind !== SEGMENT_BYTES && kind !== SEGMENT_TENSOR && !(kind === SEGMENT_FORMAT && formats.length > 0)) throw bad(`segment ${i} has unknown kind ${kind}`);
    const layout = layoutById(r.u8());
    const format = kind === SEGMENT_FORMAT ? formatOf(formats, r.varint(), layout, i) : undefined;
    if (!format && (kind === SEGMENT_BYTES) !== (layout.width === 1 && layout.mantissaBits === 0)) throw bad(`segment ${i}: kind and element type disagree`);
    const length = r.varint();
    const rank = r.varint();
    if (rank > 64) throw bad(`segment ${i} has rank ${rank}`);
    const shape: number[] = [];
    let product = 1;
    for (let d = 0; d < rank; d++) {
      const dim = r.varint();
      shape.push(dim);
      product *= dim;
    }
    if (kind !== SEGMENT_BYTES && product * layout.width !== length) {
      throw bad(`segment ${i}: shape [${shape.join(", ")}] does not match ${length} bytes of ${layout.name}`);
    }
    const boundBytes = r.varint();
    const chunkCount = r.varint();
    if (chunkCount > r.remaining) throw bad(`segment ${i} claims ${chunkCount} chunks`);
    const chunks: ChunkEntry[] = [];
    let elements = 0;
    for (let j = 0; j < chunkCount; j++) {
      const n = r.varint();
      const len = r.varint();
      if (n * layout.width > MAX_CHUNK_BYTES) throw bad(`segment ${i} chunk ${j} decodes to ${n * layout.width} bytes, over the ${MAX_CHUNK_BYTES}-byte limit`);
      chunks.push({ elements: n, offset: chunkOffset, length: len });
      elements += n;
      chunkOffset += len;
      if (chunkOffset > indexOffset) throw bad(`segment ${i} chunk ${j} runs past the index`);
    }
    if (elements * layout.width !== length) throw bad(`segment ${i}: chunks hold ${elements * layout.width} bytes, segment ${length}`);
    segments.push({ kind, layout, offset, length, shape, boundBytes, chunks, ...(format ? { format } : {}) });
    offset += length;
  }
  if (r.remaining !== 0) throw bad(`${r.remaining} trailing bytes`);
  if (chunkOffset !== indexOffset) throw bad(`chunks end at ${chunkOffset} but the index starts at ${indexOffset}`);
  return { source: header.source, version: header.version, size: offset, segments };
}

/** Format `at` of the table, checked against the carrier layout the segment names. */
function formatOf(formats: NumericFormat[], at: number, layout: PairLayout, segment: number): NumericFormat {
  const format = formats[at];
  if (!format) throw new AnsfError("CORRUPT_STREAM", `index: segment ${segment} names format ${at} of ${formats.length}`);
  if (carrierLayout(format) !== layout) {
    throw new AnsfError("CORRUPT_STREAM", `index: segment ${segment} carries format "${format.name}" as ${layout.name}, not as ${carrierLayout(format).name}`);
  }
  return format;
}

/** Reads the index of a whole container held in memory. */
export function parseContainer(stream: Uint8Array): Index {
  // Every in-memory decoder starts here: a caller's wrong argument is named, not met deep inside.
  requireBytes(stream, "stream");
  const header = readHeader(stream);
  const { indexOffset, indexLength } = readFooter(stream.subarray(stream.length - FOOTER_BYTES), stream.length);
  return readIndex(header, stream.subarray(indexOffset, indexOffset + indexLength), indexOffset);
}
