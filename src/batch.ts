// A batch: consecutive chunks read with one positional read and handled by
// one task, on whichever thread. Chunks lie back to back both in the
// original file and in the container, so a batch is one contiguous range.

import { chunkBound, decodeChunk, encodeChunk, type ChunkOptions, type EncodedChunk } from "./chunk.js";
import type { ChunkPlace } from "./context.js";
import { layoutById } from "./dtypes.js";
import type { Core } from "./wasm.js";

/** A chunk to code: its bytes within the batch's input, its element layout id and its place in its tensor. */
export interface EncodePart {
  begin: number;
  end: number;
  layout: number;
  place?: ChunkPlace;
}

/** A chunk to decode: its bytes within the batch's input. */
export interface DecodePart extends EncodePart {
  elements: number;
}

/** Room for the coded parts one after another: each at most its chunkBound. */
export function encodedBound(parts: EncodePart[]): number {
  return parts.reduce((sum, p) => sum + chunkBound(p.end - p.begin), 0);
}

/** Codes the parts into `out` (encodedBound(parts) long), one after another from its start: each chunk's bytes are a view of `out`. */
export function encodeBatch(core: Core, input: Uint8Array, parts: EncodePart[], options: ChunkOptions, out: Uint8Array): EncodedChunk[] {
  let at = 0;
  return parts.map((p) => {
    const coded = encodeChunk(core, input.subarray(p.begin, p.end), layoutById(p.layout), options, p.place, out.subarray(at));
    at += coded.bytes.length;
    return coded;
  });
}

/** Bytes the parts decode to. */
export function decodedBytes(parts: DecodePart[]): number {
  return parts.reduce((sum, p) => sum + p.elements * layoutById(p.layout).width, 0);
}

/** Decodes the parts, chunks of a container of `version`, into `out` (decodedBytes(parts) long), in order. */
export function decodeBatch(core: Core, input: Uint8Array, parts: DecodePart[], version: number, out: Uint8Array): Uint8Array {
  const sizes = parts.map((p) => p.elements * layoutById(p.layout).width);
  let at = 0;
  parts.forEach((p, i) => {
    decodeChunk(core, input.subarray(p.begin, p.end), layoutById(p.layout), p.elements, out.subarray(at, at + sizes[i]!), version);
    at += sizes[i]!;
  });
  return out;
}
