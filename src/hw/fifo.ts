// The core's FIFOs.

/**
 * Input byte FIFO: beats of up to `busBytes` bytes in, fixed-width reads out.
 * The word FIFO is read 16 bits (renormalisation) or 32 bits (lane states)
 * at a time; the raw-plane FIFO through a bit-aligned read port.
 */
export class ByteFifo {
  private readonly buf: Uint8Array;
  private readonly wrap: number;
  private head = 0;
  level = 0;
  /**
   * Raw read port: bits of the head byte already consumed, 0…7 (3 bits).
   * A field of w ≤ 24 bits starting at bit offset ≤ 7 spans at most 31 bits,
   * so the port is a 32-bit window over the 4 head bytes and a right shifter.
   */
  bitOffset = 0;

  constructor(readonly capacity: number) {
    this.buf = new Uint8Array(capacity);
    this.wrap = capacity - 1;
  }

  reset(): void {
    this.head = 0;
    this.level = 0;
    this.bitOffset = 0;
  }

  get space(): number {
    return this.capacity - this.level;
  }

  push(src: Uint8Array, offset: number, length: number): void {
    let at = (this.head + this.level) & this.wrap;
    for (let i = 0; i < length; i++) {
      this.buf[at] = src[offset + i]!;
      at = (at + 1) & this.wrap;
    }
    this.level += length;
  }

  private byte(i: number): number {
    return this.buf[(this.head + i) & this.wrap]!;
  }

  private drop(n: number): void {
    this.head = (this.head + n) & this.wrap;
    this.level -= n;
  }

  /** Little-endian 16-bit word (the caller checked level ≥ 2). */
  popU16(): number {
    const v = this.byte(0) | (this.byte(1) << 8);
    this.drop(2);
    return v;
  }

  /** Little-endian 32-bit word (the caller checked level ≥ 4). */
  popU32(): number {
    const v = (this.byte(0) | (this.byte(1) << 8) | (this.byte(2) << 16) | (this.byte(3) << 24)) >>> 0;
    this.drop(4);
    return v;
  }

  /** Bits the raw read port can deliver. */
  get bits(): number {
    return 8 * this.level - this.bitOffset;
  }

  /** The next w bits of an LSB-first bitstream, 0 < w ≤ 24 (the caller checked `bits` ≥ w). */
  takeBits(w: number): number {
    // Window bytes past `level` hold stale data, but only above bit `bits` ≥ w: masked off.
    const window = (this.byte(0) | (this.byte(1) << 8) | (this.byte(2) << 16) | (this.byte(3) << 24)) >>> 0;
    const v = (window >>> this.bitOffset) & ((1 << w) - 1);
    const end = this.bitOffset + w;
    this.drop(end >>> 3);
    this.bitOffset = end & 7;
    return v;
  }
}

/** Output FIFO of assembled words, each tagged (for the model's reports only) with its element and decode clock. */
export class WordFifo {
  private readonly value: Uint32Array;
  private readonly element: Float64Array;
  private readonly cycle: Float64Array;
  private head = 0;
  level = 0;

  constructor(readonly capacity: number) {
    this.value = new Uint32Array(capacity);
    this.element = new Float64Array(capacity);
    this.cycle = new Float64Array(capacity);
  }

  reset(): void {
    this.head = 0;
    this.level = 0;
  }

  get full(): boolean {
    return this.level === this.capacity;
  }

  push(value: number, element: number, cycle: number): void {
    const at = (this.head + this.level) % this.capacity;
    this.value[at] = value;
    this.element[at] = element;
    this.cycle[at] = cycle;
    this.level++;
  }

  /** Removes the head; read it first with the getters. */
  pop(): void {
    this.head = (this.head + 1) % this.capacity;
    this.level--;
  }

  get headValue(): number {
    return this.value[this.head]!;
  }

  get headElement(): number {
    return this.element[this.head]!;
  }

  get headCycle(): number {
    return this.cycle[this.head]!;
  }
}
