// The one untimed round trip each codec must pass before any of its numbers
// count. It runs where peak memory can be read cleanly: command-line tools
// under /usr/bin/time, in-process codecs in a fresh node process
// (memprobe.ts). The compressed bytes it returns are the ones the ratio is
// computed from and the ones the decompress timing decodes.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pipe, type Codec } from "./codecs.js";

export interface PeakMemory {
  /** KiB, or null when it could not be measured. */
  compressKiB: number | null;
  decompressKiB: number | null;
  /** What the numbers are. */
  method: string;
}

export interface Verified {
  packed: Uint8Array;
  memory: PeakMemory;
  /** Wall time of the verification calls, to decide whether timing needs a warm-up. */
  compressMs: number;
  decompressMs: number;
}

const TIME = "/usr/bin/time";
const MEMPROBE = fileURLToPath(new URL("./memprobe.js", import.meta.url));

interface Run {
  output: Uint8Array;
  peakKiB: number | null;
  ms: number;
  /** How peakKiB was measured. */
  method: string;
}

function runTool(argv: string[], input: Uint8Array, scratch: string): Run {
  const start = performance.now();
  if (!existsSync(TIME)) return { output: pipe(argv, input), peakKiB: null, ms: performance.now() - start, method: "not measured: /usr/bin/time not found" };
  const report = join(scratch, "time.txt");
  const output = pipe([TIME, "-f", "%M", "-o", report, ...argv], input);
  const ms = performance.now() - start;
  const peakKiB = Number(readFileSync(report, "utf8").trim().split("\n").pop());
  return { output, peakKiB, ms, method: "max RSS of the tool's process (/usr/bin/time %M)" };
}

function runProbe(codec: Codec, phase: "compress" | "decompress", input: Uint8Array, scratch: string): Run {
  const inFile = join(scratch, `${phase}.in`);
  const outFile = join(scratch, `${phase}.out`);
  writeFileSync(inFile, input);
  const child = spawnSync(process.execPath, ["--expose-gc", MEMPROBE, codec.name, phase, inFile, outFile], { encoding: "utf8" });
  if (child.status !== 0) {
    const why = child.error?.message ?? child.stderr.trim().split("\n").slice(-3).join(" / ");
    throw new Error(`${phase} failed in a child process: ${why}`);
  }
  const { peakKiB, ms, method } = JSON.parse(child.stdout) as { peakKiB: number; ms: number; method: string };
  return { output: readFileSync(outFile), peakKiB, ms, method };
}

/** Byte equality without copying either side. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** Compresses and decompresses once; throws unless the result is byte-identical to `input`. */
export function verifyRoundTrip(codec: Codec, input: Uint8Array, scratch: string): Verified {
  const tool = codec.commands;
  const run = (phase: "compress" | "decompress", data: Uint8Array): Run =>
    tool ? runTool(tool[phase], data, scratch) : runProbe(codec, phase, data, scratch);
  const packed = run("compress", input);
  const restored = run("decompress", packed.output);
  if (!sameBytes(restored.output, input)) {
    throw new Error(
      `round trip differs from the input (${restored.output.length} bytes back for ${input.length}; first difference at byte ${firstDifference(restored.output, input)})`,
    );
  }
  const method = codec.kind === "hybrid" ? `${packed.method}; the child processes it spawns are not included` : packed.method;
  return {
    packed: packed.output,
    memory: { compressKiB: packed.peakKiB, decompressKiB: restored.peakKiB, method },
    compressMs: packed.ms,
    decompressMs: restored.ms,
  };
}
