// The entropy bound of ansfloat's own choices for a file (entropy.ts
// pairBound), read back from the stream it writes.

import { readChunkHeader } from "../src/chunk.js";
import { parseContainer } from "../src/container.js";
import { groupOf } from "../src/context.js";
import { loadAnsfloat } from "./codecs.js";
import { pairBound, type ChosenChunk, type PairBound } from "./entropy.js";
import type { SafetensorsLayout } from "./safetensors.js";

/**
 * The pair-entropy bound of what ansfloat chose for this file, read back from
 * its stream: k per chunk from inspect(), and each context chunk's groups
 * from its header.
 */
export async function ansfloatPairBound(input: Uint8Array, layout: SafetensorsLayout): Promise<PairBound> {
  const api = (await loadAnsfloat()) as unknown as { compress(f: Uint8Array): Uint8Array; inspect(s: Uint8Array): { segments: { chunks: ChosenChunk[] }[] } };
  const stream = api.compress(input);
  const info = api.inspect(stream);
  const index = parseContainer(stream);
  // Segment 0 is the safetensors header; segment i + 1 is the i-th tensor in file order.
  return pairBound(input, layout, (i) => {
    const segment = index.segments[i + 1]!;
    return info.segments[i + 1]!.chunks.map((c, j) => {
      if (c.mode !== "context") return c;
      const { offset, length, elements } = segment.chunks[j]!;
      const context = readChunkHeader(stream.subarray(offset, offset + length), segment.layout, elements, index.version).context!;
      return { ...c, groupOf: (e: number) => groupOf(context, e) };
    });
  });
}
