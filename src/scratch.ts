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
 * Zeroed arrays of one kind carved from a kept buffer. A full buffer is
 * replaced by one twice the size (views of the old one stay valid), which is
 * kept from then on.
 */
class Carver<A extends Uint32Array | Float64Array> {
  private top = 0;

  constructor(
    private buffer: A,
    private readonly make: (length: number) => A,
  ) {}

  take(n: number): A {
    if (this.top + n > this.buffer.length) {
      this.buffer = this.make(Math.max(2 * this.buffer.length, n));
      this.top = 0;
    }
    const view = this.buffer.subarray(this.top, (this.top += n)) as A;
    view.fill(0);
    return view;
  }

  reset(): void {
    this.top = 0;
  }
}

/** Arrays valid until reset(). */
export class Scratch implements ArrayRoom {
  private readonly u32s = new Carver(new Uint32Array(1 << 14), (n) => new Uint32Array(n));
  private readonly f64s = new Carver(new Float64Array(1 << 12), (n) => new Float64Array(n));

  u32(n: number): Uint32Array {
    return this.u32s.take(n);
  }

  f64(n: number): Float64Array {
    return this.f64s.take(n);
  }

  reset(): void {
    this.u32s.reset();
    this.f64s.reset();
  }
}
