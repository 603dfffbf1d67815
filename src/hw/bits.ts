// Bit-width discipline for the hardware model.
//
// Every datapath signal is a JS number kept in [0, 2^width): values are
// masked where a register of that width is written, products use Math.imul
// (whose low 32 bits are exact) and results are normalised with >>> 0. No
// value in the datapath ever passes through floating-point arithmetic.

/** Unsigned 32-bit rotate left. */
export function rotl32(v: number, r: number): number {
  return ((v << r) | (v >>> (32 - r))) >>> 0;
}

/** Lower-case hex of an unsigned value, zero-padded to `bits` bits. */
export function hex(v: number, bits: number): string {
  return (v >>> 0).toString(16).padStart(Math.ceil(bits / 4), "0");
}
