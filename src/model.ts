// The frequency model of a chunk: code counts normalised to a power-of-two
// total, its exact coding cost, and its compact serialised form.

import { BitReader, BitWriter } from "./bytes.js";
import { AnsfError } from "./errors.js";

/**
 * Frequencies summing to exactly 2^precision, nonzero exactly where counts
 * are, minimising the coded size sum(c * log2(2^P / f)). Starts from the
 * rounded proportional share, then moves one slot at a time to (or from)
 * the code where that gains most (costs least), kept in a heap so the fix-up
 * is O(d log S) even for 4096-code alphabets. Returns null when more codes
 * are present than slots.
 */
export function normalize(counts: ArrayLike<number>, precision: number): Uint32Array | null {
  const total = 1 << precision;
  const freqs = new Uint32Array(counts.length);
  let n = 0;
  const present: number[] = [];
  for (let s = 0; s < counts.length; s++) {
    n += counts[s]!;
    if (counts[s]! > 0) present.push(s);
  }
  if (present.length === 0 || present.length > total) return null;
  let sum = 0;
  for (const s of present) {
    freqs[s] = Math.max(1, Math.round((counts[s]! * total) / n));
    sum += freqs[s]!;
  }
  if (sum === total) return freqs;
  const grow = sum < total;
  // Gain of one more slot for code s, or minus the loss of one fewer.
  const score = (s: number): number => {
    const c = counts[s]!;
    const f = freqs[s]!;
    if (grow) return c * Math.log2((f + 1) / f);
    return f === 1 ? -Infinity : -c * Math.log2(f / (f - 1));
  };
  const heap = new MaxHeap(present, score);
  while (sum !== total) {
    const s = heap.top();
    freqs[s]! += grow ? 1 : -1;
    sum += grow ? 1 : -1;
    heap.rescoreTop();
  }
  return freqs;
}

/** Binary max-heap of codes by a score that changes only for the top. */
class MaxHeap {
  private readonly keys: Float64Array;

  constructor(
    private readonly items: number[],
    private readonly score: (s: number) => number,
  ) {
    this.keys = Float64Array.from(items, score);
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  top(): number {
    return this.items[0]!;
  }

  rescoreTop(): void {
    this.keys[0] = this.score(this.items[0]!);
    this.down(0);
  }

  private down(i: number): void {
    const { items, keys } = this;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && keys[l]! > keys[m]!) m = l;
      if (r < items.length && keys[r]! > keys[m]!) m = r;
      if (m === i) return;
      [items[i], items[m]] = [items[m]!, items[i]!];
      [keys[i], keys[m]] = [keys[m]!, keys[i]!];
      i = m;
    }
  }
}

/** Bits the rANS payload takes for these counts under these frequencies (ideal, exact to rounding). */
export function codedBits(counts: ArrayLike<number>, freqs: Uint32Array, precision: number): number {
  let bits = 0;
  for (let s = 0; s < counts.length; s++) {
    const c = counts[s]!;
    if (c > 0) bits += c * (precision - Math.log2(freqs[s]!));
  }
  return bits;
}

/** Order-0 entropy of the counts in bits (the ideal a model could reach). */
export function entropyBits(counts: ArrayLike<number>): number {
  let n = 0;
  for (let s = 0; s < counts.length; s++) n += counts[s]!;
  let bits = 0;
  for (let s = 0; s < counts.length; s++) {
    const c = counts[s]!;
    if (c > 0) bits -= c * Math.log2(c / n);
  }
  return bits;
}

/**
 * Serialised model: gamma(runs), then per run of present codes gamma(gap + 1)
 * and gamma(length), then gamma(freq) per present code. Exponent histograms
 * are one or two contiguous runs, so the symbol set costs a few bytes.
 */
export function writeModel(freqs: Uint32Array): Uint8Array {
  const runs: [number, number][] = [];
  for (let s = 0; s < freqs.length; s++) {
    if (freqs[s] === 0) continue;
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === s) last[1]++;
    else runs.push([s, 1]);
  }
  const w = new BitWriter();
  w.gamma(runs.length);
  let next = 0;
  for (const [start, length] of runs) {
    w.gamma(start - next + 1);
    w.gamma(length);
    next = start + length;
  }
  for (const f of freqs) if (f > 0) w.gamma(f);
  return w.finish();
}

/** Inverse of writeModel, validated: every code inside the alphabet, total exactly 2^precision. */
export function readModel(bytes: Uint8Array, alphabet: number, precision: number): Uint32Array {
  const r = new BitReader(bytes, "frequency model");
  const bad = (why: string) => new AnsfError("CORRUPT_STREAM", `frequency model: ${why}`);
  const freqs = new Uint32Array(alphabet);
  const runCount = r.gamma(17);
  if (runCount > alphabet) throw bad(`${runCount} runs in an alphabet of ${alphabet}`);
  const present: number[] = [];
  let next = 0;
  for (let i = 0; i < runCount; i++) {
    const start = next + r.gamma(17) - 1;
    const length = r.gamma(17);
    if (start + length > alphabet) throw bad(`run [${start}, ${start + length}) outside the alphabet of ${alphabet}`);
    for (let s = start; s < start + length; s++) present.push(s);
    next = start + length;
  }
  const total = 1 << precision;
  let sum = 0;
  for (const s of present) {
    const f = r.gamma(17);
    sum += f;
    if (sum > total) throw bad(`frequencies exceed 2^${precision}`);
    freqs[s] = f;
  }
  if (sum !== total) throw bad(`frequencies sum to ${sum}, not 2^${precision}`);
  return freqs;
}
