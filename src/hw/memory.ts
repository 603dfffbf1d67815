// Memory shared by the cores: a bandwidth budget per clock. Latency is the
// fetch unit's business (each core's requests land `memLatency` clocks later).
//
// Bandwidth is counted in thousandths of a byte so that a rate such as
// 25.6 GB/s at 400 MHz (64 bytes per clock) or 10 GB/s at 300 MHz
// (33.333… bytes per clock) is exact integer arithmetic per clock.

export class MemoryArbiter {
  private readonly rate: number | null;
  private readonly cap: number;
  private credit = 0;
  /** Clocks in which some request was refused for lack of bandwidth. */
  refused = 0;
  private refusedThisCycle = false;

  constructor(bytesPerCycle: number | null, largestBeat: number) {
    this.rate = bytesPerCycle === null ? null : Math.max(1, Math.round(bytesPerCycle * 1000));
    // Unused bandwidth does not bank, except enough to always afford one beat.
    this.cap = this.rate === null ? 0 : this.rate + largestBeat * 1000;
  }

  beginCycle(): void {
    if (this.refusedThisCycle) this.refused++;
    this.refusedThisCycle = false;
    if (this.rate !== null) this.credit = Math.min(this.credit + this.rate, this.cap);
  }

  /** Grants a beat of `bytes` this clock if the budget allows. */
  grant(bytes: number): boolean {
    if (this.rate === null) return true;
    const cost = bytes * 1000;
    if (this.credit < cost) {
      this.refusedThisCycle = true;
      return false;
    }
    this.credit -= cost;
    return true;
  }
}
