/**
 * Variable-precision, variable-range numeric formats as coding pairs
 * (Liguori, arXiv 2404.10896): a format is a table of codes, each selecting a
 * value range and the number of additional bits that place a value inside it.
 *
 * - {@link defineFormat} / {@link parseFormatJson}: a format from its
 *   declarative descriptor (JSON schema in descriptor.ts), validated strictly.
 * - {@link builtinFormat}: IEEE fp32/fp16/bf16, OCP FP8 E4M3/E5M2, MX FP6
 *   E3M2/E2M3 and FP4 E2M1, posit⟨8,0⟩ ⟨8,2⟩ ⟨16,1⟩ ⟨16,2⟩, int8, int4, uint8,
 *   binary {−1,+1} and ternary {−1,0,+1}.
 * - {@link NumericFormat}: `encodeValue(pattern)` → coding pair,
 *   `decodePair(code, extra)` → pattern, `toFloat64(pattern)` → exact value;
 *   {@link codeTable}: the same as flat arrays for formats up to 16 bits.
 * - {@link fromFloat64}: round to nearest even with the format's overflow
 *   rule; {@link recode} / {@link toComputeBits}: stored patterns to another
 *   format or to fp32, bf16, fp16 bits, exact or rounded once.
 * - {@link quantize}: weights into a format, with error statistics and the
 *   estimated compressed bits per weight.
 *
 * @module
 */

export {
  extraBitsFor,
  MAX_CODES,
  type CodeDescriptor,
  type CodeKind,
  type CodeSign,
  type FormatDescriptor,
  type RoundingRule,
  type SignEncoding,
} from "./descriptor.js";
export { defineFormat, NumericFormat, parseFormatJson, type CodingPair } from "./format.js";
export { codeTable, UNUSED_PATTERN, type CodeTable } from "./codetable.js";
export {
  BUILTIN_FORMAT_NAMES,
  builtinDescriptor,
  builtinFormat,
  floatDescriptor,
  integerDescriptor,
  positDescriptor,
  type BuiltinFormatName,
  type FloatLayout,
  type FloatSpecials,
} from "./builtin.js";
export { fromFloat64, recode, storageArray, toComputeBits, type ComputeType, type StorageArray } from "./convert.js";
export { quantize, type QuantizationError, type QuantizeOptions, type QuantizeResult } from "./quantize.js";
