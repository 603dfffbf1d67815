// `ansfloat hw-sim` and `ansfloat hw-vectors`, wired in by src/cli.ts.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseCommandLine } from "../arguments.js";
import { AnsfError, errorLine } from "../errors.js";
import { DEFAULTS, type SystemConfig, type TableOrg } from "./config.js";
import { FACTORY_DEFAULTS, tokenFactory, type FactoryParams, type FactoryReport } from "./token-factory.js";
import { verifyStream, type HwReport } from "./verify.js";
import { stopReference } from "./wasm-side.js";
import { writeVectors } from "./vectors.js";

export const HW_HELP = `Usage:
  ansfloat hw-sim FILE.ansf [OPTIONS]        decode every chunk through the hardware model and
                                             compare every word with the Wasm decoder
  ansfloat hw-vectors FILE.ansf OUTDIR [OPTIONS]
                                             write $readmemh test vectors for an RTL test bench
  ansfloat hw-sim --token-factory [FACTORY OPTIONS]
                                             engines sharing one compressed weight stream

Model options:
  --cores N            decoder cores, each on its own chunk (1)
  --depth D            pipeline stages in a lane's loop (4; at least 3, 4 with --table split)
  --table ORG          slot (one 2^P-entry table) or split (slot->code, code->freq/start) (slot)
  --bus-bytes B        input port bytes per clock per core (4)
  --mhz F              clock for the throughput figures (400)
  --latency L          memory read latency, clocks (32)
  --mem-gbs G          memory bandwidth shared by all cores, GB/s (unlimited)
  --fifo-bytes F       bytes per input FIFO, a power of two (from bus and latency)
  --out-bytes O        output port bytes per clock (one element per clock)
  --out-fifo Q         output FIFO depth, words (4)
  --table-buffers T    1, or 2 to fill the next chunk's table during this one (2)
  --sample N           verify only N rANS chunks spread over the stream
  --json               print the report as JSON

Token factory options:
  --engines E          inference engines (${FACTORY_DEFAULTS.engines})
  --bandwidth-gbs G    memory bandwidth, GB/s (${FACTORY_DEFAULTS.bandwidthGBs})
  --decoder-gsym S     aggregate decoder throughput, 10^9 weights/s (${FACTORY_DEFAULTS.decoderGsym})
  --params P           weights in the model (${FACTORY_DEFAULTS.params})
  --ratio R            compression ratio (${FACTORY_DEFAULTS.ratio})
  --tokens-per-pass T  tokens per engine per weight pass (${FACTORY_DEFAULTS.tokensPerPass})
  --bytes-per-param B  uncompressed bytes per weight (${FACTORY_DEFAULTS.bytesPerParam})
  --engine-tflops C    compute per engine, 10^12 FLOP/s (unlimited)`;

const OPTIONS = {
  cores: { type: "string" },
  depth: { type: "string" },
  table: { type: "string" },
  "bus-bytes": { type: "string" },
  mhz: { type: "string" },
  latency: { type: "string" },
  "mem-gbs": { type: "string" },
  "fifo-bytes": { type: "string" },
  "out-bytes": { type: "string" },
  "out-fifo": { type: "string" },
  "table-buffers": { type: "string" },
  sample: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  "token-factory": { type: "boolean" },
  engines: { type: "string" },
  "bandwidth-gbs": { type: "string" },
  "decoder-gsym": { type: "string" },
  params: { type: "string" },
  ratio: { type: "string" },
  "tokens-per-pass": { type: "string" },
  "bytes-per-param": { type: "string" },
  "engine-tflops": { type: "string" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

export async function hwMain(command: "hw-sim" | "hw-vectors", argv: string[]): Promise<number> {
  let label: string = command;
  try {
    const { values, positionals } = parseCommandLine({ args: argv, options: OPTIONS, allowPositionals: true });
    if (values.help) {
      process.stdout.write(`${HW_HELP}\n`);
      return 0;
    }
    if (command === "hw-sim" && values["token-factory"]) {
      if (positionals.length > 0) throw new AnsfError("BAD_ARGUMENT", "--token-factory takes no file");
      const report = tokenFactory(factoryParams(values));
      process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : formatFactory(report));
      return 0;
    }
    const want = command === "hw-sim" ? 1 : 2;
    if (positionals.length !== want) {
      throw new AnsfError("BAD_ARGUMENT", command === "hw-sim" ? "expected one FILE.ansf (try --help)" : "expected FILE.ansf and OUTDIR (try --help)");
    }
    const file = positionals[0]!;
    const config = modelConfig(values);
    const sampleCount = optionalInt(values.sample, "--sample", 1);
    label = file;
    const stream = read(file);
    if (command === "hw-vectors") {
      const out = positionals[1]!;
      const { report, directories } = await writeVectors(stream, out, config, sampleCount);
      if (values.json) process.stdout.write(`${JSON.stringify({ file, out, chunks: directories.length, report })}\n`);
      else process.stdout.write(`${file}: wrote test vectors for ${directories.length} chunks to ${out} (model = Wasm on every one)\n`);
      return 0;
    }
    const report = await verifyStream(stream, { config, ...(sampleCount === undefined ? {} : { sample: sampleCount }) });
    process.stdout.write(values.json ? `${JSON.stringify({ file, ...report })}\n` : formatReport(file, report));
    if (!report.bit_exact) {
      process.stderr.write(`ansfloat: ${file}: ${failureLine(report)}\n`);
      return 1;
    }
    return 0;
  } catch (err) {
    process.stderr.write(errorLine(err, label));
    return 1;
  } finally {
    await stopReference();
  }
}

function read(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new AnsfError("IO_ERROR", (err as Error).message.replace(/^[A-Z]+: /, ""), { cause: err });
  }
}

function number(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new AnsfError("BAD_ARGUMENT", `${name} expects a number, got "${v}"`);
  return n;
}

function optionalInt(v: string | undefined, name: string, min: number): number | undefined {
  const n = number(v, name);
  if (n !== undefined && (!Number.isInteger(n) || n < min)) throw new AnsfError("BAD_ARGUMENT", `${name} expects an integer ≥ ${min}, got "${v}"`);
  return n;
}

function modelConfig(v: Values): Partial<SystemConfig> {
  const mhz = number(v.mhz, "--mhz");
  const gbs = number(v["mem-gbs"], "--mem-gbs");
  const table = v.table;
  if (table !== undefined && table !== "slot" && table !== "split") throw new AnsfError("BAD_ARGUMENT", `--table expects slot or split, got "${table}"`);
  const buffers = optionalInt(v["table-buffers"], "--table-buffers", 1);
  if (buffers !== undefined && buffers > 2) throw new AnsfError("BAD_ARGUMENT", `--table-buffers expects 1 or 2, got ${buffers}`);
  if (gbs !== undefined && !(gbs > 0)) throw new AnsfError("BAD_ARGUMENT", `--mem-gbs expects a positive number, got ${gbs}`);
  const clock = mhz ?? DEFAULTS.mhz;
  return {
    cores: optionalInt(v.cores, "--cores", 1),
    depth: optionalInt(v.depth, "--depth", 1),
    table: table as TableOrg | undefined,
    busBytes: optionalInt(v["bus-bytes"], "--bus-bytes", 1),
    mhz,
    memLatency: optionalInt(v.latency, "--latency", 1),
    // GB/s at F MHz: 10^9 / (F · 10^6) = 1000 / F bytes per clock per GB/s.
    memBytesPerCycle: gbs === undefined ? undefined : (gbs * 1000) / clock,
    fifoBytes: optionalInt(v["fifo-bytes"], "--fifo-bytes", 4),
    outBytes: optionalInt(v["out-bytes"], "--out-bytes", 1),
    outFifo: optionalInt(v["out-fifo"], "--out-fifo", 1),
    tableBuffers: buffers as 1 | 2 | undefined,
  } as Partial<SystemConfig>;
}

function factoryParams(v: Values): Partial<FactoryParams> {
  return {
    engines: number(v.engines, "--engines"),
    bandwidthGBs: number(v["bandwidth-gbs"], "--bandwidth-gbs"),
    decoderGsym: number(v["decoder-gsym"], "--decoder-gsym"),
    params: number(v.params, "--params"),
    ratio: number(v.ratio, "--ratio"),
    tokensPerPass: number(v["tokens-per-pass"], "--tokens-per-pass"),
    bytesPerParam: number(v["bytes-per-param"], "--bytes-per-param"),
    engineTflops: number(v["engine-tflops"], "--engine-tflops"),
  } as Partial<FactoryParams>;
}

function failureLine(r: HwReport): string {
  const m = r.mismatches[0];
  if (m) {
    return `not bit-exact: chunk ${m.chunk} (segment ${m.segment} chunk ${m.segment_chunk}) lane ${m.lane} symbol ${m.symbol} clock ${m.cycle}: model ${m.model}, wasm ${m.wasm}`;
  }
  const f = r.failures[0];
  if (f) {
    const model = f.model.length > 0 ? `model: ${f.model.join("; ")}` : "model: no error";
    return `chunk ${f.chunk} (segment ${f.segment} chunk ${f.segment_chunk}) fails its checks: ${model}; wasm: ${f.wasm ?? "no error"}`;
  }
  return "index checksum mismatch";
}

const int = (v: number) => Math.round(v).toLocaleString("en-US");
const fix = (v: number, d = 3) => v.toFixed(d);

export function formatReport(file: string, r: HwReport): string {
  const c = r.config;
  const out: string[] = [];
  const verdict = r.bit_exact ? "bit-exact" : "NOT bit-exact";
  const notes = [r.chunks.sampled ? `a sample of ${r.chunks.verified} of ${r.chunks.rans}` : "", r.chunks.context ? `${r.chunks.context} with channel contexts` : ""].filter(Boolean);
  const about = notes.length > 0 ? ` (${notes.join("; ")})` : "";
  out.push(`${file}: ${verdict}: model = Wasm on ${r.chunks.verified} rANS chunks${about}, every word compared`);
  const bypass = [r.chunks.stored ? `${r.chunks.stored} stored` : "", r.chunks.deflate ? `${r.chunks.deflate} deflate` : ""].filter(Boolean).join(", ");
  if (bypass) out.push(`  bypass     ${bypass} chunk(s) outside the core, checked against Wasm and ANSF-H32`);
  const bandwidth = c.memBytesPerCycle === null ? "unlimited bandwidth" : `${fix(c.memBytesPerCycle, 1)} B/clock shared`;
  out.push(`  core       ${c.cores} × depth ${c.depth} [${c.stages.join(" > ")}], ${c.table} table × ${c.tableBuffers}`);
  out.push(`  memory     bus ${c.busBytes} B/clock, latency ${c.memLatency} clocks, ${bandwidth}, FIFOs ${c.fifoBytes} B`);
  out.push(`  symbols    ${int(r.symbols)}, payload words ${int(r.words)}`);
  out.push(`  cycles     ${int(r.cycles)} (setup ${int(r.setup_cycles)}, run ${int(r.run_cycles)}, tail ${int(r.tail_cycles)}, summed over chunks)`);
  out.push(
    `  stalls     ${int(r.stall_cycles)} (word FIFO empty ${int(r.stalls.word_fifo_empty)}, raw FIFO empty ${int(r.stalls.raw_fifo_empty)}, output full ${int(r.stalls.output_full)}), bubbles ${int(r.bubble_cycles)}`,
  );
  out.push(`  rate       ${fix(r.symbols_per_cycle)} symbols/clock (per core ${fix(r.core_symbols_per_cycle)}; while decoding ${fix(r.run_symbols_per_cycle)})`);
  const map = r.map_bits ? `; group map ${int(r.map_bits)} bits per buffer` : "";
  out.push(`  table      ${int(r.table_bits)} bits per buffer, ${int(r.table_bits_per_core)} per core${map}`);
  const t = r.throughput;
  out.push(`  at ${t.mhz} MHz ${fix(t.symbols_per_second / 1e6, 1)} M symbols/s; 800 M bf16/s takes ${t.cores_for_800m} core(s) at ${t.mhz} MHz, or ${c.cores} core(s) at ${fix(t.mhz_for_800m, 0)} MHz`);
  out.push(`  checks     index checksum ${r.index_checksum_ok ? "ok" : "BAD"}; final states, payload use, raw plane, ANSF-H32: ${r.failed_chunks === 0 ? "ok" : `${r.failed_chunks} chunk(s) failed`}`);
  for (const m of r.mismatches) {
    out.push(`  MISMATCH   chunk ${m.chunk} (segment ${m.segment} chunk ${m.segment_chunk}) lane ${m.lane} symbol ${m.symbol} clock ${m.cycle}: model ${m.model}, wasm ${m.wasm} (${m.words} words differ)`);
  }
  for (const f of r.failures) {
    out.push(`  FAILED     chunk ${f.chunk} (segment ${f.segment} chunk ${f.segment_chunk}): model: ${f.model.join("; ") || "no error"}; wasm: ${f.wasm ?? "no error"}`);
  }
  return `${out.join("\n")}\n`;
}

export function formatFactory(r: FactoryReport): string {
  const p = r.params;
  const out: string[] = [];
  out.push(
    `token factory: ${p.engines} engines, ${p.bandwidthGBs} GB/s, decoder ${p.decoderGsym} G weights/s, ${(p.params / 1e9).toFixed(2)} G weights × ${p.bytesPerParam} B, ratio ${p.ratio}, ${p.tokensPerPass} token(s)/engine/pass`,
  );
  out.push(`  ${"scenario".padEnd(11)} ${"tokens/s".padStart(10)} ${"pass ms".padStart(9)} ${"GB/pass".padStart(8)} ${"MB/token".padStart(9)} ${"GB/s".padStart(7)}  bottleneck`);
  for (const s of r.scenarios) {
    out.push(
      `  ${s.name.padEnd(11)} ${fix(s.tokens_per_second, 1).padStart(10)} ${fix(s.pass_seconds * 1e3, 2).padStart(9)} ${fix(s.bytes_per_pass / 1e9, 2).padStart(8)} ${fix(s.bytes_per_token / 1e6, 1).padStart(9)} ${fix(s.traffic_gbs, 1).padStart(7)}  ${s.bottleneck}`,
    );
  }
  out.push(`  compressed vs separate ×${fix(r.speedup_vs_separate, 2)}, vs uncompressed broadcast ×${fix(r.speedup_vs_broadcast, 2)}`);
  out.push(`  compressed factory by decoder throughput:`);
  for (const d of r.decoder_sweep) {
    out.push(`    ${fix(d.decoder_gsym, 2).padStart(8)} G weights/s ${fix(d.tokens_per_second, 1).padStart(10)} tokens/s  ${d.bottleneck}`);
  }
  out.push(
    `  decoding stops being the bottleneck at ${fix(r.decoder_gsym_needed, 2)} G weights/s (bandwidth × ratio / bytes per weight): ${r.paper_cores_needed} decoder(s) at Liguori's 0.8 G/s`,
  );
  return `${out.join("\n")}\n`;
}
