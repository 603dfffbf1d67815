import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { encodedBound } from "../src/batch.js";
import { encodeChunk } from "../src/chunk.js";
import { layoutOf } from "../src/dtypes.js";
import { fileReader } from "../src/io.js";
import { AnsfError, compress, compressAsync, decode, decompressAsync, decodeAsync, encode, encodeAsync } from "../src/index.js";
import { closeJob, enter, InputFeed, jobControl, stopJob, work, CHUNK_FIELDS, type DecodeJob } from "../src/shared-job.js";
import { parseContainer } from "../src/container.js";
import { DEFAULT_THREADS_FROM, runJob, runnerFor } from "../src/parallel.js";
import { core } from "../src/wasm.js";

const FIXTURE = readFileSync("fixtures/stories260K.bf16.safetensors");

/** `n` bf16 weights of a seeded, roughly normal distribution. */
function weights(n: number): Uint8Array {
  const words = new Uint16Array(n);
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  let seed = 12345;
  const uniform = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) + 0.5) / 2 ** 32;
  for (let i = 0; i < n; i++) {
    f[0] = 0.02 * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    words[i] = bits[0]! >>> 16;
  }
  return new Uint8Array(words.buffer);
}

describe("worker pool", () => {
  it("keeps a process that awaits its jobs at top level alive until they end", () => {
    // Atomics.waitAsync and unref'd workers hold no event loop: a job must hold it itself (else exit code 13).
    const script = `
      import { readFileSync } from "node:fs";
      import { compressAsync, decompressAsync } from "./dist/src/index.js";
      const file = readFileSync("fixtures/stories260K.bf16.safetensors");
      for (let i = 0; i < 40; i++) {
        const restored = await decompressAsync(await compressAsync(file, { threads: 2 }), { threads: 2 });
        if (restored.length !== file.length) throw new Error("round trip");
      }
      console.log("done");`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("done");
  });

  it("gives byte-identical streams and outputs for 1, 2 and 3 threads", async () => {
    const sync = compress(FIXTURE, { chunkElements: 4096 });
    for (const threads of [1, 2, 3]) {
      const stream = await compressAsync(FIXTURE, { threads, chunkElements: 4096 });
      expect(Buffer.from(stream).equals(Buffer.from(sync))).toBe(true);
      expect(Buffer.from(await decompressAsync(stream, { threads })).equals(FIXTURE)).toBe(true);
    }
  });

  it("without threads, runs jobs under 4 MiB on the calling thread and larger ones on all cores", async () => {
    // Decoding on several threads writes a SharedArrayBuffer in place; one thread returns plain memory.
    const small = await decompressAsync(compress(FIXTURE));
    expect(small.buffer).toBeInstanceOf(ArrayBuffer);
    expect(Buffer.from(small).equals(FIXTURE)).toBe(true);
    const data = weights(DEFAULT_THREADS_FROM >> 1);
    const large = await decodeAsync(encode(data, { dtype: "bf16" }));
    expect(large.buffer instanceof SharedArrayBuffer).toBe(availableParallelism() > 1);
    expect(Buffer.from(large).equals(Buffer.from(data))).toBe(true);
  });

  it("codes single tensors and decodes into a caller's buffer", async () => {
    const data = FIXTURE.subarray(FIXTURE.length - 40000);
    const stream = await encodeAsync(data, { dtype: "bf16", threads: 2, chunkElements: 3000 });
    expect(Buffer.from(stream).equals(Buffer.from(encode(data, { dtype: "bf16", chunkElements: 3000 })))).toBe(true);
    const out = new Uint8Array(data.length);
    const view = await decodeAsync(stream, { out, threads: 2 });
    expect(view.buffer).toBe(out.buffer);
    expect(Buffer.from(out).equals(data)).toBe(true);
    expect(Buffer.from(decode(stream)).equals(data)).toBe(true);
  });

  it("decodes into a caller's buffer, shared or not, for 1, 2 and 3 threads", async () => {
    const data = weights(300_000);
    const stream = encode(data, { dtype: "bf16", chunkElements: 10_000 });
    for (const threads of [1, 2, 3]) {
      for (const shared of [false, true]) {
        // Larger than needed: the result is a view of its first bytes; the rest stays untouched.
        const out = new Uint8Array(shared ? new SharedArrayBuffer(data.length + 7) : new ArrayBuffer(data.length + 7)).fill(0xa5);
        const view = await decodeAsync(stream, { out, threads });
        expect(view.buffer).toBe(out.buffer);
        expect(view.byteOffset).toBe(0);
        expect(view.length).toBe(data.length);
        expect(Buffer.from(view).equals(Buffer.from(data))).toBe(true);
        expect([...out.subarray(data.length)]).toEqual(Array(7).fill(0xa5));
      }
      const small = new Uint8Array(data.length - 1);
      await expect(decodeAsync(stream, { out: small, threads })).rejects.toMatchObject({ code: "BAD_ARGUMENT" });
    }
  });

  it("codes an input already in shared memory without copying it, with the same bytes", async () => {
    const data = weights(200_000);
    const shared = new Uint8Array(new SharedArrayBuffer(data.length));
    shared.set(data);
    const stream = encode(data, { dtype: "bf16", chunkElements: 8192 });
    expect(Buffer.from(await encodeAsync(shared, { dtype: "bf16", chunkElements: 8192, threads: 2 })).equals(Buffer.from(stream))).toBe(true);
    const sharedStream = new Uint8Array(new SharedArrayBuffer(stream.length));
    sharedStream.set(stream);
    expect(Buffer.from(await decodeAsync(sharedStream, { threads: 2 })).equals(Buffer.from(data))).toBe(true);
  });

  it("a stream's worker reads its batch from the input file itself: the same chunk, and TRUNCATED past the file's end", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ansfloat-"));
    const path = join(dir, "weights.bin");
    const data = weights(1 << 18);
    writeFileSync(path, data);
    const reader = fileReader(path);
    try {
      const runner = await runnerFor({ threads: 2 });
      const layout = layoutOf("bf16");
      const parts = [{ begin: 0, end: data.length, layout: layout.id }];
      const batch = await runner.encode({ reader, position: 0, room: new Uint8Array(data.length) }, parts, new Uint8Array(encodedBound(parts)));
      expect(Buffer.from(batch.chunks[0]!.bytes).equals(Buffer.from(encodeChunk(core(), data, layout).bytes))).toBe(true);
      const late = runner.encode({ reader, position: 2, room: new Uint8Array(data.length) }, parts, new Uint8Array(encodedBound(parts)));
      await expect(late).rejects.toMatchObject({ code: "TRUNCATED", message: `${path} ends at ${data.length}, before ${data.length + 2}` });
    } finally {
      reader.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("aborted mid-job: rejects with ABORTED, leaves a caller's buffer untouched, and the workers serve the next job", async () => {
    // Long enough (many chunks, tens of milliseconds) that the abort, sent at
    // the calling thread's first look at its event loop, lands mid-job.
    const data = weights(24 << 20 >> 1);
    const stream = encode(data, { dtype: "bf16", chunkElements: 16384 });
    for (const threads of [2, 3]) {
      const controller = new AbortController();
      const out = new Uint8Array(data.length);
      const job = decodeAsync(stream, { out, threads, signal: controller.signal });
      setImmediate(() => controller.abort());
      await expect(job).rejects.toMatchObject({ code: "ABORTED" });
      expect(out.every((b) => b === 0)).toBe(true);
      const encoding = new AbortController();
      const coding = encodeAsync(data, { dtype: "bf16", chunkElements: 16384, threads, signal: encoding.signal });
      setImmediate(() => encoding.abort());
      await expect(coding).rejects.toMatchObject({ code: "ABORTED" });
      expect(Buffer.from(await decodeAsync(stream, { threads })).equals(Buffer.from(data))).toBe(true);
    }
  });

  it("stops a shared job for every thread: no chunk claimed after the stop, and no worker admitted after the close", () => {
    const data = weights(40_000);
    const stream = encode(data, { dtype: "bf16", chunkElements: 10_000 });
    const output = new Uint8Array(new SharedArrayBuffer(data.length));
    const entries = parseContainer(stream).segments[0]!.chunks;
    const chunks = new Float64Array(entries.length * CHUNK_FIELDS);
    entries.forEach((c, i) => chunks.set([c.offset, c.length, i * 20_000, c.elements, 1], i * CHUNK_FIELDS));
    const job: DecodeJob = { op: "decode", input: stream, output, chunks, control: jobControl(2, false), version: stream[4]! };
    // Worker 0 enters; the job then closes, shutting worker 1 out.
    expect(enter(job, 0)).toBe(true);
    expect(closeJob(job, 2)).toEqual([0]);
    expect(enter(job, 1)).toBe(false);
    // One chunk (the calling thread's, from the back), then a stop: nothing more is claimed or written.
    expect(work(core(), job, new Map(), { until: -Infinity })).toBe(true);
    expect(Buffer.from(output.subarray(60_000)).equals(Buffer.from(data.subarray(60_000)))).toBe(true);
    stopJob(job);
    expect(work(core(), job, new Map())).toBe(false);
    expect(output.subarray(0, 60_000).every((b) => b === 0)).toBe(true);
  });

  it("the calling thread codes from the back, reading the caller's bytes, and copies only front chunks a worker could claim next", () => {
    const data = weights(8 * 4096);
    const stream = encode(data, { dtype: "bf16", chunkElements: 4096 });
    const entries = parseContainer(stream).segments[0]!.chunks;
    expect(entries.length).toBe(8);
    const chunks = new Float64Array(entries.length * CHUNK_FIELDS);
    entries.forEach((c, i) => chunks.set([c.offset, c.length, i * 8192, c.elements, 1], i * CHUNK_FIELDS));
    const output = new Uint8Array(new SharedArrayBuffer(data.length));
    const staging = new Uint8Array(new SharedArrayBuffer(stream.length));
    const job: DecodeJob = { op: "decode", input: staging, output, chunks, control: jobControl(1, true), version: stream[4]! };
    // No worker comes: the calling thread claims all eight, the last first.
    const feed = new InputFeed(job, stream, 1);
    while (work(core(), job, new Map(), { until: -Infinity, feed }));
    expect(Buffer.from(output).equals(Buffer.from(data))).toBe(true);
    // Before each of its chunks it copied ahead what a worker would take
    // meanwhile: two chunks, and as many bytes as twice its own. So chunks
    // 0 and 1 at least, and never the half it coded before reaching them.
    const copied = entries.findIndex((c) => staging.subarray(c.offset, c.offset + c.length).every((b) => b === 0));
    expect(copied).toBeGreaterThanOrEqual(2);
    expect(copied).toBeLessThanOrEqual(4);
    const end = entries[copied]!.offset;
    expect(Buffer.from(staging.subarray(entries[0]!.offset, end)).equals(Buffer.from(stream.subarray(entries[0]!.offset, end)))).toBe(true);
    expect(staging.subarray(end).every((b) => b === 0)).toBe(true);
  });

  it("fails a shared job whose worker cannot take part, rather than return it half coded", async () => {
    const data = weights(100_000);
    const stream = encode(data, { dtype: "bf16", chunkElements: 4096 });
    const entries = parseContainer(stream).segments[0]!.chunks;
    const chunks = new Float64Array(entries.length * CHUNK_FIELDS);
    entries.forEach((c, i) => chunks.set([c.offset, c.length, i * 8192, c.elements, 1], i * CHUNK_FIELDS));
    const output = new Uint8Array(new SharedArrayBuffer(data.length));
    // A function cannot be cloned to a worker: Piscina rejects the task before the worker sees it.
    const job = { op: "decode", input: stream, output, chunks, control: jobControl(1, false), version: stream[4]!, unclonable: () => 0 } as DecodeJob;
    // Piscina refuses the task when it posts it to a worker. A worker already
    // idle gets it at once, and the job fails; one still starting or busy
    // gets it only after the calling thread has decoded every chunk, and the
    // job is whole. Either way no half-decoded result comes back.
    const outcome = await runJob(job, 2).then(
      () => "whole",
      (err: unknown) => String(err),
    );
    if (outcome === "whole") expect(Buffer.from(output).equals(Buffer.from(data))).toBe(true);
    else expect(outcome).toMatch(/could not be cloned/);
  });

  it("rejects with ABORTED when the signal fires, and the pool still works afterwards", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(compressAsync(FIXTURE, { threads: 2, signal: controller.signal })).rejects.toMatchObject({ code: "ABORTED" });
    const late = new AbortController();
    const job = decompressAsync(compress(FIXTURE, { chunkElements: 1024 }), { threads: 2, signal: late.signal });
    late.abort();
    await expect(job).rejects.toBeInstanceOf(AnsfError);
    expect(Buffer.from(await decompressAsync(compress(FIXTURE), { threads: 2 })).equals(FIXTURE)).toBe(true);
  });

  it("reports corruption found by a worker with the worker's error code", async () => {
    const stream = compress(FIXTURE).slice();
    stream[stream.length >> 1]! ^= 0x40;
    const err = await decompressAsync(stream, { threads: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnsfError);
    expect(["CHECKSUM_MISMATCH", "CORRUPT_STREAM"]).toContain((err as AnsfError).code);
  });
});
