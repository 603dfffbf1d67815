// npm run bench:scaling [-- FILE] [--rounds N]: the sync API against the
// async API at 1 and 2 threads, in one process, on a whole file (many small
// tensors) and on one large tensor (up to 16 MiB of the file's bf16
// weights). Every variant runs once per round, interleaved and in rotating
// order, so that load from other processes falls on all of them alike; each is checked
// byte-identical before it is timed. Reports best and median MB/s of
// original data and the speedups the thread targets are stated in, and
// last the ceiling two threads could reach at all (ceiling.ts).

import { existsSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { compress, compressAsync, decode, decodeAsync, decompress, decompressAsync, encode, encodeAsync } from "../src/index.js";
import { ceiling } from "./ceiling.js";
import { readLayout } from "./safetensors.js";
import { quantile } from "./timing.js";

const DEFAULT = ["../shared/data/cnn/human.bf16.safetensors", "fixtures/stories260K.bf16.safetensors"];
const args = process.argv.slice(2);
const roundsAt = args.indexOf("--rounds");
const rounds = roundsAt >= 0 ? Number(args.splice(roundsAt, 2)[1]) : 9;
const file = args[0] ?? DEFAULT.find((f) => existsSync(f))!;

const bytes = new Uint8Array(readFileSync(file));
const bf16 = readLayout(bytes).tensors.filter((t) => t.dtype === "BF16");
if (bf16.length === 0) throw new Error(`${file} has no BF16 tensor`);
// Consecutive bf16 tensors from the first, as one tensor of up to 16 MiB.
let end = bf16[0]!.begin;
for (const t of bf16) if (t.begin === end) end = Math.min(t.end, bf16[0]!.begin + (16 << 20));
const tensor = bytes.slice(bf16[0]!.begin, end);

type Run = () => unknown;
interface Variant {
  name: string;
  run: Run;
}

interface Workload {
  label: string;
  bytes: number;
  variants: Variant[];
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

async function check(label: string, expected: Uint8Array, results: [string, Uint8Array | Promise<Uint8Array>][]): Promise<void> {
  for (const [name, result] of results) {
    if (!same(await result, expected)) throw new Error(`${label}: ${name} differs from the expected bytes`);
  }
}

const packed = compress(bytes);
const tensorPacked = encode(tensor, { dtype: "bf16" });
await check("compress", packed, [["async T=1", compressAsync(bytes, { threads: 1 })], ["async T=2", compressAsync(bytes, { threads: 2 })]]);
await check("decompress", bytes, [["sync", decompress(packed)], ["async T=1", decompressAsync(packed, { threads: 1 })], ["async T=2", decompressAsync(packed, { threads: 2 })]]);
await check("encode", tensorPacked, [["async T=1", encodeAsync(tensor, { dtype: "bf16", threads: 1 })], ["async T=2", encodeAsync(tensor, { dtype: "bf16", threads: 2 })]]);
await check("decode", tensor, [["sync", decode(tensorPacked)], ["async T=1", decodeAsync(tensorPacked, { threads: 1 })], ["async T=2", decodeAsync(tensorPacked, { threads: 2 })]]);

const plainOut = new Uint8Array(tensor.length);
const sharedOut = new Uint8Array(new SharedArrayBuffer(tensor.length));
const plainFileOut = new Uint8Array(bytes.length);
const sharedFileOut = new Uint8Array(new SharedArrayBuffer(bytes.length));
const workloads: Workload[] = [
  {
    label: "file compress", bytes: bytes.length, variants: [
      { name: "sync", run: () => compress(bytes) },
      { name: "async T=1", run: () => compressAsync(bytes, { threads: 1 }) },
      { name: "async T=2", run: () => compressAsync(bytes, { threads: 2 }) },
    ],
  },
  {
    label: "file decompress", bytes: bytes.length, variants: [
      { name: "sync", run: () => decompress(packed) },
      { name: "async T=1", run: () => decompressAsync(packed, { threads: 1 }) },
      { name: "async T=2", run: () => decompressAsync(packed, { threads: 2 }) },
    ],
  },
  {
    // Fresh output memory faults a page at a time on first touch (about as dear as decoding here): the codec alone.
    label: "file decompress into a caller's buffer", bytes: bytes.length, variants: [
      { name: "sync", run: () => decompress(packed, { out: plainFileOut }) },
      { name: "async T=1", run: () => decompressAsync(packed, { threads: 1, out: plainFileOut }) },
      { name: "async T=2 (shared out)", run: () => decompressAsync(packed, { threads: 2, out: sharedFileOut }) },
    ],
  },
  {
    label: "tensor encode", bytes: tensor.length, variants: [
      { name: "sync", run: () => encode(tensor, { dtype: "bf16" }) },
      { name: "async T=1", run: () => encodeAsync(tensor, { dtype: "bf16", threads: 1 }) },
      { name: "async T=2", run: () => encodeAsync(tensor, { dtype: "bf16", threads: 2 }) },
    ],
  },
  {
    label: "tensor decode", bytes: tensor.length, variants: [
      { name: "sync", run: () => decode(tensorPacked) },
      { name: "async T=1", run: () => decodeAsync(tensorPacked, { threads: 1 }) },
      { name: "async T=2", run: () => decodeAsync(tensorPacked, { threads: 2 }) },
    ],
  },
  {
    // Without fresh memory per call: the codec alone, apart from page faults and the collector's timing.
    label: "tensor decode into a caller's buffer", bytes: tensor.length, variants: [
      { name: "sync", run: () => decode(tensorPacked, { out: plainOut }) },
      { name: "async T=1", run: () => decodeAsync(tensorPacked, { threads: 1, out: plainOut }) },
      { name: "async T=2 (shared out)", run: () => decodeAsync(tensorPacked, { threads: 2, out: sharedOut }) },
    ],
  },
];

const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`${file}: ${bytes.length} bytes, ${(bytes.length / packed.length).toFixed(4)}x; tensor: ${tensor.length} bytes of bf16`);
console.log(`${rounds} interleaved rounds after one warm-up; load average before: ${load()}`);
const mb = (n: number, ms: number) => n / 1e3 / ms;
for (const w of workloads) {
  const times = w.variants.map(() => [] as number[]);
  const cpu = w.variants.map(() => [] as number[]);
  for (let round = -1; round < rounds; round++) {
    // Each round starts with another variant, so that none always pays for the garbage of the one before.
    for (let j = 0; j < w.variants.length; j++) {
      const i = (j + Math.max(round, 0)) % w.variants.length;
      const v = w.variants[i]!;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await v.run();
      const wall = performance.now() - t0;
      const used = process.cpuUsage(c0);
      if (round >= 0) {
        times[i]!.push(wall);
        cpu[i]!.push((used.user + used.system) / 1e3);
      }
    }
  }
  const stats = times.map((t, i) => {
    const sorted = t.sort((a, b) => a - b);
    return { best: mb(w.bytes, sorted[0]!), median: mb(w.bytes, quantile(sorted, 0.5)), cpu: quantile(cpu[i]!.sort((a, b) => a - b), 0.5) };
  });
  // CPU time of all threads together does not depend much on other
  // processes' load: with T threads on T idle cores the wall time would
  // approach cpu / T, so it shows what a quiet machine would give.
  console.log(`\n${w.label} (MB/s)            best   median   cpu ms (median, all threads)`);
  w.variants.forEach((v, i) => console.log(`  ${v.name.padEnd(24)}${stats[i]!.best.toFixed(0).padStart(7)}${stats[i]!.median.toFixed(0).padStart(9)}${stats[i]!.cpu.toFixed(1).padStart(11)}`));
  console.log(`  cpu T=2 / cpu T=1       ${(stats[2]!.cpu / stats[1]!.cpu).toFixed(2)}x`);
  const ratio = (a: number, b: number) => `${(stats[a]!.best / stats[b]!.best).toFixed(2)}x best, ${(stats[a]!.median / stats[b]!.median).toFixed(2)}x median`;
  console.log(`  async T=1 / sync        ${ratio(1, 0)}`);
  console.log(`  async T=2 / async T=1   ${ratio(2, 1)}`);
  console.log(`  async T=2 / sync        ${ratio(2, 0)}`);
}
const ceilings = [
  { op: "decode", what: "tensor decode", input: tensor },
  { op: "encode", what: "tensor encode", input: tensor },
  { op: "compress", what: "file compress", input: bytes },
] as const;
for (const { op, what, input } of ceilings) {
  const { one, two } = await ceiling(op, input);
  console.log(`\nceiling: sync ${what} loops sharing nothing, 1 thread ${one.toFixed(0)} MB/s, 2 threads ${two.toFixed(0)} MB/s in all: ${(two / one).toFixed(2)}x`);
}
console.log(`\nload average after: ${load()}`);
