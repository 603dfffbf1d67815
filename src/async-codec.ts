// Whole buffers in memory on several threads: every chunk of the input
// goes into one shared job (shared-job.ts) that the calling thread and
// threads - 1 workers work through together. With one thread this is the
// synchronous path, with a look at the event loop every few milliseconds.

import { resultBuffer } from "./bytes.js";
import { assemble } from "./codec.js";
import type { Index, Source } from "./container.js";
import { AnsfError } from "./errors.js";
import { chunkOptionsOf, runJob, threadsOf, type ParallelOptions } from "./parallel.js";
import type { SegmentPlan } from "./safetensors-codec.js";
import { chunkRanges, encodedSegment, type EncodeOptions } from "./segments.js";
import { isShared, wordPhase } from "./shared-memory.js";
import { borrowStaging, CHUNK_FIELDS, jobControl, returnStaging, type Coded, type DecodeJob, type EncodeJob, type Job } from "./shared-job.js";

/**
 * Runs `job` (all but its input and control) over `bytes`: in place when
 * workers can read it (one thread, or shared memory), else from a staging
 * copy that the calling thread fills as the workers start.
 */
async function runOver<J extends Job>(bytes: Uint8Array, threads: number, options: ParallelOptions, job: Omit<J, "input" | "control">): Promise<Coded> {
  const staged = threads > 1 && !isShared(bytes);
  const input = staged ? borrowStaging(bytes.length, wordPhase(bytes)) : bytes;
  try {
    return await runJob({ ...job, input, control: jobControl(threads - 1, staged) } as J, threads, options.signal, staged ? bytes : undefined);
  } finally {
    if (staged) returnStaging(input);
  }
}

/**
 * Codes the planned segments of `file` into one in-memory container,
 * identical to the synchronous path's: the chunks each thread coded, its
 * own or moved back from a worker, copied once into the result.
 */
export async function encodeInMemory(source: Source, file: Uint8Array, plans: SegmentPlan[], options: EncodeOptions & ParallelOptions): Promise<Uint8Array> {
  const threads = threadsOf(options, file.length);
  const ranges = plans.map((p) => chunkRanges(p.end - p.begin, p.layout, options));
  const count = ranges.reduce((n, r) => n + r.length, 0);
  const chunks = new Float64Array(CHUNK_FIELDS * count);
  let at = 0;
  plans.forEach((p, j) => {
    for (const [begin, end] of ranges[j]!) {
      chunks.set([p.begin + begin, end - begin, 0, (end - begin) / p.layout.width, p.layout.id, j, begin / p.layout.width], at);
      at += CHUNK_FIELDS;
    }
  });
  const shapes = plans.map((p) => p.shape);
  const coded = await runOver<EncodeJob>(file, threads, options, { op: "encode", chunks, shapes, options: chunkOptionsOf(options) });
  let i = 0;
  return assemble(source, plans.map((p, j) => encodedSegment(p.layout, p.shape, p.end - p.begin, ranges[j]!.map(() => coded.get(i++)!), p.format)));
}

/**
 * Decodes every segment of `index` from `stream`. With more than one thread
 * every thread decodes into shared memory in place: `out` when it is
 * shared, else a new SharedArrayBuffer (the result), or a staging buffer
 * copied into a non-shared `out` once the whole stream has decoded (so a
 * failed or aborted job leaves that `out` as it was).
 */
export async function decodeInMemory(stream: Uint8Array, index: Index, options: { out?: Uint8Array | undefined } & ParallelOptions): Promise<Uint8Array> {
  const threads = threadsOf(options, index.size);
  const out = options.out;
  if (out && out.length < index.size) {
    throw new AnsfError("BAD_ARGUMENT", `output buffer of ${out.length} bytes is smaller than the ${index.size} bytes to decode`);
  }
  const chunks = new Float64Array(CHUNK_FIELDS * index.segments.reduce((n, s) => n + s.chunks.length, 0));
  let at = 0;
  for (const s of index.segments) {
    let written = s.offset;
    for (const c of s.chunks) {
      chunks.set([c.offset, c.length, written, c.elements, s.layout.id, 0, 0], at);
      at += CHUNK_FIELDS;
      written += c.elements * s.layout.width;
    }
  }
  const staged = threads > 1 && out !== undefined && !isShared(out);
  const output = staged ? borrowStaging(index.size, wordPhase(out)) : out ?? resultBuffer(index.size, threads > 1);
  try {
    await runOver<DecodeJob>(stream, threads, options, { op: "decode", output, chunks, version: index.version });
    if (staged) out!.set(output);
  } finally {
    if (staged) returnStaging(output);
  }
  return out ? out.subarray(0, index.size) : output;
}
