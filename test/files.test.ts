import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { compress, compressAsync, decompress, inspect } from "../src/index.js";

const SHARED = "../shared/data";
const ggufFiles = existsSync(SHARED)
  ? readdirSync(SHARED, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".gguf")).map((f) => join(SHARED, f))
  : [];
const files = existsSync(SHARED)
  ? readdirSync(SHARED, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".safetensors")).map((f) => join(SHARED, f))
  : [];

function roundTrip(path: string): number {
  const original = readFileSync(path);
  const stream = compress(original);
  expect(Buffer.from(decompress(stream)).equals(original)).toBe(true);
  return original.length / stream.length;
}

describe("real weights round-trip byte for byte", () => {
  it("the bundled fixture (stories260K bf16)", () => {
    const ratio = roundTrip("fixtures/stories260K.bf16.safetensors");
    expect(ratio).toBeGreaterThan(1.5);
  });

  it.skipIf(files.length === 0)(`every safetensors file in ${SHARED} (${files.length || "absent: skipped"})`, () => {
    for (const f of files) roundTrip(f);
  });

  it.skipIf(ggufFiles.length === 0)(`every GGUF file in ${SHARED} (${ggufFiles.length || "absent: skipped"}), float tensors coded as pairs`, async () => {
    for (const f of ggufFiles) {
      const original = readFileSync(f);
      const stream = await compressAsync(original, { threads: 1 });
      expect(Buffer.from(decompress(stream)).equals(original)).toBe(true);
      expect(inspect(stream).segments.some((s) => s.dtype !== "bytes" && s.ks.length > 0)).toBe(true);
      expect(original.length / stream.length).toBeGreaterThan(f.includes("bf16") ? 1.45 : 1.15);
      expect(() => compress(original)).toThrow("GGUF input needs compressAsync()");
    }
  });

  it.skipIf(!existsSync(join(SHARED, "cnn/human.bf16.safetensors")))("the CNN bf16 corpus codes tensors with k > 0 where mantissas are not uniform", () => {
    const stream = compress(readFileSync(join(SHARED, "cnn/human.bf16.safetensors")));
    const ks = inspect(stream).segments.flatMap((s) => s.ks);
    expect(ks.some((k) => k > 0)).toBe(true);
    expect(ks.some((k) => k === 0)).toBe(true);
  });
});
