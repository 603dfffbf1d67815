import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { AnsfError, compress, compressAsync, decode, decompressAsync, decodeAsync, encode, encodeAsync } from "../src/index.js";

const FIXTURE = readFileSync("fixtures/stories260K.bf16.safetensors");

describe("worker pool", () => {
  it("gives byte-identical streams and outputs for 1 and 2 threads", async () => {
    const sync = compress(FIXTURE, { chunkElements: 4096 });
    for (const threads of [1, 2]) {
      const stream = await compressAsync(FIXTURE, { threads, chunkElements: 4096 });
      expect(Buffer.from(stream).equals(Buffer.from(sync))).toBe(true);
      expect(Buffer.from(await decompressAsync(stream, { threads })).equals(FIXTURE)).toBe(true);
    }
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
