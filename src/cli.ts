#!/usr/bin/env node
// The `ansfloat` command, after zstd: `ansfloat FILE` writes FILE.ansf and
// keeps FILE; -d restores; -t tests; -l lists. Output is written to a
// temporary file and moved into place only when complete, and an existing
// file is never replaced without -f.

import { closeSync, createReadStream, createWriteStream, fsyncSync, linkSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, type Stats } from "node:fs";
import { constants } from "node:os";
import { basename, dirname, join } from "node:path";
import { type Readable, Writable } from "node:stream";
import { parseCommandLine } from "./arguments.js";
import { layoutOf } from "./dtypes.js";
import { errorLine } from "./errors.js";
import { AnsfError, inspect, type StreamInfo } from "./index.js";
import { fileReader, memoryReader, type Reader } from "./io.js";
import { BUILTIN_FORMAT_NAMES, builtinFormat, parseFormatJson, type NumericFormat, type QuantizationError } from "./numformat/index.js";
import { quantizeFileTo, type QuantizeReport } from "./quantize-file.js";
import { compressPlans, compressStream, decompressStream, type StreamOptions } from "./stream.js";

const VERSION = "0.1.0";
const SUFFIX = ".ansf";

/** Text in lines of at most `width` columns, each indented by `indent`, broken after commas. */
function wrap(text: string, indent: number, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.map((l) => " ".repeat(indent) + l).join("\n");
}

const HELP = `Usage: ansfloat [OPTIONS] FILE...
Lossless compression of neural-network weights (safetensors and GGUF; bf16, fp16, fp32).
FILE - reads standard input (and writes standard output unless -o is given).

  ansfloat model.safetensors         write model.safetensors.ansf, keep the source
  ansfloat -d model.safetensors.ansf restore model.safetensors
  ansfloat -t FILE.ansf              test integrity (decode and check every checksum)
  ansfloat -l FILE.ansf              list tensors: dtype, shape, k, ratio, bits/weight, bound
  ansfloat quantize --format F FILE  quantise float tensors into format F (lossy, round to
                                     nearest even), write FILE's stem.F.safetensors.ansf and
                                     report the error and bits/weight of every tensor

Options:
  -d, --decompress     decompress
  -t, --test           test compressed files
  -l, --list           list the contents of compressed files
  -T, --threads N      threads (default: all cores for inputs of 1 GiB or more,
                       else 1; 1 = no worker pool)
  -r, --recursive      a directory argument means its safetensors and GGUF files
                       (with -d, -t, -l: its .ansf files), at any depth
  -o, --output FILE    write to FILE (one input only)
  -c, --stdout         write to standard output
  -f, --force          overwrite existing files
      --rm             remove the source after success
  -q, --quiet          print nothing but errors
  -v, --verbose        more detail; stack traces on errors
      --json           machine-readable output for -l and compression statistics
      --raw            the input is a bare array of --dtype elements, not safetensors
      --dtype TYPE     element type for --raw: bf16, fp16, fp32, u8
      --format F       quantize: a FILE.json format descriptor, or a built-in:
${wrap(BUILTIN_FORMAT_NAMES.join(", "), 23, 80)}
      --scale S        quantize: store w / S (default 1); auto: a power of two per tensor,
                       nearest its RMS for posits, else the smallest that keeps the
                       largest weight within the format
  -h, --help           this help
  -V, --version        print the version
Hardware model: ansfloat hw-sim --help
Exit status: 0 on success, 1 on any error.`;

interface Options {
  decompress: boolean;
  test: boolean;
  list: boolean;
  output: string | undefined;
  stdout: boolean;
  force: boolean;
  rm: boolean;
  quiet: boolean;
  verbose: boolean;
  json: boolean;
  raw: boolean;
  dtype: string | undefined;
  threads: number | undefined;
  recursive: boolean;
  /** The quantize command: --format, and --scale as given. */
  quantize: { format: string; scale: number | "auto" } | undefined;
}

function parse(argv: string[], quantize = false): { options: Options; files: string[] } | "help" | "version" {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      decompress: { type: "boolean", short: "d" },
      test: { type: "boolean", short: "t" },
      list: { type: "boolean", short: "l" },
      output: { type: "string", short: "o" },
      stdout: { type: "boolean", short: "c" },
      force: { type: "boolean", short: "f" },
      rm: { type: "boolean" },
      quiet: { type: "boolean", short: "q" },
      verbose: { type: "boolean", short: "v" },
      json: { type: "boolean" },
      raw: { type: "boolean" },
      dtype: { type: "string" },
      threads: { type: "string", short: "T" },
      recursive: { type: "boolean", short: "r" },
      ...(quantize ? { format: { type: "string" }, scale: { type: "string" } } : {}),
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "V" },
    },
  });
  if (values.help) return "help";
  if (values.version) return "version";
  const options: Options = {
    decompress: values.decompress ?? false,
    test: values.test ?? false,
    list: values.list ?? false,
    output: values.output,
    stdout: values.stdout ?? false,
    force: values.force ?? false,
    rm: values.rm ?? false,
    quiet: values.quiet ?? false,
    verbose: values.verbose ?? false,
    json: values.json ?? false,
    raw: values.raw ?? false,
    dtype: values.dtype,
    threads: values.threads === undefined ? undefined : Number(values.threads),
    recursive: values.recursive ?? false,
    quantize: quantize ? quantizeOptions(values as { format?: string; scale?: string }) : undefined,
  };
  if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1)) {
    throw new AnsfError("BAD_ARGUMENT", `-T takes a positive whole number, not "${values.threads}"`);
  }
  if (positionals.length === 0) throw new AnsfError("BAD_ARGUMENT", "no input file (try --help)");
  if ([options.decompress, options.test, options.list].filter(Boolean).length > 1) {
    throw new AnsfError("BAD_ARGUMENT", "choose one of -d, -t and -l");
  }
  if (options.output !== undefined && options.stdout) throw new AnsfError("BAD_ARGUMENT", "-o and -c exclude each other");
  if (options.raw && !options.dtype) throw new AnsfError("BAD_ARGUMENT", "--raw needs --dtype");
  if (quantize && (options.decompress || options.test || options.list || options.raw || options.rm)) {
    throw new AnsfError("BAD_ARGUMENT", "quantize takes none of -d, -t, -l, --raw and --rm");
  }
  return { options, files: positionals };
}

function quantizeOptions(values: { format?: string; scale?: string }): NonNullable<Options["quantize"]> {
  if (values.format === undefined) throw new AnsfError("BAD_ARGUMENT", "quantize needs --format NAME or --format FILE.json");
  const scale = values.scale === undefined ? 1 : values.scale === "auto" ? "auto" : Number(values.scale);
  if (scale !== "auto" && !(scale > 0 && scale < Infinity)) {
    throw new AnsfError("BAD_ARGUMENT", `--scale takes a positive number or auto, not "${values.scale}"`);
  }
  return { format: values.format, scale };
}

/**
 * Where a result goes: standard output, or a temporary file beside `path`
 * that becomes `path` only once complete (link(), which refuses to replace
 * an existing name, or rename() under -f). On failure the temporary file
 * is removed and nothing is left behind.
 */
async function withOutput<T>(path: string, input: string, options: Options, produce: (out: Writable) => Promise<T>): Promise<T> {
  if (path === "-") {
    const result = await produce(process.stdout);
    return result;
  }
  const existing = statOrNull(path);
  if (existing?.isDirectory()) throw new AnsfError("IO_ERROR", `${path} is a directory`);
  // Under -f the result would replace its own input (and --rm then delete both), as zstd refuses too.
  const source = input === "-" ? null : statOrNull(input);
  if (existing && source && existing.dev === source.dev && existing.ino === source.ino) {
    throw new AnsfError("IO_ERROR", `${path} is the input file`);
  }
  // A device or pipe (/dev/null, /dev/stdout, a FIFO) is written in place, as
  // zstd does: a temporary file renamed over it would replace the device.
  if (existing && !existing.isFile()) return withDevice(path, produce);
  if (!options.force && existing) throw new AnsfError("IO_ERROR", `${path} already exists (use -f to overwrite)`);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, "wx");
    unfinished.add(tmp);
    const result = await writeInto(fd, produce);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (options.force) {
      renameSync(tmp, path);
    } else {
      linkSync(tmp, path);
      unlinkSync(tmp);
    }
    return result;
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // Never created, or already moved into place.
    }
    if (err instanceof AnsfError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new AnsfError("IO_ERROR", `${path} already exists (use -f to overwrite)`, { cause: err });
    throw new AnsfError("IO_ERROR", `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    unfinished.delete(tmp);
  }
}

/** Temporary outputs being written: an interrupt removes them before the process exits. */
const unfinished = new Set<string>();

/**
 * On SIGINT or SIGTERM, removes the temporary output being written (a
 * partial result must never be left behind, as zstd also ensures) and exits
 * with the status a shell gives a process the signal killed.
 */
function removeOutputsOn(signal: "SIGINT" | "SIGTERM"): void {
  process.once(signal, () => {
    for (const tmp of unfinished) {
      try {
        unlinkSync(tmp);
      } catch {
        // Already moved into place or removed.
      }
    }
    process.exit(128 + constants.signals[signal]);
  });
}

/**
 * Runs `produce` on a write stream over an open file and ends it, failing
 * when a write failed (a full disk or device). A failed write is reported
 * where the writer waits (writeAll, and the end callback, which carries the
 * error); the stream's own 'error' event comes only after that, too late
 * to be waited for, and unheard it would crash the process.
 */
async function writeInto<T>(fd: number, produce: (out: Writable) => Promise<T>): Promise<T> {
  const out = createWriteStream("", { fd, autoClose: false, highWaterMark: 4 << 20 }).on("error", () => undefined);
  const result = await produce(out);
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return result;
}

/** --rm: a source file goes only once its result is a file of its own (not standard output, not a device such as /dev/null); a pipe or device given as the source stays. */
function removeSource(file: string, out: string, options: Options): void {
  if (options.rm && out !== "-" && file !== "-" && statOrNull(out)?.isFile() && statOrNull(file)?.isFile()) unlinkSync(file);
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Writes to a device or pipe that already exists; a failed write (a full device) is IO_ERROR. */
async function withDevice<T>(path: string, produce: (out: Writable) => Promise<T>): Promise<T> {
  let fd: number | undefined;
  try {
    fd = openSync(path, "w");
    return await writeInto(fd, produce);
  } catch (err) {
    if (err instanceof AnsfError) throw err;
    throw new AnsfError("IO_ERROR", `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

async function readAll(input: Readable): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of input) parts.push(part as Uint8Array);
  return Buffer.concat(parts);
}

/** Positional reads of a file; standard input, a pipe or a device is read whole (it cannot seek), as zstd reads them. */
async function openInput(path: string): Promise<Reader> {
  if (path === "-") return memoryReader(await readAll(process.stdin));
  try {
    if (!statSync(path).isFile()) return memoryReader(await readAll(createReadStream(path)));
    return fileReader(path);
  } catch (err) {
    if (err instanceof AnsfError) throw err;
    throw new AnsfError("IO_ERROR", (err as Error).message.replace(/^[A-Z]+: /, ""), { cause: err });
  }
}

/** A progress bar with throughput and ETA on a terminal, for jobs worth watching. */
function progress(options: Options, label: string): StreamOptions["onProgress"] {
  if (options.quiet || !process.stderr.isTTY) return undefined;
  const started = performance.now();
  let last = 0;
  return (done, total) => {
    const now = performance.now();
    if (total < 64 << 20 || (now - last < 200 && done < total)) return;
    last = now;
    const seconds = (now - started) / 1e3;
    const rate = done / Math.max(seconds, 1e-3);
    const width = 30;
    const filled = Math.round((width * done) / total);
    const eta = done < total ? `ETA ${Math.ceil((total - done) / rate)}s` : "done";
    process.stderr.write(`\r${label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${Math.floor((100 * done) / total)}% ${(rate / 1e6).toFixed(0)} MB/s ${eta}\x1b[K`);
    if (done >= total) process.stderr.write("\n");
  };
}

/**
 * Below this much input the default is one thread: a worker starts cold
 * (module loading, then unoptimised JavaScript for its first batches), and
 * on the 2-core VM where this was measured (CLI output to /dev/null) two
 * threads lost at 300 MB (compress 2.75 vs 2.40-2.59 s), broke even at
 * 600 MB (4.32-4.55 vs 4.15-4.76 s; decompress 1.07-1.26 vs 1.11-1.13 s)
 * and won at 1.2 GB (compress 6.4-7.0 vs 7.2-8.4 s, decompress 1.77-1.85
 * vs 1.99-2.15 s).
 */
const AUTO_THREADS_FROM = 1 << 30;

function streamOptions(options: Options, label: string, inputBytes: number): StreamOptions {
  const onProgress = progress(options, label);
  const threads = options.threads ?? (inputBytes < AUTO_THREADS_FROM ? 1 : undefined);
  return { ...(threads === undefined ? {} : { threads }), ...(onProgress ? { onProgress } : {}) };
}

/** JSON statistics go to stdout, or to stderr when stdout carries the data. */
function report(options: Options, stats: { output?: string; [key: string]: unknown }): void {
  (options.stdout || stats.output === "-" ? process.stderr : process.stdout).write(`${JSON.stringify(stats)}\n`);
}

function mbps(bytes: number, ms: number): string {
  return `${(bytes / 1e3 / Math.max(ms, 1e-3)).toFixed(1)} MB/s`;
}

async function compressFile(file: string, options: Options): Promise<void> {
  const out = options.stdout || (file === "-" && options.output === undefined) ? "-" : options.output ?? `${file}${SUFFIX}`;
  const reader = await openInput(file);
  try {
    const started = performance.now();
    const settings = streamOptions(options, file, reader.size);
    const result = await withOutput(out, file, options, async (sink) => {
      if (!options.raw) return compressStream(reader, sink, settings);
      const layout = layoutOf(options.dtype!);
      if (reader.size % layout.width !== 0) throw new AnsfError("BAD_ARGUMENT", `${reader.size} bytes is not a whole number of ${layout.name} elements`);
      const plan = { begin: 0, end: reader.size, layout, shape: [reader.size / layout.width] };
      return { ...(await compressPlans(reader, sink, "raw", [plan], settings)), names: ["(raw)"] };
    });
    const ms = performance.now() - started;
    let weights = 0;
    for (const s of result.segments) if (s.plan.layout.mantissaBits > 0) weights += (s.plan.end - s.plan.begin) / s.plan.layout.width;
    const stats = {
      file,
      output: out,
      source: result.source,
      bytes: result.bytes,
      compressedBytes: result.compressedBytes,
      ratio: result.bytes / result.compressedBytes,
      bitsPerWeight: weights ? (8 * result.compressedBytes) / weights : null,
      ms,
    };
    if (options.json) report(options, stats);
    else if (!options.quiet) {
      const bpw = stats.bitsPerWeight === null ? "" : `, ${stats.bitsPerWeight.toFixed(2)} bits/weight`;
      process.stderr.write(`${file}: ${result.bytes} -> ${result.compressedBytes} bytes (${stats.ratio.toFixed(4)}x${bpw}), ${mbps(result.bytes, ms)}\n`);
    }
  } finally {
    reader.close();
  }
  removeSource(file, out, options);
}

function restoredName(file: string, options: Options): string {
  if (options.output !== undefined) return options.output;
  if (file === "-") return "-";
  if (!file.endsWith(SUFFIX) || file.length === SUFFIX.length) {
    throw new AnsfError("BAD_ARGUMENT", `unknown suffix (expected ${SUFFIX}); use -o to name the output`);
  }
  return file.slice(0, -SUFFIX.length);
}

async function decompressFile(file: string, options: Options): Promise<void> {
  const out = options.stdout || (file === "-" && options.output === undefined) ? "-" : restoredName(file, options);
  const reader = await openInput(file);
  try {
    const started = performance.now();
    const bytes = await withOutput(out, file, options, (sink) => decompressStream(reader, sink, streamOptions(options, file, reader.size)));
    const ms = performance.now() - started;
    if (options.json) report(options, { file, output: out, bytes, compressedBytes: reader.size, ms });
    else if (!options.quiet) process.stderr.write(`${file}: ${bytes} bytes restored, ${mbps(bytes, ms)}\n`);
  } finally {
    reader.close();
  }
  removeSource(file, out, options);
}

/** Decodes everything and checks every checksum, keeping nothing. */
async function testFile(file: string, options: Options): Promise<void> {
  const reader = await openInput(file);
  try {
    const started = performance.now();
    const discard = new Writable({ write: (_chunk, _enc, done) => done() });
    const bytes = await decompressStream(reader, discard, streamOptions(options, file, reader.size));
    const ms = performance.now() - started;
    if (options.json) report(options, { file, ok: true, bytes, ms });
    else if (!options.quiet) process.stderr.write(`${file}: OK (${bytes} bytes, ${mbps(bytes, ms)})\n`);
  } finally {
    reader.close();
  }
}

function formatList(file: string, info: StreamInfo): string {
  const rows = [["tensor", "dtype", "shape", "k", "context", "ratio", "bits/w", "bound"]];
  for (const s of info.segments) {
    const ks = [...new Set(s.ks)].join("/") || "-";
    const contexts = [...new Set(s.chunks.filter((c) => c.context !== "none").map((c) => `${c.context}x${c.groups}`))].join("/") || "-";
    rows.push([
      s.name,
      s.dtype,
      `[${s.shape.join(",")}]`,
      ks,
      contexts,
      s.ratio.toFixed(3),
      s.dtype === "bytes" ? "-" : s.bitsPerElement.toFixed(2),
      s.boundRatio ? s.boundRatio.toFixed(3) : "-",
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
  lines.push(`${file}: ${info.source}, ${info.bytes} -> ${info.compressedBytes} bytes, ratio ${info.ratio.toFixed(4)}`);
  return `${lines.join("\n")}\n`;
}

async function listFile(file: string, options: Options): Promise<void> {
  const reader = await openInput(file);
  try {
    const info = inspect(reader.read(0, reader.size));
    process.stdout.write(options.json ? `${JSON.stringify({ file, ...info })}\n` : formatList(file, info));
  } finally {
    reader.close();
  }
}

/** --format: a built-in's name, or a JSON descriptor file. */
function loadFormat(spec: string): NumericFormat {
  if (!statOrNull(spec)) return builtinFormat(spec);
  let text: string;
  try {
    text = readFileSync(spec, "utf8");
  } catch (err) {
    throw new AnsfError("IO_ERROR", `cannot read ${spec}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseFormatJson(text);
  } catch (err) {
    if (err instanceof AnsfError) throw new AnsfError(err.code, `${spec}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** model.safetensors -> model.FORMAT.safetensors.ansf: the stream restores a different file than the input. */
function quantizedName(file: string, format: NumericFormat, options: Options): string {
  if (options.stdout || (file === "-" && options.output === undefined)) return "-";
  if (options.output !== undefined) return options.output;
  const tag = format.name.replace(/[^A-Za-z0-9_-]+/g, "_");
  const stem = file.endsWith(".safetensors") ? file.slice(0, -".safetensors".length) : file;
  return `${stem}.${tag}.safetensors${SUFFIX}`;
}

function formatQuantizeReport(file: string, output: string, r: QuantizeReport): string {
  const rows = [["tensor", "elements", "scale", "max abs", "RMS", "rel RMS", "max rel", "bits/w"]];
  const row = (name: string, elements: number, scale: string, e: QuantizationError, bits: number) => [
    name, String(elements), scale, e.maxAbs.toPrecision(3), e.rms.toPrecision(3),
    (e.valueRms ? e.rms / e.valueRms : 0).toPrecision(3), e.maxRel.toPrecision(3), bits.toFixed(3),
  ];
  for (const t of r.tensors) rows.push(row(t.name, t.elements, String(t.scale), t.error, t.bitsPerWeight));
  rows.push(row("(total)", r.total.elements, "", r.total.error, r.total.bitsPerWeight));
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((x) => x[c]!.length)));
  const lines = rows.map((x) => x.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
  lines.push(`${file} -> ${output}: ${r.format}, ${r.bytes} -> ${r.compressedBytes} bytes, ${r.total.bitsPerWeight.toFixed(3)} bits/weight over ${r.tensors.length} quantised tensors`);
  return `${lines.join("\n")}\n`;
}

/** Quantises a safetensors file's float tensors into a format and writes the compressed result. */
async function quantizeCommand(file: string, format: NumericFormat, options: Options): Promise<void> {
  const out = quantizedName(file, format, options);
  const reader = await openInput(file);
  try {
    const started = performance.now();
    const input = reader.read(0, reader.size);
    const settings = { ...streamOptions(options, file, reader.size), format, scale: options.quantize!.scale };
    const result = await withOutput(out, file, options, (sink) => quantizeFileTo(input, sink, settings));
    const ms = performance.now() - started;
    if (options.json) report(options, { file, output: out, ...result, ms });
    else if (!options.quiet) (options.stdout || out === "-" ? process.stderr : process.stdout).write(formatQuantizeReport(file, out, result));
  } finally {
    reader.close();
  }
}

/** A directory under -r becomes the files in it that this mode works on (a Hugging Face folder's shards). */
function expand(path: string, options: Options): string[] {
  if (path === "-" || !statOrNull(path)?.isDirectory()) return [path];
  if (!options.recursive) throw new AnsfError("BAD_ARGUMENT", `${path} is a directory (use -r)`);
  const wanted = options.decompress || options.test || options.list ? [SUFFIX] : options.quantize ? [".safetensors"] : [".safetensors", ".gguf"];
  return filesUnder(path)
    .filter((p) => wanted.some((suffix) => p.endsWith(suffix)))
    .sort();
}

/**
 * The regular files under a folder, links to files included. Links to
 * folders are not followed (as find does by default): a link back up the
 * tree listed the same files again at every depth, up to the system's limit.
 */
function filesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(path));
    else if (entry.isFile() || (entry.isSymbolicLink() && statOrNull(path)?.isFile())) found.push(path);
  }
  return found;
}

/**
 * What the command line asks for: help, the version, or the files to work
 * on (folders expanded under -r) with their options and --format loaded. A
 * usage error throws, before any file is touched.
 */
function plan(argv: string[]): { options: Options; files: string[]; format: NumericFormat | undefined } | "help" | "version" {
  const parsed = argv[0] === "quantize" ? parse(argv.slice(1), true) : parse(argv);
  if (typeof parsed !== "object") return parsed;
  const { options } = parsed;
  const format = options.quantize ? loadFormat(options.quantize.format) : undefined;
  const files = parsed.files.flatMap((f) => expand(f, options));
  if (options.output !== undefined && files.length > 1) throw new AnsfError("BAD_ARGUMENT", "-o takes one input file");
  return { options, files, format };
}

export async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === "hw-sim" || command === "hw-vectors") {
    const { hwMain } = await import("./hw/cli.js");
    return hwMain(command, argv.slice(1));
  }
  let planned: ReturnType<typeof plan>;
  try {
    planned = plan(argv);
  } catch (err) {
    process.stderr.write(errorLine(err));
    return 1;
  }
  if (planned === "help") {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (planned === "version") {
    process.stdout.write(`ansfloat ${VERSION}\n`);
    return 0;
  }
  const { options, files, format } = planned;
  let status = 0;
  for (const file of files) {
    try {
      if (format) await quantizeCommand(file, format, options);
      else if (options.list) await listFile(file, options);
      else if (options.test) await testFile(file, options);
      else if (options.decompress) await decompressFile(file, options);
      else await compressFile(file, options);
    } catch (err) {
      status = 1;
      process.stderr.write(errorLine(err, file));
      if (options.verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    }
  }
  return status;
}

removeOutputsOn("SIGINT");
removeOutputsOn("SIGTERM");
process.exitCode = await main(process.argv.slice(2));
