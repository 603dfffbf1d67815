// npm run bench:chunks [-- FILE]: the codec on large chunks alone, the case
// of a 7B-class model's tensors. Cuts up to 16 MiB of a file's largest bf16
// tensors into chunks of at most 2^20 elements and times encodeChunk and
// decodeChunk per chunk (each into a reused buffer, as a loader's or a
// stream's would be), and the decode kernel by itself, best of several
// passes: once coded order-0 (one table a chunk) and once with channel
// contexts where they pay (the chunks' places in their tensors given).

import { existsSync, readFileSync } from "node:fs";
import { chunkBound, decodeChunk, encodeChunk, readChunkHeader } from "../src/chunk.js";
import { VERSION } from "../src/container.js";
import { putContextBases, type ChunkPlace } from "../src/context.js";
import { codeShift, layoutOf } from "../src/dtypes.js";
import { parseSafetensors } from "../src/safetensors.js";
import { core } from "../src/wasm.js";

const DEFAULT = ["../shared/data/cnn/human.bf16.safetensors", "fixtures/stories260K.bf16.safetensors"];
const file = process.argv[2] ?? DEFAULT.find((f) => existsSync(f))!;
const bytes = readFileSync(file);
const layout = layoutOf("bf16");
const per = 1 << 20;
const budget = 8 * per;
const parts: { data: Uint8Array; place: ChunkPlace }[] = [];
let total = 0;
const largest = parseSafetensors(bytes).tensors.filter((t) => t.dtype === "BF16").sort((a, b) => b.end - b.begin - (a.end - a.begin));
for (const t of largest) {
  for (let start = 0; start * 2 < t.end - t.begin && total < 2 * budget; start += per) {
    const data = bytes.subarray(t.begin + 2 * start, Math.min(t.end, t.begin + 2 * (start + per)));
    parts.push({ data, place: { shape: t.shape, start } });
    total += data.length;
  }
  if (total >= 2 * budget) break;
}

function best(passes: number, f: () => void): { best: number; median: number } {
  const times: number[] = [];
  for (let i = 0; i < passes; i++) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { best: times[0]!, median: times[times.length >> 1]! };
}

const c = core();
const gbps = (ms: number) => (total / ms / 1e6).toFixed(2);
console.log(`${file}: ${parts.length} chunks, ${total / 2} bf16 from the largest tensors`);
for (const contexts of [false, true]) {
  const coded = parts.map((p) => encodeChunk(c, p.data, layout, {}, contexts ? p.place : undefined).bytes);
  // Into a reused buffer, as decoding is timed: fresh memory would add a page fault per 4 KiB of output (about 3 us on this VM).
  const room = new Uint8Array(chunkBound(2 * per));
  const enc = best(5, () => {
    for (const p of parts) encodeChunk(c, p.data, layout, {}, contexts ? p.place : undefined, room);
  });
  const out = new Uint8Array(2 * per);
  const dec = best(15, () => {
    coded.forEach((chunk, i) => decodeChunk(c, chunk, layout, parts[i]!.data.length / 2, out.subarray(0, parts[i]!.data.length), VERSION));
  });
  // The kernel alone: the chunk already in Wasm memory, tables built, no checksum or copies.
  let kernelMs = 0;
  let withContext = 0;
  coded.forEach((chunk, i) => {
    const n = parts[i]!.data.length / 2;
    const h = readChunkHeader(chunk, layout, n, VERSION);
    c.reset();
    const base = c.put(chunk);
    h.tables.forEach((t, g) => c.fn.buildDecodeTable(c.put(new Uint8Array(t.buffer)), t.length, h.precision, codeShift(layout, h.k), g));
    const ctx = h.context;
    if (ctx) withContext++;
    const { kind, bases, basesEnd } = putContextBases(c, ctx, n, h.precision + 3, 4);
    const dst = c.alloc(n * 2);
    const states = c.alloc(4 * h.lanes);
    const initial = new Uint8Array(h.states.buffer);
    kernelMs += best(15, () => {
      c.view(states, initial.length).set(initial);
      c.fn.decodeCodes(
        2, dst, n, codeShift(layout, h.k), 1, h.precision, h.lanes, kind, bases, basesEnd,
        states, base + h.payloadOffset, base + h.payloadOffset + h.payloadLength, base + h.rawOffset,
      );
    }).best;
  });
  console.log(`${contexts ? "channel contexts" : "order-0"}: ratio ${(total / coded.reduce((s, b) => s + b.length, 0)).toFixed(4)}, ${withContext} of ${coded.length} chunks with a context`);
  console.log(`  encode  best ${gbps(enc.best)} GB/s, median ${gbps(enc.median)} GB/s (chunk in, model search, encode, chunk out)`);
  console.log(`  decode  best ${gbps(dec.best)} GB/s, median ${gbps(dec.median)} GB/s (chunk in, decode, checksum, copy out)`);
  console.log(`  kernel  best ${gbps(kernelMs)} GB/s (rANS decode and merge only)`);
}
