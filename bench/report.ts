// Results on disk: one JSON per weight file, its charts, and a README that
// is rebuilt from every JSON in the results folder, so benchmarking one file
// refreshes its section and keeps the others.

import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { cpus, loadavg, totalmem } from "node:os";
import type { CodecKind } from "./codecs.js";
import { overheadPercent, type ExponentBound, type PairBound } from "./entropy.js";
import { lineChart, scatterChart } from "./svg.js";
import type { ThreadScaling } from "./threads.js";
import type { Throughput, TimingPlan } from "./timing.js";
import type { PeakMemory } from "./verify.js";

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
}

export interface CodecResult {
  name: string;
  kind: CodecKind;
  status: "ok" | "failed" | "unavailable" | "skipped";
  /** Why the codec is not "ok". */
  reason?: string;
  implementation?: string;
  compressedBytes?: number;
  ratio?: number;
  bitsPerWeight?: number;
  compress?: Throughput;
  decompress?: Throughput;
  memory?: PeakMemory;
  /** Set when this row was measured later than its file's run, by `--only`. */
  remeasured?: { date: string; loadAverage: number; cpu: string };
}

export interface FileResult {
  /** The path as benchmarked, relative to the repository root when given so. */
  file: string;
  bytes: number;
  tensors: number;
  /** Elements of the float tensors (BF16, F16, F32): the denominator of bits/weight. */
  weights: number;
  dtypes: string[];
  bound: ExponentBound & { bitsPerWeight: number };
  /** Entropy of the coding pairs ansfloat chose (absent when ansfloat could not be loaded). */
  pairBound?: PairBound & { bitsPerWeight: number };
  date: string;
  machine: Machine;
  /** 1-minute load average when the file's run began: other work on the machine skews timings. */
  loadAverage: number;
  quick: boolean;
  plan: TimingPlan;
  codecs: CodecResult[];
  /** Null when ansfloat itself could not be loaded. */
  threads: ThreadScaling | null;
}

/** The 1-minute load average, to record beside timings. */
export function currentLoad(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}

export function machine(): Machine {
  const cores = cpus();
  return {
    cpu: cores[0]?.model.trim() ?? "unknown",
    cores: cores.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** "stories260K.bf16" for ".../stories260K.bf16.safetensors": the stem of every output file. */
export function resultName(file: string): string {
  return basename(file).replace(/\.safetensors$/, "");
}

const chartNames = (name: string) => ({ ratio: `${name}.ratio-vs-decode.svg`, threads: `${name}.threads.svg` });

/** Writes `<name>.json` and its charts. */
export function writeFileResult(dir: string, result: FileResult): void {
  writeFileSync(join(dir, `${resultName(result.file)}.json`), JSON.stringify(result, null, 2) + "\n");
  writeCharts(dir, result);
}

/** Draws a file's charts; removes a chart that no longer has data. */
export function writeCharts(dir: string, result: FileResult): void {
  const charts = chartNames(resultName(result.file));
  const plotted = result.codecs.filter((c) => c.status === "ok" && c.kind !== "baseline");
  if (plotted.length > 0) {
    const svg = scatterChart({
      title: `${basename(result.file)}: ratio against decode speed`,
      xLabel: "decompress MB/s (median, log scale)",
      yLabel: "compression ratio",
      points: plotted.map((c) => ({ label: c.name, x: c.decompress!.median, y: c.ratio!, highlight: c.name === "ansfloat" })),
      guide: { y: result.bound.ratio, label: `ideal exponent-only bound ${result.bound.ratio.toFixed(3)}` },
    });
    writeFileSync(join(dir, charts.ratio), svg);
  } else {
    rmSync(join(dir, charts.ratio), { force: true });
  }
  const threads = result.threads;
  if (threads && "points" in threads && threads.points.length > 0) {
    const series = (["compress", "decompress"] as const).map((phase) => ({
      label: `ansfloat ${phase}Async`,
      points: threads.points.map((p) => ({ x: p.threads, y: p[phase].median })),
    }));
    writeFileSync(join(dir, charts.threads), lineChart({ title: `${basename(result.file)}: ansfloat throughput against threads`, xLabel: "threads", yLabel: "MB/s (median)", series }));
  } else {
    rmSync(join(dir, charts.threads), { force: true });
  }
}

export function readFileResults(dir: string): FileResult[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as FileResult)
    .sort((a, b) => a.bytes - b.bytes || a.file.localeCompare(b.file));
}

const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
const mbps = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const mib = (kib: number | null): string => (kib === null ? "n/a" : (kib / 1024).toFixed(1));
const count = (n: number): string => n.toLocaleString("en-US");

function statusText(c: CodecResult): string {
  return `${c.status}${c.reason ? `: ${c.reason}` : ""}`;
}

function throughputText(t: Throughput): string {
  return `${mbps(t.median)} (${mbps(t.p25)}–${mbps(t.p75)})`;
}

function ratioTable(results: FileResult[]): string[] {
  const lines = [
    `| codec | ${results.map((r) => resultName(r.file)).join(" | ")} |`,
    `|---|${results.map(() => "---:").join("|")}|`,
    `| *ideal exponent-only bound* | ${results.map((r) => `*${r.bound.ratio.toFixed(3)}*`).join(" | ")} |`,
    `| *entropy of ansfloat's coding pairs* | ${results.map((r) => (r.pairBound ? `*${r.pairBound.ratio.toFixed(3)}*` : "")).join(" | ")} |`,
  ];
  const names = [...new Set(results.flatMap((r) => r.codecs.filter((c) => c.kind !== "baseline").map((c) => c.name)))];
  const best = results.map((r) => Math.max(...r.codecs.filter((c) => c.status === "ok").map((c) => c.ratio!)));
  for (const name of names) {
    const cells = results.map((r, i) => {
      const c = r.codecs.find((x) => x.name === name);
      if (!c) return "";
      if (c.status !== "ok") return c.status;
      return c.ratio === best[i] ? `**${c.ratio!.toFixed(3)}**` : c.ratio!.toFixed(3);
    });
    lines.push(`| ${cell(name)} | ${cells.join(" | ")} |`);
  }
  return lines;
}

/** A line per row measured later by `--only`, then a blank line; nothing when there is none. */
function remeasuredLines(r: FileResult): string[] {
  const rows = r.codecs.filter((c) => c.remeasured);
  const when = (c: CodecResult) =>
    `${c.remeasured!.date.slice(0, 16).replace("T", " ")} UTC on ${c.remeasured!.cpu}, load average ${c.remeasured!.loadAverage} at the start` +
    (c.remeasured!.cpu === r.machine.cpu ? "" : ": another machine than the other rows, so compare its speeds with them with care");
  return rows.length ? [...rows.map((c) => `Row ${c.name} re-measured alone (\`--only\`) ${when(c)}.`), ""] : [];
}

/** ansfloat's chunks against the entropy of their coding pairs: all, those with one table, those with channel contexts. */
export function overheadText(p: PairBound): string {
  const { chunks, contexts } = p;
  const pct = (bytes: number, bits: number) => `${overheadPercent(bytes, bits).toFixed(3)}%`;
  const sideOf = (percent: number) => `${Math.abs(percent).toFixed(3)}% ${percent < 0 ? "below" : "above"}`;
  const orderZero = `${pct(chunks.bytes - contexts.bytes, chunks.bits - contexts.bits)} for the chunks with one table`;
  const context = contexts.bytes === 0
    ? "no chunk with channel contexts"
    : `${pct(contexts.bytes, contexts.bits)} for the ${count(contexts.bytes)} bytes of chunks with channel contexts, which lie ` +
      `${sideOf(overheadPercent(contexts.bytes, contexts.orderZeroBits))} the order-0 entropy of their coding pairs`;
  return `ansfloat's chunks of the float tensors take ${count(chunks.bytes)} bytes, ${pct(chunks.bytes, chunks.bits)} over that entropy: ${orderZero}, ${context}.`;
}

function fileSection(r: FileResult): string[] {
  const name = resultName(r.file);
  const charts = chartNames(name);
  const m = r.machine;
  const lines = [
    `## ${basename(r.file)}`,
    "",
    `\`${r.file}\`: ${count(r.bytes)} bytes, ${r.tensors} tensors, ${count(r.weights)} float weights (${r.dtypes.join(", ")}). ` +
      `Ideal exponent-only bound: ratio ${r.bound.ratio.toFixed(3)}, ${r.bound.bitsPerWeight.toFixed(2)} bits/weight.` +
      (r.pairBound ? ` Entropy of the coding pairs ansfloat chose: ratio ${r.pairBound.ratio.toFixed(3)}, ${r.pairBound.bitsPerWeight.toFixed(2)} bits/weight. ${overheadText(r.pairBound)}` : ""),
    "",
    `Measured ${r.date.slice(0, 16).replace("T", " ")} UTC on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB, load average ${r.loadAverage} at the start), Node ${m.node}, ${m.platform}; ` +
      `${r.quick ? "quick run (`--quick`)" : "full run"}: at least ${r.plan.minSamples} timed samples per direction within a ${r.plan.budgetMs} ms budget.`,
    "",
    ...remeasuredLines(r),
    "| codec | ratio | bits/weight | compress MB/s, median (p25–p75) | decompress MB/s, median (p25–p75) | peak memory compress / decompress, MiB | samples c/d |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const c of r.codecs) {
    if (c.status !== "ok") {
      lines.push(`| ${cell(c.name)} | ${cell(statusText(c))} | | | | | |`);
      continue;
    }
    const memory = `${mib(c.memory!.compressKiB)} / ${mib(c.memory!.decompressKiB)}`;
    lines.push(
      `| ${cell(c.name)} | ${c.ratio!.toFixed(3)} | ${c.bitsPerWeight!.toFixed(2)} | ${throughputText(c.compress!)} | ${throughputText(c.decompress!)} | ${memory} | ${c.compress!.samples}/${c.decompress!.samples} |`,
    );
  }
  lines.push("");
  if (r.codecs.some((c) => c.status === "ok" && c.kind !== "baseline")) lines.push(`![ratio against decompress speed for ${name}](${charts.ratio})`, "");
  const t = r.threads;
  if (t && "points" in t && t.points.length > 0) {
    lines.push(`![ansfloat throughput against threads for ${name}](${charts.threads})`, "");
    lines.push("| threads | compressAsync MB/s | decompressAsync MB/s |", "|---:|---:|---:|");
    for (const p of t.points) lines.push(`| ${p.threads} | ${throughputText(p.compress)} | ${throughputText(p.decompress)} |`);
    lines.push("");
  } else {
    const why = t === null ? "ansfloat did not pass in this run" : "points" in t ? "no data" : "unavailable" in t ? t.unavailable : `failed: ${t.failed}`;
    lines.push(`Thread scaling: not measured (${cell(why)}).`, "");
  }
  return lines;
}

function implementations(results: FileResult[]): string[] {
  const seen = new Map<string, string>();
  for (const r of results) for (const c of r.codecs) if (c.implementation) seen.set(c.name, c.implementation);
  return [...seen].map(([name, impl]) => `- **${name}**: ${impl}`);
}

const METHOD = `## How these numbers are made

- **Same bytes, verified first.** Every codec compresses the same file bytes. Before any of its
  numbers count, one untimed round trip must give back the input byte for byte; a codec that
  throws or differs is listed as *failed*, one that cannot run here as *unavailable* (a missing
  tool says "not found"), one left out by \`--quick\` as *skipped*. The timed compress output is
  checked against the verified one and the timed decompress output against the input.
- **Ratio** is original size / compressed size of the whole file (header included).
  **Bits/weight** is compressed bits / number of elements in the file's float tensors.
- **Ideal exponent-only bound**: each float tensor's exponent field coded at its order-0
  entropy with a free model, sign and mantissa stored raw, header and every other byte raw.
  A codec that models only exponents cannot beat it; one that also models mantissa bits, or an
  LZ/BWT coder exploiting repeats, can.
- **Entropy of ansfloat's coding pairs**: the same, but per chunk with the codes ansfloat chose
  (exponent plus k top mantissa bits) at their order-0 entropy, per group of channels in a chunk
  with channel contexts; ansfloat's distance from it is its own overhead (models, lane states,
  headers, rounding of frequencies). Each section splits that distance, over the tensors' chunks
  alone, between chunks with one table and chunks with channel contexts: a context's extra
  tables each pay for their own description, so those chunks sit further above their per-group
  entropy, and below the order-0 entropy of the same coding pairs, which one table would code.
- **Throughput** is MB/s (10^6 bytes/s) of the *original* size in both directions, timed with
  tinybench: a warm-up for calls under a second (longer calls gain nothing from JIT warm-up),
  then at least the stated number of samples and more while the budget lasts. The table shows
  the median and the interquartile range. Everything runs on one thread (\`-T1\` for zstd and xz).
- **Noise**: each section gives the 1-minute load average when its file's run began; about 1 is
  the bench itself, more means other work shared the cores and the timings are less certain.
- **Command-line tools** (zstd, bzip2, xz) are the system binaries fed through pipes by
  \`spawnSync\`, so their times include process start and copying through the pipes; the
  \`cat (pipe baseline)\` row is that overhead alone, an upper bound on any tool's speed here.
  zstd has no in-process binding in Node 20 (node:zlib gained zstd in Node 22.15/23.8) and
  native npm modules that download prebuilt binaries cannot be installed here.
- **ansfloat CLI** is this package's command line run the same way (\`node dist/src/cli.js -c -T1 -\`
  and \`-d\`): a fresh process per call, so beside process start it pays what the in-process
  \`ansfloat\` row has paid before it is timed: loading the module, compiling the Wasm and the
  JIT's warm-up of its JavaScript on this one input.
- **Peak memory**: for command-line tools, the max RSS of the tool's own process from
  \`/usr/bin/time -f %M\`; for in-process codecs, how far a fresh node process's peak RSS rises
  during the one call above its RSS just before it, with the input loaded and garbage collected
  (Linux \`VmHWM\` after resetting it through \`/proc/self/clear_refs\`). So the output buffer and any
  Wasm memory count and the input does not. The zipnn-style codec with zstd counts only its node
  side. Each codec's JSON entry says which method applied.
- **zipnn-style** is bench/zipnn.ts, after ZipNN (arXiv 2411.05239): each float rotated left one
  bit so the exponent fills one byte, bytes grouped into planes per dtype, each plane given to
  the backend and kept raw unless that makes it smaller; header raw. It shows the ratio of
  ZipNN's approach; its speed is that of this TypeScript port, not of ZipNN's C.
- **brotli** runs in node:zlib with a size hint; q11 uses lgwin 24, the largest standard window.
`;

export function renderReadme(results: FileResult[]): string {
  const lines = [
    "# Benchmark results",
    "",
    "Generated by `npm run bench` (bench/run.ts) from the JSON files in this folder; do not edit by hand.",
    "Each file's section says when, where and how it was measured.",
    "",
    "## Compression ratio (original / compressed)",
    "",
    "Best per file in bold.",
    "",
    ...ratioTable(results),
    "",
    ...results.flatMap(fileSection),
    METHOD,
    "### Implementations",
    "",
    ...implementations(results),
    "",
  ];
  return lines.join("\n");
}

export function writeReadme(dir: string): void {
  writeFileSync(join(dir, "README.md"), renderReadme(readFileResults(dir)));
}
