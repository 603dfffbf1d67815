import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { chunkBound } from "../src/chunk.js";
import { ChunkArena } from "../src/chunk-arena.js";
import { compress, decompress, encode } from "../src/index.js";

describe("ChunkArena", () => {
  it("leaves a returned stream intact when the next call writes its chunks into the same arena", () => {
    const file = new Uint8Array(readFileSync("fixtures/stories260K.bf16.safetensors"));
    const stream = compress(file);
    const copy = stream.slice();
    const other = new Uint16Array(300_000).map((_, i) => 0x3c00 + ((i * 2654435761) >>> 22));
    encode(other, { dtype: "bf16" });
    compress(file);
    expect(stream).toEqual(copy);
    expect(decompress(stream)).toEqual(file);
  });

  it("gives room only where a chunk's stored form fits, and counts only chunks written in it", () => {
    const arena = new ChunkArena(new Uint8Array(200));
    const first = arena.room(100)!;
    expect(first.length).toBe(200);
    arena.keep(first.subarray(0, 150));
    expect(arena.room(100)).toBeUndefined();
    arena.keep(new Uint8Array(10));
    expect(arena.room(50 - chunkBound(0))!.length).toBe(50);
    expect(arena.room(50 - chunkBound(0) + 1)).toBeUndefined();
  });
});
