// Every codec the bench compares, behind one interface. In-process codecs
// (ansfloat, node:zlib's gzip and brotli) run on this thread; the zstd, bzip2
// and xz command-line tools, and ansfloat's own, run as child processes fed
// through pipes, so their timings include process start and pipe copies
// (the `cat` baseline shows how much that is on its own).

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { constants as zlibConstants, brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { zipnnCompress, zipnnDecompress, type PlaneBackend } from "./zipnn.js";

/** "hybrid": in-process work that calls a command-line tool; "baseline": a reference row, not a codec. */
export type CodecKind = "in-process" | "binary" | "hybrid" | "baseline";

export type Availability = { implementation: string } | { unavailable: string };

export interface Codec {
  name: string;
  kind: CodecKind;
  /** Slow enough (under 5 MB/s) that `--quick` skips it on big files. */
  slow: boolean;
  /** What would run, with versions, or why it cannot run here. */
  probe(): Promise<Availability>;
  compress(input: Uint8Array): Uint8Array;
  decompress(packed: Uint8Array): Uint8Array;
  /** For command-line tools: the processes, so their own peak memory can be measured. */
  commands?: { compress: string[]; decompress: string[] };
}

/** The documented API of ansfloat; the worker-thread pair is measured only when exported. */
export interface AnsfloatModule {
  compress(file: Uint8Array): Uint8Array;
  decompress(stream: Uint8Array): Uint8Array;
  compressAsync?(file: Uint8Array, options: { threads: number }): Promise<Uint8Array>;
  decompressAsync?(stream: Uint8Array, options: { threads: number }): Promise<Uint8Array>;
}

let ansfloat: Promise<AnsfloatModule> | undefined;

/**
 * Loads ansfloat from the compiled package next to this file (dist/src from
 * dist/bench). The specifier is a variable so that the bench type-checks and
 * runs while src/ is mid-edit; a broken build shows up as "unavailable".
 */
export function loadAnsfloat(): Promise<AnsfloatModule> {
  const specifier = "../src/index.js";
  ansfloat ??= import(specifier) as Promise<AnsfloatModule>;
  return ansfloat;
}

/** Runs a command with `input` on stdin and returns its stdout; throws unless it exits 0. */
export function pipe(argv: string[], input: Uint8Array): Buffer {
  const [command, ...args] = argv;
  const run = spawnSync(command!, args, { input, maxBuffer: 2 ** 31 });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`${argv.join(" ")} exited with ${run.status ?? run.signal}: ${run.stderr.toString().trim()}`);
  return run.stdout;
}

/** The first version number a tool prints about itself, or "not found". */
function probeTool(command: string, versionArgs: string[]): Availability {
  const run = spawnSync(command, versionArgs, { input: "" });
  if (run.error) {
    return { unavailable: (run.error as NodeJS.ErrnoException).code === "ENOENT" ? `${command}: not found` : `${command}: ${run.error.message}` };
  }
  const version = /\d+\.\d+(\.\d+)?/.exec(`${run.stdout}${run.stderr}`)?.[0] ?? "unknown version";
  return { implementation: `${command} ${version} (Debian binary via pipe)` };
}

function binary(name: string, slow: boolean, compressArgv: string[], decompressArgv: string[], versionArgs: string[]): Codec {
  return {
    name,
    kind: "binary",
    slow,
    probe: async () => probeTool(compressArgv[0]!, versionArgs),
    compress: (input) => pipe(compressArgv, input),
    decompress: (packed) => pipe(decompressArgv, packed),
    commands: { compress: compressArgv, decompress: decompressArgv },
  };
}

// -T1 everywhere: every codec in the table runs on one thread.
const zstd = (level: number): Codec =>
  binary(`zstd -${level}`, level >= 10, ["zstd", `-${level}`, "-T1", "-q", "-c"], ["zstd", "-d", "-q", "-c"], ["-V"]);

function brotliParams(quality: number, input: Uint8Array): Record<number, number> {
  return {
    [zlibConstants.BROTLI_PARAM_QUALITY]: quality,
    // 24 is the largest window a standard (not "large window") brotli stream allows.
    [zlibConstants.BROTLI_PARAM_LGWIN]: quality >= 10 ? 24 : 22,
    [zlibConstants.BROTLI_PARAM_SIZE_HINT]: input.length,
  };
}

const brotliImplementation = async (): Promise<Availability> => ({ implementation: `node:zlib brotli ${process.versions.brotli}` });

function brotli(quality: number): Codec {
  return {
    name: `brotli q${quality}`,
    kind: "in-process",
    slow: quality >= 10,
    probe: brotliImplementation,
    compress: (input) => brotliCompressSync(input, { params: brotliParams(quality, input) }),
    decompress: (packed) => brotliDecompressSync(packed),
  };
}

function gzip(level: number): Codec {
  return {
    name: `gzip -${level}`,
    kind: "in-process",
    slow: false,
    probe: async () => ({ implementation: `node:zlib ${process.versions.zlib}` }),
    compress: (input) => gzipSync(input, { level }),
    decompress: (packed) => gunzipSync(packed),
  };
}

function zipnnStyle(name: string, backend: PlaneBackend, kind: CodecKind, probe: () => Promise<Availability>): Codec {
  return {
    name,
    kind,
    slow: false,
    probe: async () => {
      const inner = await probe();
      return "unavailable" in inner ? inner : { implementation: `bench/zipnn.ts byte grouping + ${inner.implementation}` };
    },
    compress: (input) => zipnnCompress(input, backend),
    decompress: (packed) => zipnnDecompress(packed, backend),
  };
}

function ansfloatCodec(): Codec {
  let mod: AnsfloatModule | undefined;
  const loadedModule = (): AnsfloatModule => {
    if (!mod) throw new Error("ansfloat used before probe() loaded it");
    return mod;
  };
  return {
    name: "ansfloat",
    kind: "in-process",
    slow: false,
    probe: async () => {
      try {
        mod = await loadAnsfloat();
        return { implementation: "ansfloat (this package: Wasm, one thread)" };
      } catch (error) {
        return { unavailable: error instanceof Error ? error.message : String(error) };
      }
    },
    compress: (input) => loadedModule().compress(input),
    decompress: (packed) => loadedModule().decompress(packed),
  };
}

/**
 * ansfloat's command line as a user runs it once per file: a fresh Node
 * process that loads the module, compiles the Wasm and warms up its
 * JavaScript on this one input, which the in-process row has done before it
 * is timed.
 */
function ansfloatCli(): Codec {
  // Beside this file when it is compiled (dist/bench), or the build's when it runs as source (the tests).
  const candidates = ["../src/cli.js", "../dist/src/cli.js"].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const cli = candidates.find((path) => existsSync(path)) ?? candidates[0]!;
  const compressArgv = [process.execPath, cli, "-c", "-q", "-T1", "-"];
  const decompressArgv = [process.execPath, cli, "-d", "-c", "-q", "-T1", "-"];
  return {
    ...binary("ansfloat CLI", false, compressArgv, decompressArgv, []),
    probe: async () =>
      existsSync(cli) ? { implementation: `ansfloat CLI (node ${process.versions.node} dist/src/cli.js via pipe, -T1)` } : { unavailable: `${cli}: not built` },
  };
}

/** Every codec, in the order the tables list them. */
export function allCodecs(): Codec[] {
  const zstd3 = zstd(3);
  const brotli4 = brotli(4);
  return [
    ansfloatCodec(),
    ansfloatCli(),
    zipnnStyle("zipnn-style + zstd -3", zstd3, "hybrid", zstd3.probe),
    zipnnStyle("zipnn-style + brotli q4", brotli4, "in-process", brotli4.probe),
    gzip(6),
    gzip(9),
    brotli4,
    brotli(11),
    zstd3,
    zstd(19),
    binary("bzip2 -9", false, ["bzip2", "-9", "-c"], ["bzip2", "-d", "-c"], ["--help"]),
    binary("xz -9", true, ["xz", "-9", "-T1", "-c"], ["xz", "-d", "-c"], ["--version"]),
    { ...binary("cat (pipe baseline)", false, ["cat"], ["cat"], ["--version"]), kind: "baseline" },
  ];
}
