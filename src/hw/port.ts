// A core's output side: the output FIFO falls through to a port that moves
// outBytes per clock (one element per clock when outBytes is 0). When the
// FIFO is full the core stalls: that is output back-pressure.

import type { CoreConfig } from "./config.js";
import { WordFifo } from "./fifo.js";

export class OutputPort {
  readonly fifo: WordFifo;
  private credit = 0;
  private width = 1;
  /** Elements sent so far; the port sends in element order. */
  delivered = 0;
  private output: Uint8Array = new Uint8Array(0);
  private cycleOf: Float64Array = new Float64Array(0);

  constructor(private readonly cfg: CoreConfig) {
    this.fifo = new WordFifo(cfg.outFifo);
  }

  /** Starts a chunk whose elements of `width` bytes go to `output`, their decode clocks to `cycleOf`. */
  start(output: Uint8Array, cycleOf: Float64Array, width: number): void {
    this.fifo.reset();
    this.credit = 0;
    this.delivered = 0;
    this.output = output;
    this.cycleOf = cycleOf;
    this.width = width;
  }

  /** One clock of the port. */
  send(): boolean {
    const fifo = this.fifo;
    const width = this.width;
    if (fifo.level === 0) {
      this.credit = 0;
      return false;
    }
    this.credit += this.cfg.outBytes === 0 ? width : this.cfg.outBytes;
    let moved = false;
    while (fifo.level > 0 && this.credit >= width) {
      const e = fifo.headElement;
      if (e !== this.delivered) throw new Error(`internal: element ${e} delivered out of order`);
      const v = fifo.headValue;
      for (let b = 0; b < width; b++) this.output[e * width + b] = (v >>> (8 * b)) & 0xff;
      this.cycleOf[e] = fifo.headCycle;
      fifo.pop();
      this.delivered++;
      this.credit -= width;
      moved = true;
    }
    // An idle port does not bank bandwidth.
    if (fifo.level === 0) this.credit = 0;
    return moved;
  }
}
