// Chunk descriptors: what the host hands a decoder core.
//
// Only the format parsing is shared with the software decoder
// (parseContainer, readChunkHeader, the element layouts); everything a core
// computes from here on is this model's own.

import { MODE_CONTEXT, MODE_DEFLATE, MODE_RANS, MODE_STORED, readChunkHeader } from "../chunk.js";
import { parseContainer, type Index } from "../container.js";
import { codeBits, codeShift, rawBits, type PairLayout } from "../dtypes.js";
import { contextConfig, type ContextConfig } from "./context-unit.js";

/** A chunk of the stream, in stream order. */
export interface ChunkRef {
  /** Chunk number across all segments. */
  id: number;
  segment: number;
  /** Chunk number within its segment. */
  chunk: number;
  layout: PairLayout;
  /** Elements it decodes to. */
  n: number;
  offset: number;
  length: number;
  mode: number;
  checksum: number;
  /** Container version, which says how the chunk is laid out. */
  version: number;
}

/** Descriptor of one rANS chunk for a core. */
export interface ChunkJob extends ChunkRef {
  k: number;
  precision: number;
  /** N, interleaved lanes. */
  lanes: number;
  /** Code bits E + k. */
  codeBits: number;
  /** c, the code's shift within an element (low mantissa bits left raw). */
  shift: number;
  /** w, raw bits per element: sign and the c low mantissa bits. */
  rawBits: number;
  /** Normalised frequencies: one table, or one per context group. */
  tables: Uint32Array[];
  /** The context unit's registers (kind CONTEXT_NONE for a one-table chunk). */
  context: ContextConfig;
  /** Word stream: N little-endian u32 lane states, then the payload's u16 words. */
  words: Uint8Array;
  payloadBytes: number;
  /** The stored raw plane: the first n·w − carriedBits bits of n fields of w bits, LSB first. */
  raw: Uint8Array;
  /** The last raw bits, carried by the lane states: 16 per lane from lane 0 on (docs/FORMAT.md §Lane states). */
  carriedBits: number;
}

export function chunkRefs(stream: Uint8Array, index: Index = parseContainer(stream)): ChunkRef[] {
  const refs: ChunkRef[] = [];
  index.segments.forEach((s, segment) => {
    s.chunks.forEach((c, chunk) => {
      const bytes = stream.subarray(c.offset, c.offset + c.length);
      const h = readChunkHeader(bytes, s.layout, c.elements, index.version);
      refs.push({ id: refs.length, segment, chunk, layout: s.layout, n: c.elements, offset: c.offset, length: c.length, mode: h.mode, checksum: h.checksum, version: index.version });
    });
  });
  return refs;
}

/** Chunks the core decodes: one table (mode 1) or channel contexts (mode 3). */
export function isRans(ref: ChunkRef): boolean {
  return ref.mode === MODE_RANS || ref.mode === MODE_CONTEXT;
}

export function isContext(ref: ChunkRef): boolean {
  return ref.mode === MODE_CONTEXT;
}

export function isStored(ref: ChunkRef): boolean {
  return ref.mode === MODE_STORED;
}

export function isDeflate(ref: ChunkRef): boolean {
  return ref.mode === MODE_DEFLATE;
}

/**
 * The lane states as little-endian u32 words, then the payload: what the
 * host lays out for the core (from version 4 the chunk packs its states
 * into the model bitstream; the host unpacks them as it parses the models).
 */
function wordStream(states: Uint32Array, payload: Uint8Array): Uint8Array {
  const words = new Uint8Array(4 * states.length + payload.length);
  const view = new DataView(words.buffer);
  states.forEach((x, j) => view.setUint32(4 * j, x, true));
  words.set(payload, 4 * states.length);
  return words;
}

/** The core descriptor of a rANS chunk. */
export function chunkJob(stream: Uint8Array, ref: ChunkRef): ChunkJob {
  const bytes = stream.subarray(ref.offset, ref.offset + ref.length);
  const h = readChunkHeader(bytes, ref.layout, ref.n, ref.version);
  const payloadEnd = h.payloadOffset + h.payloadLength;
  return {
    ...ref,
    k: h.k,
    precision: h.precision,
    lanes: h.lanes,
    codeBits: codeBits(ref.layout, h.k),
    shift: codeShift(ref.layout, h.k),
    rawBits: rawBits(ref.layout, h.k),
    tables: h.tables,
    context: contextConfig(h.context),
    words: wordStream(h.states, bytes.subarray(h.payloadOffset, payloadEnd)),
    payloadBytes: h.payloadLength,
    raw: bytes.subarray(h.rawOffset, h.rawOffset + h.rawLength),
    carriedBits: h.carriedBits,
  };
}

/**
 * A deterministic sample of `count` items spread evenly over `items`, always
 * including the first and the last; all of them when count ≥ items.length.
 */
export function sample<T>(items: T[], count: number): T[] {
  if (count >= items.length) return items;
  if (count <= 1) return items.slice(0, Math.max(count, 0));
  const picked = new Set<number>();
  for (let i = 0; i < count; i++) picked.add(Math.round((i * (items.length - 1)) / (count - 1)));
  return [...picked].sort((a, b) => a - b).map((i) => items[i]!);
}
