import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AnsfError, compress, compressAsync, decode, decodeFormat, decompress, encode, encodeFormat, inspect, open } from "../src/index.js";
import { ANSF_ERROR_CODES } from "../src/errors.js";
import { errorCode } from "./error-code.js";
import { parseSafetensors } from "../src/safetensors.js";

// Seeded random damage to real streams of every kind, through every way of
// decoding them: each case must end in an AnsfError with a stable code, or
// in the exact original. A longer run of this kind (hundreds of thousands
// of cases, with the corpus's CNN and GGUF files and decompressAsync too)
// found that the loader threw a RangeError on files shorter than header
// and footer.

const FIXTURE = readFileSync("fixtures/stories260K.bf16.safetensors");
const CODES = new Set<string>(ANSF_ERROR_CODES);

interface Case {
  name: string;
  stream: Uint8Array;
  /** The whole file, the tensor, or (formats) the tensor decoded to fp32. */
  original: Uint8Array;
  kind: "file" | "tensor" | "format";
}

function cases(): Case[] {
  const found: Case[] = [{ name: "stories260K bf16, version 5", stream: compress(FIXTURE), original: FIXTURE, kind: "file" }];
  for (const f of ["v1-stories260K-3-tensors", "v2-mixed-layouts", "v3-mixed-layouts", "v4-mixed-layouts"]) {
    const stream = readFileSync(`fixtures/${f}.safetensors.ansf`);
    found.push({ name: f, stream, original: decompress(stream), kind: "file" });
  }
  const t = parseSafetensors(FIXTURE).tensors.find((x) => x.name === "model.embed_tokens.weight")!;
  const weights = FIXTURE.subarray(t.begin, t.end);
  found.push({ name: "one tensor, channel contexts", stream: encode(weights, { dtype: "bf16", shape: t.shape }), original: weights, kind: "tensor" });
  // The same weights as fp8 e4m3 patterns (exponent clamped, top three mantissa bits).
  const words = new Uint16Array(weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length));
  const fp8 = Uint8Array.from(words, (w) => ((w >> 15) << 7) | (Math.max(0, Math.min(15, ((w >> 7) & 255) - 120)) << 3) | ((w >> 4) & 7));
  const format = encodeFormat(fp8, { format: "fp8-e4m3", shape: [fp8.length] });
  found.push({ name: "fp8 format", stream: format, original: decodeFormat(format, { to: "fp32" }), kind: "format" });
  return found;
}

/** xorshift32 */
function random(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return Math.floor((s / 2 ** 32) * n);
  };
}

function damage(stream: Uint8Array, r: (n: number) => number): Uint8Array {
  const b = Uint8Array.from(stream);
  const at = r(b.length);
  switch (r(7)) {
    case 0:
      for (let k = 1 + r(4); k > 0; k--) b[r(b.length)]! ^= 1 << r(8);
      return b;
    case 1:
      b[b.length - 1 - r(Math.min(b.length, 96))]! ^= 1 << r(8); // the index and footer
      return b;
    case 2:
      b[at] = [0, 255, r(256)][r(3)]!;
      return b;
    case 3:
      return b.subarray(0, r(2) ? at : r(64)); // a cut anywhere, or within the first bytes
    case 4: {
      const extra = Uint8Array.from({ length: 1 + r(16) }, () => r(256));
      return Buffer.concat([b.subarray(0, at), extra, b.subarray(at)]);
    }
    case 5:
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + r(16)))]);
    default:
      b.copyWithin(r(b.length), at, at + r(64));
      return b;
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

describe("damaged streams", () => {
  it("end in an AnsfError or the exact original, through decompress, decode, inspect and the lazy loader", () => {
    const all = cases();
    const dir = mkdtempSync(join(tmpdir(), "ansfloat-mutation-"));
    const path = join(dir, "damaged.ansf");
    const r = random(2026);
    const outcomes = new Map<string, number>();
    try {
      for (let i = 0; i < 2000; i++) {
        const c = all[r(all.length)]!;
        const bad = damage(c.stream, r);
        const how = r(3);
        let outcome: string;
        try {
          if (how === 0) {
            const out = c.kind === "format" ? decodeFormat(bad, { to: "fp32" }) : c.kind === "file" ? decompress(bad) : decode(bad);
            outcome = same(out, c.original) ? "exact" : "WRONG DATA";
          } else if (how === 1) {
            inspect(bad);
            outcome = "listed";
          } else {
            writeFileSync(path, bad);
            const file = open(path);
            try {
              const parts = file.tensors.map((t) => (c.kind === "format" ? file.decodeAs(t.name, "fp32") : file.tensor(t.name)));
              outcome = c.kind !== "file" && !same(parts[0]!, c.original) ? "WRONG DATA" : "exact";
            } finally {
              file.close();
            }
          }
        } catch (err) {
          outcome = err instanceof AnsfError && CODES.has(err.code) ? err.code : `${(err as Error).name}: ${(err as Error).message} (${c.name})`;
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const unexpected = [...outcomes.keys()].filter((o) => !CODES.has(o) && o !== "exact" && o !== "listed");
    expect(unexpected).toEqual([]);
    // The damage reaches the checks that matter.
    for (const code of ["TRUNCATED", "CORRUPT_STREAM", "CHECKSUM_MISMATCH"]) expect(outcomes.get(code)).toBeGreaterThan(20);
  });
});

const GGUF = "../shared/data/llm/stories260K.bf16.gguf";

/** A damaged copy of an input file, most often in its header (the first `headerBytes`). */
function damageInput(input: Uint8Array, headerBytes: number, r: (n: number) => number): Uint8Array {
  const b = Uint8Array.from(input);
  const at = r(10) < 7 ? r(Math.min(b.length, headerBytes)) : r(b.length);
  switch (r(5)) {
    case 0:
      b[at]! ^= 1 << r(8);
      return b;
    case 1:
      b[at] = '0123456789"{}[],:-eE.'.charCodeAt(r(21)); // JSON's own characters
      return b;
    case 2:
      return b.subarray(0, at);
    case 3:
      return Buffer.concat([b.subarray(0, at), Uint8Array.of(r(256), r(256)), b.subarray(at)]);
    default:
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r(8))]);
  }
}

describe("damaged inputs to the compressor", () => {
  /** Compresses each damaged input: an AnsfError, or a stream that restores that input exactly. */
  async function check(input: Uint8Array, headerBytes: number, cases: number, run: (bad: Uint8Array) => Uint8Array | Promise<Uint8Array>) {
    const r = random(7);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < cases; i++) {
      const bad = damageInput(input, headerBytes, r);
      let outcome: string;
      try {
        outcome = same(decompress(await run(bad)), bad) ? "round trip" : "WRONG DATA";
      } catch (err) {
        outcome = err instanceof AnsfError && CODES.has(err.code) ? err.code : `${(err as Error).name}: ${(err as Error).message}`;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    expect([...outcomes.keys()].filter((o) => !CODES.has(o) && o !== "round trip")).toEqual([]);
    return outcomes;
  }

  it("safetensors: an AnsfError or an exact round trip", async () => {
    const outcomes = await check(FIXTURE, 8 + Number(FIXTURE.readBigUInt64LE(0)), 200, (bad) => compress(bad));
    expect(outcomes.get("BAD_SAFETENSORS")).toBeGreaterThan(20);
  });

  it.skipIf(!existsSync(GGUF))(`GGUF (${existsSync(GGUF) ? GGUF : "absent: skipped"}): an AnsfError or an exact round trip`, async () => {
    const outcomes = await check(readFileSync(GGUF), 4096, 100, (bad) => compressAsync(bad, { threads: 1 }));
    expect(outcomes.get("BAD_GGUF")).toBeGreaterThan(5);
  });
});

describe("a stream that claims more than a buffer holds", () => {
  it("is TOO_LARGE for every in-memory decoder, not the allocation's RangeError", async () => {
    // 100 copies of one coded 64 MiB chunk of zero bytes: 9.5 KB claiming 6.7 GB.
    const { HEADER_BYTES, parseContainer, writeHeader, writeIndex } = await import("../src/container.js");
    const { decodeAsync } = await import("../src/index.js");
    const n = 64 << 20;
    const one = encode(new Uint8Array(n), { dtype: "u8", chunkElements: n });
    const { offset: _, ...segment } = parseContainer(one).segments[0]!;
    const chunk = one.subarray(segment.chunks[0]!.offset, segment.chunks[0]!.offset + segment.chunks[0]!.length);
    const copies = 100;
    const chunksEnd = HEADER_BYTES + copies * chunk.length;
    const tail = writeIndex([{ ...segment, length: copies * n, shape: [copies * n], chunks: Array.from({ length: copies }, () => ({ elements: n, length: chunk.length })) }], chunksEnd);
    const bomb = new Uint8Array(chunksEnd + tail.length);
    bomb.set(writeHeader("tensor"), 0);
    for (let i = 0; i < copies; i++) bomb.set(chunk, HEADER_BYTES + i * chunk.length);
    bomb.set(tail, chunksEnd);
    expect(errorCode(() => decode(bomb))).toBe("TOO_LARGE");
    expect(errorCode(() => decompress(bomb))).toBe("TOO_LARGE");
    await expect(decodeAsync(bomb, { threads: 2 })).rejects.toMatchObject({ code: "TOO_LARGE" });
    const dir = mkdtempSync(join(tmpdir(), "ansfloat-bomb-"));
    try {
      writeFileSync(join(dir, "bomb.ansf"), bomb);
      const file = open(join(dir, "bomb.ansf"));
      expect(errorCode(() => file.tensor("tensor"))).toBe("TOO_LARGE");
      file.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

