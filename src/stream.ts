// Whole files in pieces: read a chunk's bytes, code them (here or on a
// worker), write the result, in order. Memory stays bounded by the number
// of chunks in flight (2 per thread) whatever the size of the file, and the
// output is identical to the in-memory path's.

import type { Writable } from "node:stream";
import { readChunkHeader } from "./chunk.js";
import { FOOTER_BYTES, HEADER_BYTES, readFooter, readHeader, readIndex, writeHeader, writeIndex, type Index, type Segment, type Source } from "./container.js";
import { AnsfError } from "./errors.js";
import { isGguf, planGguf } from "./gguf-codec.js";
import { writeAll, type Reader } from "./io.js";
import { ordered, runnerFor, type ParallelOptions } from "./parallel.js";
import { parseSafetensorsHeader } from "./safetensors.js";
import { plansFromSafetensors, type SegmentPlan } from "./safetensors-codec.js";
import { chunkRanges, segmentRecord, type ChunkRecord, type EncodeOptions } from "./segments.js";

export interface StreamOptions extends EncodeOptions, ParallelOptions {
  /** Called after each chunk with the input bytes done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** What compression made of each segment, for reports. */
export interface CompressResult {
  source: Source;
  bytes: number;
  compressedBytes: number;
  names: string[];
  segments: { plan: SegmentPlan; chunks: ChunkRecord[] }[];
}

/** The segments of a safetensors or GGUF file, from its header alone. */
export async function planFile(reader: Reader): Promise<{ source: Source; plans: SegmentPlan[]; names: string[] }> {
  const head = reader.read(0, Math.min(8, reader.size));
  if (isGguf(head)) return { source: "gguf", ...(await planGguf(reader)) };
  if (head.length < 8) throw new AnsfError("TRUNCATED", `input of ${reader.size} bytes is neither safetensors nor GGUF`);
  const headerLength = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  const prefix = reader.read(0, Number(headerLength < BigInt(reader.size) ? 8n + headerLength : 8n));
  const parsed = parseSafetensorsHeader(prefix, reader.size);
  return { source: "safetensors", plans: plansFromSafetensors(parsed), names: ["(header)", ...parsed.tensors.map((t) => t.name)] };
}

/** Compresses planned segments of `reader` to `out` as one .ansf stream. */
export async function compressPlans(reader: Reader, out: Writable, source: Source, plans: SegmentPlan[], options: StreamOptions = {}): Promise<Omit<CompressResult, "names">> {
  const runner = runnerFor(options);
  await writeAll(out, writeHeader(source));
  let written = HEADER_BYTES;
  const jobs: (() => Promise<{ plan: number; record: ChunkRecord; bytes: Uint8Array }>)[] = [];
  plans.forEach((plan, i) => {
    for (const [b, e] of chunkRanges(plan.end - plan.begin, plan.layout, options)) {
      jobs.push(async () => {
        const coded = await runner.encode(reader.read(plan.begin + b, e - b), plan.layout);
        return { plan: i, bytes: coded.bytes, record: { elements: coded.choice.elements, length: coded.bytes.length, choice: coded.choice } };
      });
    }
  });
  const segments = plans.map((plan) => ({ plan, chunks: [] as ChunkRecord[] }));
  let done = 0;
  for await (const chunk of ordered(jobs, 2 * runner.threads)) {
    await writeAll(out, chunk.bytes);
    written += chunk.bytes.length;
    segments[chunk.plan]!.chunks.push(chunk.record);
    done += chunk.record.elements * plans[chunk.plan]!.layout.width;
    options.onProgress?.(done, reader.size);
  }
  const index: Index = { source, size: reader.size, segments: [] };
  let offset = 0;
  for (const s of segments) {
    index.segments.push({ ...segmentRecord(s.plan.layout, s.plan.shape, s.plan.end - s.plan.begin, s.chunks), offset } as Segment);
    offset += s.plan.end - s.plan.begin;
  }
  const tail = writeIndex(index, written);
  await writeAll(out, tail);
  return { source, bytes: reader.size, compressedBytes: written + tail.length, segments };
}

/** Compresses a safetensors or GGUF file read through `reader` to `out`. */
export async function compressStream(reader: Reader, out: Writable, options: StreamOptions = {}): Promise<CompressResult> {
  const { source, plans, names } = await planFile(reader);
  return { ...(await compressPlans(reader, out, source, plans, options)), names };
}

/** The validated index of an .ansf stream, read through `reader` (footer first). */
export function readIndexFrom(reader: Reader): Index {
  const source = readHeader(reader.read(0, Math.min(HEADER_BYTES, reader.size)));
  const { indexOffset, indexLength } = readFooter(reader.read(reader.size - FOOTER_BYTES, FOOTER_BYTES), reader.size);
  return readIndex(source, reader.read(indexOffset, indexLength), indexOffset);
}

/** Restores the original file of an .ansf stream to `out`, chunk by chunk. Returns its size. */
export async function decompressStream(reader: Reader, out: Writable, options: StreamOptions = {}, index: Index = readIndexFrom(reader)): Promise<number> {
  const runner = runnerFor(options);
  const jobs = index.segments.flatMap((s) =>
    s.chunks.map((c) => async () => {
      const chunk = reader.read(c.offset, c.length);
      // Validate here, so a corrupt header fails before any thread is asked to allocate for it.
      readChunkHeader(chunk, s.layout, c.elements);
      return runner.decode(chunk, s.layout, c.elements);
    }),
  );
  let done = 0;
  for await (const decoded of ordered(jobs, 2 * runner.threads)) {
    await writeAll(out, decoded);
    done += decoded.length;
    options.onProgress?.(done, index.size);
  }
  return index.size;
}
