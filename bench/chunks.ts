// npm run bench:chunks [-- FILE]: the codec on large chunks alone, the case
// of a 7B-class model's tensors. Cuts up to 16 MiB of a file's bf16 weights
// into 2^20-element chunks and times encodeChunk and decodeChunk per chunk,
// and the decode kernel by itself, best of several passes.

import { existsSync, readFileSync } from "node:fs";
import { decodeChunk, encodeChunk, readChunkHeader } from "../src/chunk.js";
import { codeShift, layoutOf } from "../src/dtypes.js";
import { parseSafetensors } from "../src/safetensors.js";
import { core } from "../src/wasm.js";

const DEFAULT = ["../shared/data/cnn/human.bf16.safetensors", "fixtures/stories260K.bf16.safetensors"];
const file = process.argv[2] ?? DEFAULT.find((f) => existsSync(f))!;
const bytes = readFileSync(file);
const parsed = parseSafetensors(bytes);
const first = parsed.tensors.find((t) => t.dtype === "BF16");
if (!first) throw new Error(`${file} has no BF16 tensor`);
const start = first.begin;
const end = parsed.tensors.filter((t) => t.dtype === "BF16").reduce((e, t) => Math.max(e, t.end), start);
const data = bytes.subarray(start, Math.min(end, start + (16 << 20)));
const layout = layoutOf("bf16");
const per = (1 << 20) * 2;
const parts: Uint8Array[] = [];
for (let at = 0; at + per <= data.length; at += per) parts.push(data.subarray(at, at + per));
if (parts.length === 0) parts.push(data.subarray(0, data.length & ~1));
const total = parts.reduce((s, p) => s + p.length, 0);

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
let coded = parts.map((p) => encodeChunk(c, p, layout).bytes);
const enc = best(5, () => {
  coded = parts.map((p) => encodeChunk(c, p, layout).bytes);
});
const out = new Uint8Array(per);
const dec = best(15, () => {
  coded.forEach((chunk, i) => decodeChunk(c, chunk, layout, parts[i]!.length / 2, out.subarray(0, parts[i]!.length)));
});
// The kernel alone: the chunk already in Wasm memory, table built, no checksum or copies.
let kernelMs = 0;
coded.forEach((chunk, i) => {
  const n = parts[i]!.length / 2;
  const h = readChunkHeader(chunk, layout, n);
  c.reset();
  const base = c.put(chunk);
  c.fn.buildDecodeTable(c.put(new Uint8Array(h.tables[0]!.buffer)), h.tables[0]!.length, h.precision, codeShift(layout, h.k), 0);
  const dst = c.alloc(n * 2);
  const states = c.alloc(4 * h.lanes);
  const initial = chunk.subarray(h.statesOffset, h.statesOffset + 4 * h.lanes);
  kernelMs += best(15, () => {
    c.view(states, initial.length).set(initial);
    c.fn.decodeCodes(2, dst, n, codeShift(layout, h.k), 1, h.precision, h.lanes, 0, 0, 0, states, base + h.payloadOffset, base + h.payloadOffset + h.payloadLength, base + h.rawOffset);
  }).best;
});
const gbps = (ms: number) => (total / ms / 1e6).toFixed(2);
console.log(`${file}: ${parts.length} chunks of ${parts[0]!.length / 2} bf16, ratio ${(total / coded.reduce((s, b) => s + b.length, 0)).toFixed(4)}`);
console.log(`  encode  best ${gbps(enc.best)} GB/s, median ${gbps(enc.median)} GB/s`);
console.log(`  decode  best ${gbps(dec.best)} GB/s, median ${gbps(dec.median)} GB/s (chunk in, decode, checksum, copy out)`);
console.log(`  kernel  best ${gbps(kernelMs)} GB/s (rANS decode and merge only)`);
