// Several cores decoding separate chunks, stepped in lockstep because they
// share memory bandwidth. A dispatcher hands out chunks in stream order to
// whichever core has a free descriptor slot (cores with nothing queued first).

import { withDefaults, type SystemConfig } from "./config.js";
import { DecoderCore, type ChunkResult } from "./core.js";
import type { ChunkJob } from "./job.js";
import { MemoryArbiter } from "./memory.js";

export class HwSystem {
  readonly cfg: SystemConfig;
  readonly cores: DecoderCore[];
  readonly memory: MemoryArbiter;
  /** Clocks simulated so far; the clock of the next tick. */
  cycle = 0;
  private next = 0;
  private pending = 0;

  constructor(
    config: Partial<SystemConfig>,
    private readonly jobs: ChunkJob[],
  ) {
    this.cfg = withDefaults(config);
    this.memory = new MemoryArbiter(this.cfg.memBytesPerCycle, this.cfg.busBytes);
    this.cores = Array.from({ length: this.cfg.cores }, (_, i) => new DecoderCore(i, this.cfg, this.memory));
    this.pending = jobs.length;
  }

  get done(): boolean {
    return this.pending === 0;
  }

  /** Runs until at least one chunk completes (or `maxCycles` pass); returns the chunks completed. */
  step(maxCycles = Infinity): ChunkResult[] {
    const results: ChunkResult[] = [];
    const stop = this.cycle + maxCycles;
    const n = this.cores.length;
    while (this.pending > 0 && results.length === 0 && this.cycle < stop) {
      this.dispatch();
      this.memory.beginCycle();
      // Rotating order: the first core to ask for bandwidth changes every clock.
      const first = this.cycle % n;
      for (let i = 0; i < n; i++) {
        const r = this.cores[(first + i) % n]!.tick(this.cycle);
        if (r) results.push(r);
      }
      this.pending -= results.length;
      this.cycle++;
    }
    return results;
  }

  /** Runs to the end, collecting every result. */
  runAll(): ChunkResult[] {
    const all: ChunkResult[] = [];
    while (!this.done) all.push(...this.step());
    return all;
  }

  private dispatch(): void {
    while (this.next < this.jobs.length) {
      let best: DecoderCore | undefined;
      for (const c of this.cores) if (c.canAccept && (!best || c.queued < best.queued)) best = c;
      if (!best) return;
      best.accept(this.jobs[this.next++]!);
    }
  }
}
