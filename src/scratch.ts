// Typed arrays for the encoder's model search, carved from buffers kept
// between chunks. V8 places a typed array of more than 64 bytes outside its
// heap, at about 0.5 us each, and the search makes a hundred or so per chunk
// (each k's and each group's histogram, each candidate's frequencies): more
// than the arithmetic on them. A view of a kept buffer costs 20-30 ns.

/** Where a function takes its zeroed arrays from. */
export interface ArrayRoom {
  u32(n: number): Uint32Array;
  f64(n: number): Float64Array;
}

/** Fresh arrays, for callers whose results outlive a chunk's search. */
export const FRESH: ArrayRoom = {
  u32: (n) => new Uint32Array(n),
  f64: (n) => new Float64Array(n),
};

/**
 * Arrays valid until reset(). A full buffer is replaced by one twice the
 * size (views of the old one stay valid), which is kept from then on.
 */
export class Scratch implements ArrayRoom {
  private u32s = new Uint32Array(1 << 14);
  private u32Top = 0;
  private f64s = new Float64Array(1 << 12);
  private f64Top = 0;

  u32(n: number): Uint32Array {
    if (this.u32Top + n > this.u32s.length) {
      this.u32s = new Uint32Array(Math.max(2 * this.u32s.length, n));
      this.u32Top = 0;
    }
    const view = this.u32s.subarray(this.u32Top, (this.u32Top += n));
    view.fill(0);
    return view;
  }

  f64(n: number): Float64Array {
    if (this.f64Top + n > this.f64s.length) {
      this.f64s = new Float64Array(Math.max(2 * this.f64s.length, n));
      this.f64Top = 0;
    }
    const view = this.f64s.subarray(this.f64Top, (this.f64Top += n));
    view.fill(0);
    return view;
  }

  reset(): void {
    this.u32Top = 0;
    this.f64Top = 0;
  }
}
