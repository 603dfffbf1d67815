// Throughput with tinybench: a warm-up, then at least `minSamples` timed
// calls and more while the time budget lasts; reported as the median and the
// interquartile range, in MB/s (10^6 bytes per second) of the original size.

import { Bench } from "tinybench";

export interface TimingPlan {
  minSamples: number;
  budgetMs: number;
}

export interface Throughput {
  /** Median over samples, MB/s. */
  median: number;
  /** 25th and 75th percentiles of throughput (from the 75th and 25th of latency). */
  p25: number;
  p75: number;
  samples: number;
}

/** Linear interpolation between closest ranks of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}

/**
 * Times `fn`, which processes `bytes` of original data per call. `warm`
 * says whether to warm up: calls that take seconds gain nothing from JIT
 * warm-up and would only double the run time, so the caller skips it for
 * them.
 */
export async function measure(fn: () => unknown, bytes: number, plan: TimingPlan, warm: boolean): Promise<Throughput> {
  const bench = new Bench({
    iterations: plan.minSamples,
    time: plan.budgetMs,
    warmup: warm,
    warmupIterations: 1,
    warmupTime: Math.min(250, plan.budgetMs),
    retainSamples: true,
    throws: true,
  });
  bench.add("task", fn);
  const [task] = await bench.run();
  const result = task!.result;
  if (!("latency" in result) || !result.latency.samples) throw new Error(`tinybench: task ended ${result.state}`);
  const latencies = result.latency.samples;
  const mbPerS = (ms: number): number => bytes / 1e6 / (ms / 1000);
  return {
    median: mbPerS(quantile(latencies, 0.5)),
    p25: mbPerS(quantile(latencies, 0.75)),
    p75: mbPerS(quantile(latencies, 0.25)),
    samples: latencies.length,
  };
}
