#!/usr/bin/env node
// The `ansfloat` command, after zstd: `ansfloat FILE` writes FILE.ansf and
// keeps FILE; -d restores; -t tests; -l lists. Output is written to a
// temporary file and moved into place only when complete, and an existing
// file is never replaced without -f.

import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { AnsfError, decompress, encode, inspect, type CodedDtype, type StreamInfo } from "./index.js";
import { compressSafetensors } from "./safetensors-codec.js";

const VERSION = "0.1.0";
const SUFFIX = ".ansf";

const HELP = `Usage: ansfloat [OPTIONS] FILE...
Lossless compression of neural-network weights (safetensors; bf16, fp16, fp32).

  ansfloat model.safetensors         write model.safetensors.ansf, keep the source
  ansfloat -d model.safetensors.ansf restore model.safetensors
  ansfloat -t FILE.ansf              test integrity (decode and check every checksum)
  ansfloat -l FILE.ansf              list tensors: dtype, shape, k, ratio, bits/weight, bound

Options:
  -d, --decompress     decompress
  -t, --test           test compressed files
  -l, --list           list the contents of compressed files
  -o, --output FILE    write to FILE (one input only)
  -c, --stdout         write to standard output
  -f, --force          overwrite existing files
      --rm             remove the source after success
  -q, --quiet          print nothing but errors
  -v, --verbose        more detail; stack traces on errors
      --json           machine-readable output for -l and compression statistics
      --raw            the input is a bare array of --dtype elements, not safetensors
      --dtype TYPE     element type for --raw: bf16, fp16, fp32, u8
  -h, --help           this help
  -V, --version        print the version
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
}

function parse(argv: string[]): { options: Options; files: string[] } | "help" | "version" {
  const { values, positionals } = parseArgs({
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
  };
  if (positionals.length === 0) throw new AnsfError("BAD_ARGUMENT", "no input file (try --help)");
  if ([options.decompress, options.test, options.list].filter(Boolean).length > 1) {
    throw new AnsfError("BAD_ARGUMENT", "choose one of -d, -t and -l");
  }
  if (options.output !== undefined && positionals.length > 1) throw new AnsfError("BAD_ARGUMENT", "-o takes one input file");
  if (options.output !== undefined && options.stdout) throw new AnsfError("BAD_ARGUMENT", "-o and -c exclude each other");
  if (options.raw && !options.dtype) throw new AnsfError("BAD_ARGUMENT", "--raw needs --dtype");
  return { options, files: positionals };
}

/** Writes `data` to `path` atomically: a temporary file beside it, then a link (no -f) or rename (-f). */
function writeAtomic(path: string, data: Uint8Array, force: boolean): void {
  if (!force && exists(path)) throw new AnsfError("IO_ERROR", `${path} already exists (use -f to overwrite)`);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  try {
    const fd = openSync(tmp, "wx");
    try {
      for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, data.length - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (force) {
      renameSync(tmp, path);
    } else {
      // link() fails if the name appeared meanwhile: no race can clobber it.
      linkSync(tmp, path);
      unlinkSync(tmp);
    }
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // Already gone: nothing was left behind.
    }
    if (err instanceof AnsfError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new AnsfError("IO_ERROR", `${path} already exists (use -f to overwrite)`, { cause: err });
    throw new AnsfError("IO_ERROR", `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readInput(path: string): Uint8Array {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new AnsfError("IO_ERROR", "not a regular file");
    return readFileSync(path);
  } catch (err) {
    if (err instanceof AnsfError) throw err;
    throw new AnsfError("IO_ERROR", (err as Error).message.replace(/^[A-Z]+: /, ""), { cause: err });
  }
}

function emit(options: Options, data: Uint8Array, path: string): void {
  if (options.stdout) {
    for (let at = 0; at < data.length; ) at += writeSync(1, data, at, data.length - at);
  } else {
    writeAtomic(path, data, options.force);
  }
}

/** JSON statistics go to stdout, or to stderr when stdout carries the data (-c). */
function report(options: Options, stats: object): void {
  (options.stdout ? process.stderr : process.stdout).write(`${JSON.stringify(stats)}\n`);
}

function mbps(bytes: number, ms: number): string {
  return `${(bytes / 1e3 / Math.max(ms, 1e-3)).toFixed(1)} MB/s`;
}

function compressFile(file: string, options: Options): void {
  const input = readInput(file);
  const started = performance.now();
  let stream: Uint8Array;
  let weights = 0;
  if (options.raw) {
    const dtype = options.dtype as CodedDtype;
    stream = encode(input, { dtype });
    weights = input.length / (dtype === "fp32" ? 4 : dtype === "u8" ? 1 : 2);
  } else {
    const result = compressSafetensors(input);
    stream = result.stream;
    for (const t of result.tensors) if (t.dtype === "BF16" || t.dtype === "F16" || t.dtype === "F32") weights += t.shape.reduce((a, b) => a * b, 1);
  }
  const ms = performance.now() - started;
  const out = options.output ?? `${file}${SUFFIX}`;
  emit(options, stream, out);
  const stats = {
    file,
    output: options.stdout ? "-" : out,
    bytes: input.length,
    compressedBytes: stream.length,
    ratio: input.length / stream.length,
    bitsPerWeight: weights ? (8 * stream.length) / weights : null,
    ms,
  };
  if (options.json) report(options, stats);
  else if (!options.quiet) {
    const bpw = stats.bitsPerWeight === null ? "" : `, ${stats.bitsPerWeight.toFixed(2)} bits/weight`;
    process.stderr.write(`${file}: ${input.length} -> ${stream.length} bytes (${stats.ratio.toFixed(4)}x${bpw}), ${mbps(input.length, ms)}\n`);
  }
  if (options.rm && !options.stdout) unlinkSync(file);
}

function restoredName(file: string, options: Options): string {
  if (options.output !== undefined) return options.output;
  if (!file.endsWith(SUFFIX) || file.length === SUFFIX.length) {
    throw new AnsfError("BAD_ARGUMENT", `unknown suffix (expected ${SUFFIX}); use -o to name the output`);
  }
  return file.slice(0, -SUFFIX.length);
}

function decompressFile(file: string, options: Options): void {
  const out = options.stdout ? "-" : restoredName(file, options);
  const input = readInput(file);
  const started = performance.now();
  const restored = decompress(input);
  const ms = performance.now() - started;
  emit(options, restored, out);
  if (options.json) report(options, { file, output: out, bytes: restored.length, compressedBytes: input.length, ms });
  else if (!options.quiet) process.stderr.write(`${file}: ${restored.length} bytes restored, ${mbps(restored.length, ms)}\n`);
  if (options.rm && !options.stdout) unlinkSync(file);
}

function testFile(file: string, options: Options): void {
  const input = readInput(file);
  const started = performance.now();
  const restored = decompress(input);
  const ms = performance.now() - started;
  if (options.json) process.stdout.write(`${JSON.stringify({ file, ok: true, bytes: restored.length, ms })}\n`);
  else if (!options.quiet) process.stderr.write(`${file}: OK (${restored.length} bytes, ${mbps(restored.length, ms)})\n`);
}

function formatList(file: string, info: StreamInfo): string {
  const rows = [["tensor", "dtype", "shape", "k", "ratio", "bits/w", "bound"]];
  for (const s of info.segments) {
    const ks = [...new Set(s.ks)].join("/") || "-";
    rows.push([
      s.name,
      s.dtype,
      `[${s.shape.join(",")}]`,
      ks,
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

function listFile(file: string, options: Options): void {
  const info = inspect(readInput(file));
  process.stdout.write(options.json ? `${JSON.stringify({ file, ...info })}\n` : formatList(file, info));
}

export function main(argv: string[]): number {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    process.stderr.write(`ansfloat: ${(err as Error).message}\n`);
    return 1;
  }
  if (parsed === "help") {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (parsed === "version") {
    process.stdout.write(`ansfloat ${VERSION}\n`);
    return 0;
  }
  const { options, files } = parsed;
  let status = 0;
  for (const file of files) {
    try {
      if (options.list) listFile(file, options);
      else if (options.test) testFile(file, options);
      else if (options.decompress) decompressFile(file, options);
      else compressFile(file, options);
    } catch (err) {
      status = 1;
      const code = err instanceof AnsfError ? ` [${err.code}]` : "";
      process.stderr.write(`ansfloat: ${file}: ${(err as Error).message}${code}\n`);
      if (options.verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    }
  }
  return status;
}

process.exitCode = main(process.argv.slice(2));
