// Decode-table memory and the FSM that fills it, one slot per clock.
//
// The host hands each chunk's descriptor the list of present codes and their
// frequencies (parsed from the chunk's Elias-gamma model); the builder walks
// it and writes slot after slot through one block-RAM write port, so a table
// of 2^P slots takes exactly 2^P clocks. Both organisations are written in the
// same pass: the slot entry {freq, bias, code} and, on a second port when a
// code's run begins, the per-code entry {freq, start} of the split table.
//
// Widths (P ≤ 15, codes ≤ 12 bits): freq ∈ [1, 2^P] is P + 1 ≤ 16 bits;
// bias = slot − start < 2^P and start < 2^P are P ≤ 15 bits; code ≤ 12 bits.
// Each array is a Uint16Array, wide enough for every field.

import { AnsfError } from "../errors.js";

export const MAX_P = 15;
export const MAX_CODE_BITS = 12;

/** One table buffer, sized for the largest precision and alphabet the format allows. */
export class DecodeTable {
  precision = 0;
  /** Slot organisation: per slot. */
  readonly freq = new Uint16Array(1 << MAX_P);
  readonly bias = new Uint16Array(1 << MAX_P);
  /** Code of each slot (both organisations). */
  readonly sym = new Uint16Array(1 << MAX_P);
  /** Split organisation: per code. */
  readonly infoFreq = new Uint16Array(1 << MAX_CODE_BITS);
  readonly infoStart = new Uint16Array(1 << MAX_CODE_BITS);
}

/** The table-fill FSM's registers. */
export class TableBuilder {
  private codes: Uint32Array = new Uint32Array(0);
  private freqs: Uint32Array = new Uint32Array(0);
  private table: DecodeTable | undefined;
  /** Next slot to write, P + 1 bits (it counts up to 2^P). */
  private slot = 0;
  private total = 0;
  /** Index into the present-code list, its start slot and the slots it still has. */
  private ci = 0;
  private start = 0;
  private left = 0;

  get busy(): boolean {
    return this.table !== undefined;
  }

  /** Starts filling `table` from normalised frequencies (one per code, summing to 2^P). */
  begin(table: DecodeTable, freqs: Uint32Array, precision: number): void {
    const present: number[] = [];
    for (let s = 0; s < freqs.length; s++) if (freqs[s]! > 0) present.push(s);
    if (present.length === 0) throw new AnsfError("CORRUPT_STREAM", "chunk model has no codes");
    this.codes = Uint32Array.from(present);
    this.freqs = freqs;
    this.table = table;
    table.precision = precision;
    this.total = 1 << precision;
    this.slot = 0;
    this.ci = 0;
    this.start = 0;
    this.left = freqs[present[0]!]!;
  }

  /** One clock: writes one slot. Returns true when the table is complete. */
  step(): boolean {
    const t = this.table;
    if (!t) return false;
    const code = this.codes[this.ci]!;
    const f = this.freqs[code]!;
    if (this.slot === this.start) {
      t.infoFreq[code] = f;
      t.infoStart[code] = this.start;
    }
    t.freq[this.slot] = f;
    t.bias[this.slot] = this.slot - this.start;
    t.sym[this.slot] = code;
    this.slot++;
    this.left--;
    if (this.slot === this.total) {
      this.table = undefined;
      return true;
    }
    if (this.left === 0) {
      this.ci++;
      this.start = this.slot;
      this.left = this.freqs[this.codes[this.ci]!]!;
    }
    return false;
  }
}

/** A table built to completion on fresh memory (for test vectors). */
export function buildTable(freqs: Uint32Array, precision: number): DecodeTable {
  const table = new DecodeTable();
  const b = new TableBuilder();
  b.begin(table, freqs, precision);
  while (!b.step());
  return table;
}
