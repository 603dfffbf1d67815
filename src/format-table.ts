// Numeric formats recorded in a stream (docs/FORMAT.md §Numeric formats): a
// built-in by its name, any other format by its descriptor's JSON, so that a
// stream says what its values are without the files that wrote it.
//
// A tensor stored in a format is coded by a *carrier* layout, one of the
// existing pair layouts, so every chunk stays an ordinary chunk:
//  - up to 8 bits, u8: the whole pattern is the rANS symbol (the best
//    order-0 code; an alphabet of at most 256 and no raw bits);
//  - the IEEE built-ins bf16, fp16 and fp32: their own layouts, whose code
//    is the format's code (the exponent) plus the top k mantissa bits;
//  - any other format of 9 to 16 bits (posit16, user formats): the bf16
//    layout's split of a 16-bit word, code = bits 7.. (plus k) and raw sign
//    and low bits, which is lossless for any word.

import { ByteReader, ByteWriter } from "./bytes.js";
import { layoutOf, type PairLayout } from "./dtypes.js";
import { AnsfError } from "./errors.js";
import { BUILTIN_FORMAT_NAMES, builtinFormat, defineFormat, type NumericFormat } from "./numformat/index.js";

const ENTRY_BUILTIN = 0;
const ENTRY_DESCRIPTOR = 1;
/** Formats whose stored patterns are exactly one of the pair layouts' elements. */
const OWN_LAYOUTS = new Set(["bf16", "fp16", "fp32"]);

/** The built-in name `format` is, or undefined for a user-defined format (whatever its name). */
export function builtinName(format: NumericFormat): string | undefined {
  if (!(BUILTIN_FORMAT_NAMES as readonly string[]).includes(format.name)) return undefined;
  const builtin = builtinFormat(format.name);
  return builtin === format || JSON.stringify(builtin.descriptor) === JSON.stringify(format.descriptor) ? format.name : undefined;
}

/** Bytes per stored pattern: 1, 2 or 4, little-endian, zero-extended. */
export function storageWidth(format: NumericFormat): 1 | 2 | 4 {
  return format.bits <= 8 ? 1 : format.bits <= 16 ? 2 : 4;
}

/** The pair layout whose chunks carry a format's stored patterns. */
export function carrierLayout(format: NumericFormat): PairLayout {
  const name = builtinName(format);
  if (name !== undefined && OWN_LAYOUTS.has(name)) return layoutOf(name);
  if (format.bits <= 8) return layoutOf("u8");
  if (format.bits <= 16) return layoutOf("bf16");
  throw new AnsfError("BAD_ARGUMENT", `format "${format.name}" has ${format.bits}-bit patterns; streams carry formats of up to 16 bits, and fp32`);
}

/** A stable key per distinct format, for sharing one table entry. */
export function formatKey(format: NumericFormat): string {
  return builtinName(format) ?? JSON.stringify(format.descriptor);
}

export function writeFormatTable(w: ByteWriter, formats: readonly NumericFormat[]): void {
  w.varint(formats.length);
  for (const f of formats) {
    const name = builtinName(f);
    w.u8(name === undefined ? ENTRY_DESCRIPTOR : ENTRY_BUILTIN);
    const text = new TextEncoder().encode(name ?? JSON.stringify(f.descriptor));
    w.varint(text.length);
    w.bytes(text);
  }
}

/** Reads and compiles the format table; anything malformed is CORRUPT_STREAM. */
export function readFormatTable(r: ByteReader): NumericFormat[] {
  const count = r.varint();
  if (count > r.remaining) throw new AnsfError("CORRUPT_STREAM", `index: ${count} formats cannot fit in ${r.remaining} bytes`);
  const formats: NumericFormat[] = [];
  for (let i = 0; i < count; i++) {
    const kind = r.u8();
    const text = new TextDecoder().decode(r.bytes(r.varint()));
    try {
      if (kind === ENTRY_BUILTIN) formats.push(builtinFormat(text));
      else if (kind === ENTRY_DESCRIPTOR) formats.push(defineFormat(JSON.parse(text)));
      else throw new AnsfError("CORRUPT_STREAM", `entry kind ${kind} is unknown`);
      carrierLayout(formats[i]!);
    } catch (err) {
      throw new AnsfError("CORRUPT_STREAM", `index: format ${i}: ${(err as Error).message}`, { cause: err });
    }
  }
  return formats;
}
