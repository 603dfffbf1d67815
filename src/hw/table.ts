// Decode-table memory and the FSM that fills it, one slot per clock.
//
// A chunk has G tables (G = 1, or 2…8 with channel contexts), each of 2^P
// slots, laid out one after another: table g at slots g·2^P …, so a lookup
// addresses {group, x mod 2^P}. The host hands each chunk's descriptor the
// list of present codes and their frequencies, table after table (parsed
// from the chunk's Elias-gamma models); the builder walks it and writes slot
// after slot through one block-RAM write port, so G tables take exactly G·2^P
// clocks. Each table's frequencies sum to 2^P, so a table ends exactly where
// the slot counter crosses into the next group: the list needs no markers.
// Both organisations are written in the same pass: the slot entry
// {freq, bias, code} and, on a second port when a code's run begins, the
// per-code entry {freq, start} of the split table at {group, code}.
//
// Widths (G·2^P ≤ 2^15, G·2^(E+k) ≤ 2^12): freq ∈ [1, 2^P] is P + 1 ≤ 16 bits;
// bias = slot − start < 2^P and start < 2^P are P ≤ 15 bits; code ≤ 15 bits.
// Each array is a Uint16Array, wide enough for every field.

import { AnsfError } from "../errors.js";

/** Slots of all a chunk's tables together (G·2^P), as the format bounds them. */
export const MAX_SLOT_BITS = 15;
/** Per-code entries of all a chunk's tables together (G·2^(E+k)). */
export const MAX_CODE_BITS = 15;

/** One table buffer, sized for the most slots and codes the format allows. */
export class DecodeTable {
  precision = 0;
  groups = 1;
  /** Slot organisation: per slot {group, x mod 2^P}. */
  readonly freq = new Uint16Array(1 << MAX_SLOT_BITS);
  readonly bias = new Uint16Array(1 << MAX_SLOT_BITS);
  /** Code of each slot (both organisations). */
  readonly sym = new Uint16Array(1 << MAX_SLOT_BITS);
  /** Split organisation: per {group, code}. */
  readonly infoFreq = new Uint16Array(1 << MAX_CODE_BITS);
  readonly infoStart = new Uint16Array(1 << MAX_CODE_BITS);
}

/** The table-fill FSM's registers. */
export class TableBuilder {
  /** The present-code list, table after table: code and frequency. */
  private codes: Uint32Array = new Uint32Array(0);
  private freqs: Uint32Array = new Uint32Array(0);
  private table: DecodeTable | undefined;
  private precision = 0;
  private codeBits = 0;
  /** Next slot to write, {group, slot within the table}: 16 bits (it counts up to G·2^P ≤ 2^15). */
  private slot = 0;
  private total = 0;
  /** Index into the present-code list, the start slot of its run and the slots it still has. */
  private ci = 0;
  private start = 0;
  private left = 0;

  get busy(): boolean {
    return this.table !== undefined;
  }

  /** Starts filling `table` from G tables of normalised frequencies (one per code, each summing to 2^P). */
  begin(table: DecodeTable, tables: readonly Uint32Array[], precision: number, codeBits: number): void {
    const codes: number[] = [];
    const freqs: number[] = [];
    tables.forEach((t, g) => {
      const before = codes.length;
      for (let s = 0; s < t.length; s++) {
        if (t[s]! === 0) continue;
        codes.push(s);
        freqs.push(t[s]!);
      }
      if (codes.length === before) throw new AnsfError("CORRUPT_STREAM", `chunk model ${g} has no codes`);
    });
    this.codes = Uint32Array.from(codes);
    this.freqs = Uint32Array.from(freqs);
    this.table = table;
    this.precision = precision;
    this.codeBits = codeBits;
    table.precision = precision;
    table.groups = tables.length;
    this.total = tables.length << precision;
    this.slot = 0;
    this.ci = 0;
    this.start = 0;
    this.left = this.freqs[0]!;
  }

  /** One clock: writes one slot. Returns true when every table is complete. */
  step(): boolean {
    const t = this.table;
    if (!t) return false;
    const P = this.precision;
    const code = this.codes[this.ci]!;
    const f = this.freqs[this.ci]!;
    if (this.slot === this.start) {
      const info = ((this.slot >>> P) << this.codeBits) | code;
      t.infoFreq[info] = f;
      t.infoStart[info] = this.start & ((1 << P) - 1);
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
      this.left = this.freqs[this.ci]!;
    }
    return false;
  }
}

/** A chunk's tables built to completion on fresh memory (for test vectors). */
export function buildTable(tables: readonly Uint32Array[], precision: number, codeBits: number): DecodeTable {
  const table = new DecodeTable();
  const b = new TableBuilder();
  b.begin(table, tables, precision, codeBits);
  while (!b.step());
  return table;
}
