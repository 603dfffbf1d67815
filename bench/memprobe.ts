// Child-process entry that runs one in-process codec once, so that its peak
// memory can be read from a process that did nothing else:
//   node --expose-gc dist/bench/memprobe.js <codec name> <compress|decompress> <in file> <out file>
// prints {"peakKiB", "ms", "method"}.

import { readFileSync, writeFileSync } from "node:fs";
import { allCodecs } from "./codecs.js";

const [name, phase, inFile, outFile] = process.argv.slice(2);
const codec = allCodecs().find((c) => c.name === name);
if (!codec || (phase !== "compress" && phase !== "decompress") || !inFile || !outFile) {
  throw new Error(`usage: memprobe.js <codec name> <compress|decompress> <in file> <out file> (got ${process.argv.slice(2).join(" ")})`);
}
const availability = await codec.probe();
if ("unavailable" in availability) throw new Error(availability.unavailable);
const input = readFileSync(inFile);

function procStatusKiB(field: "VmHWM" | "VmRSS"): number {
  const line = readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith(`${field}:`));
  return Number.parseInt(line!.slice(field.length + 1), 10);
}

/**
 * Starts a peak-RSS window and returns the function that closes it. On Linux
 * the kernel's high-water mark is reset to the current RSS (clear_refs "5"),
 * so the growth is exactly what the call added. Elsewhere it falls back to
 * getrusage's max RSS, which a child may inherit from its parent's size at
 * fork and then under-reports.
 */
function peakWindow(): { method: string; close(): number } {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    const before = procStatusKiB("VmRSS");
    return { method: "peak RSS growth during the call in a fresh node process (Linux VmHWM after clear_refs)", close: () => procStatusKiB("VmHWM") - before };
  } catch {
    const before = process.resourceUsage().maxRSS;
    return { method: "max RSS growth during the call in a fresh node process (process.resourceUsage().maxRSS)", close: () => process.resourceUsage().maxRSS - before };
  }
}

// Collect the garbage of start-up and reading first, so it is not counted as the call's.
(globalThis as { gc?: () => void }).gc?.();
const window = peakWindow();
const start = performance.now();
const output = phase === "compress" ? codec.compress(input) : codec.decompress(input);
const ms = performance.now() - start;
const peakKiB = window.close();

writeFileSync(outFile, output);
process.stdout.write(JSON.stringify({ peakKiB, ms, method: window.method }));
