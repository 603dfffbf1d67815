// Little byte-level readers and writers for headers and indexes: LEB128
// varints and a bounds-checked cursor that fails with TRUNCATED rather than
// reading garbage.

import { AnsfError } from "./errors.js";

/** The bytes of a typed array, without a copy. */
export function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A new zeroed buffer of `bytes` for a decoded result (`shared`: in a
 * SharedArrayBuffer). A stream may claim more than one buffer holds: a few
 * kilobytes of repeated chunks can claim gigabytes. That is TOO_LARGE,
 * not the allocation's RangeError.
 */
export function resultBuffer(bytes: number, shared = false): Uint8Array {
  try {
    return new Uint8Array(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new AnsfError("TOO_LARGE", `the result takes ${bytes} bytes, more than one buffer can hold here; decode it to a file (the CLI streams)`, { cause: err });
  }
}

/** Growable byte sink. */
export class ByteWriter {
  // 64 bytes: V8 allocates a typed array up to that size on its heap, several times faster than a larger one.
  private buf = new Uint8Array(64);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }

  u32(v: number): void {
    this.room(4);
    new DataView(this.buf.buffer).setUint32(this.length, v >>> 0, true);
    this.length += 4;
  }

  u64(v: number): void {
    this.room(8);
    new DataView(this.buf.buffer).setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }

  /** Unsigned LEB128 of a safe integer. */
  varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new AnsfError("BAD_ARGUMENT", `varint out of range: ${v}`);
    while (v >= 0x80) {
      this.u8((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.u8(v);
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Bounds-checked reader; `what` names the structure in error messages. */
export class ByteReader {
  pos = 0;

  constructor(
    readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new AnsfError("TRUNCATED", `${this.what} ends early: need ${n} bytes at offset ${this.pos}, have ${this.remaining}`);
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  /**
   * The little-endian u32 at p, byte by byte: a DataView per field cost a
   * chunk header's parse more than its other fields, and a GGUF header's
   * vocabulary has a 64-bit length per string.
   */
  private wordAt(p: number): number {
    const b = this.buf;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  u32(): number {
    this.need(4);
    const v = this.wordAt(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const low = this.wordAt(this.pos);
    const high = this.wordAt(this.pos + 4);
    this.pos += 8;
    // Above 2^53 - 1 exactly when the high word reaches 2^21.
    if (high >= 1 << 21) throw new AnsfError("CORRUPT_STREAM", `${this.what}: 64-bit field too large`);
    return high * 2 ** 32 + low;
  }

  /** Unsigned LEB128, at most 8 bytes (53 bits). */
  varint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
    }
    throw new AnsfError("CORRUPT_STREAM", `${this.what}: varint longer than 8 bytes at offset ${this.pos}`);
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

/** LSB-first bit writer for the frequency model. */
export class BitWriter {
  private readonly out = new ByteWriter();
  private acc = 0;
  private fill = 0;

  /** The low n (< 25) bits of v. */
  bits(v: number, n: number): void {
    this.acc |= (v & ((1 << n) - 1)) << this.fill;
    this.fill += n;
    while (this.fill >= 8) {
      this.out.u8(this.acc & 0xff);
      this.acc >>>= 8;
      this.fill -= 8;
    }
  }

  /** Elias gamma code of v >= 1: floor(log2 v) zeros, a one, then the low bits. */
  gamma(v: number): void {
    const nz = 31 - Math.clz32(v);
    this.bits(0, nz);
    this.bits(1, 1);
    this.bits(v & ((1 << nz) - 1), nz);
  }

  finish(): Uint8Array {
    if (this.fill > 0) this.out.u8(this.acc);
    return this.out.finish();
  }
}

/**
 * Reader for BitWriter's output; running off the end is CORRUPT_STREAM.
 * Fields are cut from a window of up to 32 unread bits, topped up a byte
 * at a time only when a field needs more: a chunk's models and lane states
 * are read per chunk, and for files of small tensors that is a sizeable
 * part of decoding.
 */
export class BitReader {
  /** The unread bits taken from the stream so far, least significant first; the bits above `avail` are zero. */
  private acc = 0;
  private avail = 0;
  /** The next byte to take. */
  private next = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  private endsEarly(): AnsfError {
    return new AnsfError("CORRUPT_STREAM", `${this.what}: bit stream ends early`);
  }

  /** Tops the window up to at least 25 bits, where the stream has them. */
  private refill(): void {
    const b = this.buf;
    while (this.avail <= 24 && this.next < b.length) {
      this.acc |= b[this.next++]! << this.avail;
      this.avail += 8;
    }
  }

  /** The next n (< 25) bits, least significant first. */
  bits(n: number): number {
    if (this.avail < n) {
      this.refill();
      if (this.avail < n) throw this.endsEarly();
    }
    const v = this.acc & ((1 << n) - 1);
    this.acc >>>= n;
    this.avail -= n;
    return v;
  }

  /**
   * The whole bytes read so far, checking that the unread high bits of the
   * last one are zero: a stream of several bitstreams then leaves no bit unchecked.
   */
  finish(): number {
    // The unread bits of a partly read byte are the window's lowest.
    if ((this.acc & ((1 << (this.avail & 7)) - 1)) !== 0) {
      throw new AnsfError("CORRUPT_STREAM", `${this.what}: padding bits are not zero`);
    }
    return this.next - (this.avail >>> 3);
  }

  /** Gamma code with at most `maxBits` (< 25) significant bits. */
  gamma(maxBits: number): number {
    if (this.avail < 25) this.refill();
    // The zeros before the first one, counted at once.
    const w = this.acc;
    const nz = w === 0 ? this.avail : 31 - Math.clz32(w & -w);
    if (nz >= maxBits) throw new AnsfError("CORRUPT_STREAM", `${this.what}: gamma code too long`);
    if (w === 0) throw this.endsEarly();
    this.acc >>>= nz + 1;
    this.avail -= nz + 1;
    return (1 << nz) | this.bits(nz);
  }
}
