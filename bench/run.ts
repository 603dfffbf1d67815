// npm run bench [-- [--quick] [--only=NAME,...] FILE...]
//   --only re-measures just the named codecs (e.g. --only=ansfloat after a
//   codec change) and keeps the other rows of the saved results.
// npm run bench -- --report-only    (redraw charts and README from the JSON)
// npm run bench -- --bounds         (recompute the deterministic bounds of saved results, keep their timings)
//
// Benchmarks every codec on each weight file: the fixture, plus the shared
// corpus when ../shared/data is present. Paths resolve from the current
// directory, which npm sets to the repository root. Writes
// bench/results/<name>.json, charts, and bench/results/README.md.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allCodecs, loadAnsfloat, type Codec } from "./codecs.js";
import { ansfloatPairBound } from "./pair-bound.js";
import { exponentBound } from "./entropy.js";
import { currentLoad, machine, overheadText, readFileResults, resultName, writeCharts, writeFileResult, writeReadme, type CodecResult, type FileResult } from "./report.js";
import { countWeights, readLayout } from "./safetensors.js";
import { measureThreads } from "./threads.js";
import { measure, type TimingPlan } from "./timing.js";
import { sameBytes, verifyRoundTrip } from "./verify.js";

const RESULTS = "bench/results";
const FIXTURE = "fixtures/stories260K.bf16.safetensors";
const SHARED = "../shared/data";
const SHARED_FILES = [
  "ocr/ppocrv4_rec.bf16.safetensors",
  "cnn/human.bf16.safetensors",
  "cnn/human.fp16.safetensors",
  "llm/stories260K.f32.safetensors",
  "ocr/ppocrv4_rec.f32.safetensors",
];
const FULL: TimingPlan = { minSamples: 3, budgetMs: 3000 };
const QUICK: TimingPlan = { minSamples: 2, budgetMs: 300 };
/** With --quick, slow codecs are skipped on files above this size (brotli q11 alone takes minutes on the CNN corpus). */
const QUICK_SLOW_LIMIT = 16e6;
/** Calls longer than this are timed without a warm-up (see timing.ts). */
const WARM_UP_BELOW_MS = 1000;

const OPTIONS = ["--quick", "--report-only", "--bounds"];

interface Args {
  quick: boolean;
  reportOnly: boolean;
  bounds: boolean;
  /** Codecs to re-measure, keeping the saved rows of the others; undefined for all. */
  only: string[] | undefined;
  files: string[];
}

function parseArgs(argv: string[]): Args {
  const onlyArg = argv.find((a) => a.startsWith("--only="));
  const unknown = argv.filter((a) => a.startsWith("--") && !OPTIONS.includes(a) && a !== onlyArg);
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(" ")}; usage: npm run bench -- [--quick] [--only=NAME,...] [FILE...] | --report-only | --bounds`);
  const only = onlyArg?.slice("--only=".length).split(",").filter(Boolean);
  const known = allCodecs().map((c) => c.name);
  const strangers = only?.filter((name) => !known.includes(name)) ?? [];
  if (strangers.length > 0) throw new Error(`--only names unknown codecs ${strangers.join(", ")}; known: ${known.join(", ")}`);
  const args = { quick: argv.includes("--quick"), reportOnly: argv.includes("--report-only"), bounds: argv.includes("--bounds"), only };
  const files = argv.filter((a) => !a.startsWith("--"));
  if (files.length > 0 || args.reportOnly || args.bounds) return { ...args, files };
  if (!existsSync(SHARED)) {
    console.log(`${SHARED} not found: benchmarking the fixture only.`);
    return { ...args, files: [FIXTURE] };
  }
  const shared = SHARED_FILES.map((f) => join(SHARED, f)).filter((f) => existsSync(f) || (console.log(`${f} not found: skipped.`), false));
  return { ...args, files: [FIXTURE, ...shared] };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function benchCodec(codec: Codec, input: Uint8Array, weights: number, plan: TimingPlan, quick: boolean, scratch: string): Promise<CodecResult> {
  const base = { name: codec.name, kind: codec.kind };
  const availability = await codec.probe();
  if ("unavailable" in availability) return { ...base, status: "unavailable", reason: availability.unavailable };
  const implementation = availability.implementation;
  if (quick && codec.slow && input.length > QUICK_SLOW_LIMIT) {
    return { ...base, implementation, status: "skipped", reason: `--quick skips slow codecs on files over ${QUICK_SLOW_LIMIT / 1e6} MB` };
  }
  try {
    const verified = verifyRoundTrip(codec, input, scratch);
    let compressed: Uint8Array = verified.packed;
    let restored: Uint8Array = input;
    const compress = await measure(() => (compressed = codec.compress(input)), input.length, plan, verified.compressMs < WARM_UP_BELOW_MS);
    const decompress = await measure(() => (restored = codec.decompress(verified.packed)), input.length, plan, verified.decompressMs < WARM_UP_BELOW_MS);
    if (!sameBytes(compressed, verified.packed)) throw new Error("timed compress output differs from the verified one");
    if (!sameBytes(restored, input)) throw new Error("timed decompress output differs from the input");
    const size = verified.packed.length;
    return {
      ...base,
      implementation,
      status: "ok",
      compressedBytes: size,
      ratio: input.length / size,
      bitsPerWeight: (size * 8) / weights,
      compress,
      decompress,
      memory: verified.memory,
    };
  } catch (error) {
    return { ...base, implementation, status: "failed", reason: message(error) };
  }
}

function progressLine(c: CodecResult): string {
  const name = c.name.padEnd(26);
  if (c.status !== "ok") return `  ${name} ${c.status}${c.reason ? `: ${c.reason}` : ""}`;
  const mem = (kib: number | null): string => (kib === null ? "n/a" : (kib / 1024).toFixed(1));
  return (
    `  ${name} ratio ${c.ratio!.toFixed(3)}  ${c.bitsPerWeight!.toFixed(2).padStart(5)} b/w` +
    `  compress ${c.compress!.median.toFixed(1).padStart(7)} MB/s  decompress ${c.decompress!.median.toFixed(1).padStart(7)} MB/s` +
    `  peak ${mem(c.memory!.compressKiB)} / ${mem(c.memory!.decompressKiB)} MiB`
  );
}

/** Recomputes the deterministic bounds of saved results, keeping their timings. */
async function refreshBounds(): Promise<void> {
  for (const result of readFileResults(RESULTS)) {
    const input = readFileSync(result.file);
    const layout = readLayout(input);
    const pairs = await ansfloatPairBound(input, layout);
    result.pairBound = { ...pairs, bitsPerWeight: pairs.bits / result.weights };
    writeFileResult(RESULTS, result);
    console.log(`${result.file}: entropy of ansfloat's coding pairs: ratio ${pairs.ratio.toFixed(3)}. ${overheadText(pairs)}`);
  }
  writeReadme(RESULTS);
}

async function benchFile(file: string, quick: boolean, only: string[] | undefined, scratch: string): Promise<FileResult> {
  const loadAverage = currentLoad();
  const input = readFileSync(file);
  const layout = readLayout(input);
  const weights = countWeights(layout);
  if (weights === 0) throw new Error(`${file} holds no BF16, F16 or F32 tensor: nothing to benchmark`);
  const bound = exponentBound(input, layout);
  const plan = quick ? QUICK : FULL;
  console.log(`\n${file}: ${input.length} bytes, ${weights} float weights; ideal exponent-only ratio ${bound.ratio.toFixed(3)}; load average ${loadAverage}`);
  // With --only, the other codecs keep their rows from the saved results.
  const saved = only ? readFileResults(RESULTS).find((r) => r.file === file) : undefined;
  if (only && !saved) throw new Error(`--only needs saved results for ${file}: run the full bench on it first`);
  const codecs: CodecResult[] = [];
  for (const codec of allCodecs()) {
    const kept = saved && !only!.includes(codec.name) ? saved.codecs.find((c) => c.name === codec.name) : undefined;
    if (kept) {
      codecs.push(kept);
      continue;
    }
    const result = await benchCodec(codec, input, weights, plan, quick, scratch);
    console.log(progressLine(result));
    codecs.push(saved ? { ...result, remeasured: { date: new Date().toISOString(), loadAverage, cpu: machine().cpu } } : result);
  }
  const ansfloatOk = codecs.some((c) => c.name === "ansfloat" && c.status === "ok");
  const pairs = ansfloatOk ? await ansfloatPairBound(input, layout) : undefined;
  if (pairs) console.log(`  entropy of ansfloat's coding pairs: ratio ${pairs.ratio.toFixed(3)}. ${overheadText(pairs)}`);
  const threads = saved && !only!.includes("ansfloat") ? saved.threads : ansfloatOk ? await measureThreads(await loadAnsfloat(), input, plan) : null;
  if (threads) console.log(`  threads: ${"points" in threads ? `${threads.points.length} thread counts measured` : JSON.stringify(threads)}`);
  return {
    ...(saved
      ? { date: saved.date, loadAverage: saved.loadAverage, quick: saved.quick, plan: saved.plan, machine: saved.machine }
      : { date: new Date().toISOString(), loadAverage, quick, plan, machine: machine() }),
    file,
    bytes: input.length,
    tensors: layout.tensors.length,
    weights,
    dtypes: [...new Set(layout.tensors.map((t) => t.dtype))],
    bound: { ...bound, bitsPerWeight: bound.bits / weights },
    ...(pairs ? { pairBound: { ...pairs, bitsPerWeight: pairs.bits / weights } } : {}),
    codecs,
    threads,
  };
}

async function main(): Promise<void> {
  const { quick, reportOnly, bounds, only, files } = parseArgs(process.argv.slice(2));
  mkdirSync(RESULTS, { recursive: true });
  if (bounds) {
    await refreshBounds();
    return;
  }
  if (reportOnly) {
    for (const result of readFileResults(RESULTS)) writeCharts(RESULTS, result);
    writeReadme(RESULTS);
    console.log(`redrew the charts and ${RESULTS}/README.md from the JSON results`);
    return;
  }
  const scratch = mkdtempSync(join(tmpdir(), "ansfloat-bench-"));
  try {
    for (const file of files) {
      writeFileResult(RESULTS, await benchFile(file, quick, only, scratch));
      writeReadme(RESULTS);
      console.log(`  wrote ${join(RESULTS, resultName(file))}.json and ${RESULTS}/README.md`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
