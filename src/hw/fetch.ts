// A core's input side: one read port of busBytes per clock feeding two FIFOs.
//
// The word stream (N u32 lane states, then the u16 payload words; contiguous
// in the chunk) and the raw plane are read concurrently, at different rates,
// so the fetch unit keeps two read pointers and issues at most one beat per
// clock to whichever stream holds less (FIFO level plus bytes in flight),
// when its FIFO has room for the whole beat and memory grants the bandwidth.
// A beat lands memLatency clocks after its request.

import type { CoreConfig } from "./config.js";
import { ByteFifo } from "./fifo.js";
import type { ChunkJob } from "./job.js";
import type { MemoryArbiter } from "./memory.js";

interface Beat {
  arrive: number;
  raw: boolean;
  offset: number;
  length: number;
}

export class FetchUnit {
  readonly words: ByteFifo;
  readonly raw: ByteFifo;
  private readonly inflight: Beat[] = [];
  private inflightWords = 0;
  private inflightRaw = 0;
  private fetchedWords = 0;
  /** Raw-plane bytes requested so far. */
  fetchedRaw = 0;
  private job: ChunkJob | undefined;

  constructor(
    private readonly cfg: CoreConfig,
    private readonly memory: MemoryArbiter,
  ) {
    this.words = new ByteFifo(cfg.fifoBytes);
    this.raw = new ByteFifo(cfg.fifoBytes);
  }

  /** Points the unit at a new chunk; anything still buffered or in flight is dropped. */
  start(job: ChunkJob): void {
    this.job = job;
    this.words.reset();
    this.raw.reset();
    this.inflight.length = 0;
    this.inflightWords = this.inflightRaw = 0;
    this.fetchedWords = this.fetchedRaw = 0;
  }

  /** Delivers the beats whose latency has elapsed. */
  land(cycle: number): boolean {
    const job = this.job!;
    let moved = false;
    while (this.inflight.length > 0 && this.inflight[0]!.arrive <= cycle) {
      const beat = this.inflight.shift()!;
      if (beat.raw) {
        this.raw.push(job.raw, beat.offset, beat.length);
        this.inflightRaw -= beat.length;
      } else {
        this.words.push(job.words, beat.offset, beat.length);
        this.inflightWords -= beat.length;
      }
      moved = true;
    }
    return moved;
  }

  /** Issues at most one beat. */
  issue(cycle: number): boolean {
    const job = this.job!;
    const bus = this.cfg.busBytes;
    const wordBeat = Math.min(bus, job.words.length - this.fetchedWords);
    const rawBeat = Math.min(bus, job.raw.length - this.fetchedRaw);
    const wordHeld = this.words.level + this.inflightWords;
    const rawHeld = this.raw.level + this.inflightRaw;
    const wordOk = wordBeat > 0 && this.words.capacity - wordHeld >= wordBeat;
    const rawOk = rawBeat > 0 && this.raw.capacity - rawHeld >= rawBeat;
    if (!wordOk && !rawOk) return false;
    const raw = rawOk && (!wordOk || rawHeld < wordHeld);
    const length = raw ? rawBeat : wordBeat;
    if (!this.memory.grant(length)) return false;
    this.inflight.push({ arrive: cycle + this.cfg.memLatency, raw, offset: raw ? this.fetchedRaw : this.fetchedWords, length });
    if (raw) {
      this.fetchedRaw += length;
      this.inflightRaw += length;
    } else {
      this.fetchedWords += length;
      this.inflightWords += length;
    }
    return true;
  }
}
