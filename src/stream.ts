// Whole files in pieces: read a chunk's bytes, code them (here or on a
// worker), write the result, in order. Memory stays bounded by the number
// of chunks in flight (2 per thread) whatever the size of the file, and the
// output is identical to the in-memory path's.

import type { Writable } from "node:stream";
import { decodedBytes, encodedBound } from "./batch.js";
import { BufferPool } from "./buffer-pool.js";
import { FOOTER_BYTES, HEADER_BYTES, readFooter, readHeader, readIndex, writeHeader, writeIndex, type Index, type Source } from "./container.js";
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

/**
 * Consecutive items grouped into batches of about BATCH_BYTES of original
 * data (a chunk larger than that is a batch alone): few enough messages
 * between threads, small enough to keep memory bounded and both cores busy.
 */
const BATCH_BYTES = 4 << 20;

function batches<T>(items: T[], bytesOf: (item: T) => number): T[][] {
  const out: T[][] = [];
  let size = 0;
  for (const item of items) {
    const last = out[out.length - 1];
    if (!last || size >= BATCH_BYTES) {
      out.push([item]);
      size = 0;
    } else {
      last.push(item);
    }
    size += bytesOf(item);
  }
  return out;
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
  const runner = await runnerFor(options);
  const window = 2 * runner.threads;
  // Input and output buffers of batches in flight and being written, used again.
  const buffers = new BufferPool(2 * window + 4);
  await writeAll(out, writeHeader(source));
  let written = HEADER_BYTES;
  const items = plans.flatMap((plan, i) =>
    chunkRanges(plan.end - plan.begin, plan.layout, options).map(([b, e]) => ({ plan: i, begin: plan.begin + b, end: plan.begin + e })),
  );
  const jobs = batches(items, (item) => item.end - item.begin).map((batch) => async () => {
    const base = batch[0]!.begin;
    const length = batch[batch.length - 1]!.end - base;
    const parts = batch.map((it) => {
      const plan = plans[it.plan]!;
      return { begin: it.begin - base, end: it.end - base, layout: plan.layout.id, place: { shape: plan.shape, start: (it.begin - plan.begin) / plan.layout.width } };
    });
    const coded = await runner.encode({ reader, position: base, room: buffers.take(length) }, parts, buffers.take(encodedBound(parts)));
    buffers.give(coded.input);
    const bytes = coded.chunks.reduce((sum, c) => sum + c.bytes.length, 0);
    return { output: coded.output.subarray(0, bytes), chunks: coded.chunks.map((c, j) => ({ plan: batch[j]!.plan, record: { elements: c.choice.elements, length: c.bytes.length, choice: c.choice } })) };
  });
  const segments = plans.map((plan) => ({ plan, chunks: [] as ChunkRecord[] }));
  let done = 0;
  for await (const batch of ordered(jobs, window)) {
    // The batch's chunks lie back to back in its output: one write.
    await writeAll(out, batch.output, () => buffers.give(batch.output));
    written += batch.output.length;
    for (const chunk of batch.chunks) {
      segments[chunk.plan]!.chunks.push(chunk.record);
      done += chunk.record.elements * plans[chunk.plan]!.layout.width;
    }
    options.onProgress?.(done, reader.size);
  }
  const tail = writeIndex(segments.map((s) => segmentRecord(s.plan.layout, s.plan.shape, s.plan.end - s.plan.begin, s.chunks, s.plan.format)), written);
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
  const header = readHeader(reader.read(0, Math.min(HEADER_BYTES, reader.size)));
  const { indexOffset, indexLength } = readFooter(reader.read(Math.max(0, reader.size - FOOTER_BYTES), Math.min(FOOTER_BYTES, reader.size)), reader.size);
  return readIndex(header, reader.read(indexOffset, indexLength), indexOffset);
}

/** Restores the original file of an .ansf stream to `out`, chunk by chunk. Returns its size. */
export async function decompressStream(reader: Reader, out: Writable, options: StreamOptions = {}, index: Index = readIndexFrom(reader)): Promise<number> {
  const runner = await runnerFor(options);
  const window = 2 * runner.threads;
  // Input and output buffers of batches in flight and being written, used again.
  const buffers = new BufferPool(4 * window + 4);
  const items = index.segments.flatMap((s) => s.chunks.map((c) => ({ chunk: c, layout: s.layout })));
  const jobs = batches(items, (it) => it.chunk.elements * it.layout.width).map((batch) => async () => {
    const base = batch[0]!.chunk.offset;
    const last = batch[batch.length - 1]!.chunk;
    const length = last.offset + last.length - base;
    const parts = batch.map(({ chunk, layout }) => ({ begin: chunk.offset - base, end: chunk.offset - base + chunk.length, layout: layout.id, elements: chunk.elements }));
    const decoded = await runner.decode({ reader, position: base, room: buffers.take(length) }, parts, index.version, buffers.take(decodedBytes(parts)));
    buffers.give(decoded.input);
    return decoded.output;
  });
  let done = 0;
  for await (const decoded of ordered(jobs, window)) {
    await writeAll(out, decoded, () => buffers.give(decoded));
    done += decoded.length;
    options.onProgress?.(done, index.size);
  }
  return index.size;
}
