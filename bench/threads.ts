// Scaling of ansfloat's async API with the number of worker threads, from 1
// to the machine's core count. Measured only when the package exports
// compressAsync and decompressAsync; each thread count is round-tripped
// before it is timed.

import { cpus } from "node:os";
import type { AnsfloatModule } from "./codecs.js";
import { measure, type Throughput, type TimingPlan } from "./timing.js";
import { sameBytes } from "./verify.js";

export interface ThreadPoint {
  threads: number;
  compress: Throughput;
  decompress: Throughput;
}

export type ThreadScaling = { points: ThreadPoint[] } | { unavailable: string } | { failed: string };

export async function measureThreads(mod: AnsfloatModule, input: Uint8Array, plan: TimingPlan): Promise<ThreadScaling> {
  const { compressAsync, decompressAsync } = mod;
  if (typeof compressAsync !== "function" || typeof decompressAsync !== "function") {
    return { unavailable: "ansfloat exports no compressAsync/decompressAsync yet" };
  }
  const points: ThreadPoint[] = [];
  for (let threads = 1; threads <= cpus().length; threads++) {
    const options = { threads };
    try {
      const packed = await compressAsync(input, options);
      const restored = await decompressAsync(packed, options);
      if (!sameBytes(restored, input)) {
        return { failed: `round trip with ${threads} threads differs from the input` };
      }
      points.push({
        threads,
        compress: await measure(() => compressAsync(input, options), input.length, plan, true),
        decompress: await measure(() => decompressAsync(packed, options), input.length, plan, true),
      });
    } catch (error) {
      return { failed: `${threads} threads: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  return { points };
}
