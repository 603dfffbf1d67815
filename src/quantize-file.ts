// Quantisation of a safetensors file's float tensors into a numeric format:
// the lossy, explicit step (round to nearest even, see numformat/convert.ts),
// then lossless compression of the result with the format recorded for
// every quantised tensor. What the stream restores is the quantised
// safetensors file: each F32/F16/BF16 tensor replaced by its stored
// patterns (one per 1, 2 or 4 bytes), the format and scales in
// `__metadata__["ansfloat.quantization"]`, every other tensor unchanged.

import { requireBytes, requireOptions } from "./arguments.js";
import { bytesOf } from "./bytes.js";
import { AnsfError } from "./errors.js";
import { applyConversion, resolveFormat, toFloat32 } from "./format-codec.js";
import { builtinName, carrierLayout, formatKey, storageWidth } from "./format-table.js";
import { memoryReader, MemorySink } from "./io.js";
import { countCodes } from "./model.js";
import { builtinFormat, fromFloat64, quantize, storageArray, type NumericFormat, type QuantizationError } from "./numformat/index.js";
import { plansFromSafetensors } from "./safetensors-codec.js";
import { parseSafetensors, writeSafetensors, type SafetensorsDtype } from "./safetensors.js";
import { compressPlans, type CompressResult, type StreamOptions } from "./stream.js";
import type { Writable } from "node:stream";
import { core, type Core } from "./wasm.js";

export interface QuantizeFileOptions extends StreamOptions {
  /** The target format: a built-in's name or a compiled format. */
  format: NumericFormat | string;
  /**
   * Each weight w is stored as round(w / scale) (default 1). "auto" picks a
   * power of two per tensor: for posits, the one nearest the tensor's RMS
   * (a posit is most precise around ±1); for other formats, the smallest
   * that keeps the largest magnitude within the format's largest finite
   * value. Powers of two keep the division exact.
   */
  scale?: number | "auto";
}

export interface QuantizedTensorReport {
  name: string;
  /** The original safetensors dtype. */
  dtype: string;
  shape: number[];
  elements: number;
  scale: number;
  error: QuantizationError;
  compressedBytes: number;
  bitsPerWeight: number;
}

export interface QuantizeReport {
  format: string;
  tensors: QuantizedTensorReport[];
  /** Over every quantised tensor: the largest max abs and max rel errors, RMS over all weights. */
  total: { elements: number; error: QuantizationError; compressedBytes: number; bitsPerWeight: number };
  /** Size of the quantised safetensors file the stream restores, and of the stream. */
  bytes: number;
  compressedBytes: number;
}

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16"]);
const BUILTIN_DTYPES: Record<string, SafetensorsDtype> = { "fp8-e4m3": "F8_E4M3", "fp8-e5m2": "F8_E5M2", bf16: "BF16", fp16: "F16", fp32: "F32", int8: "I8", uint8: "U8" };
const WIDTH_DTYPES: Record<1 | 2 | 4, SafetensorsDtype> = { 1: "U8", 2: "U16", 4: "U32" };

/** The safetensors dtype that holds a format's stored patterns: its own where safetensors has one, else U8/U16/U32. */
function storageDtype(format: NumericFormat): SafetensorsDtype {
  return BUILTIN_DTYPES[builtinName(format) ?? ""] ?? WIDTH_DTYPES[storageWidth(format)];
}

/** The largest finite magnitude both signs reach (the positive side's for unsigned formats). */
function largestFinite(format: NumericFormat): number {
  const tops = format.sides.map((s) => s.highs[s.highs.length - 1]).filter((v): v is number => v !== undefined);
  return Math.min(...tops);
}

/** The scale to use, from the weights' largest magnitude and RMS. */
function scaleFrom(max: number, rms: number, format: NumericFormat, scale: number | "auto"): number {
  if (scale !== "auto") return scale;
  if (max === 0) return 1;
  if (format.rounding === "posit") return 2 ** Math.round(Math.log2(rms));
  return 2 ** Math.ceil(Math.log2(max / largestFinite(format)));
}

interface QuantizedTensor {
  data: Uint8Array;
  scale: number;
  error: QuantizationError;
}

/** A tensor of any float type, weight by weight (numformat's quantize). */
function quantizeValues(values: Float32Array, format: NumericFormat, scale: number | "auto"): QuantizedTensor {
  let max = 0;
  let squares = 0;
  for (const v of values) {
    max = Math.max(max, Math.abs(v));
    squares += v * v;
  }
  const s = scaleFrom(max, Math.sqrt(squares / values.length), format, scale);
  const q = quantize(values, format, { scale: s });
  return { data: bytesOf(q.data), scale: s, error: q.error };
}

/**
 * A large bf16 or fp16 tensor through a table: every one of the 65,536
 * input patterns present (by a Wasm histogram) is rounded once, exactly as
 * quantize() rounds it, and a Wasm pass looks the tensor up. The error
 * statistics are the same sums, weighted by the counts.
 */
function quantizeWords(c: Core, data: Uint8Array, from: "bf16" | "fp16", format: NumericFormat, scale: number | "auto"): QuantizedTensor {
  const source = builtinFormat(from);
  const n = data.length / 2;
  c.reset();
  const { keys: present, counts } = presentKeys(c, 2, c.put(data), n, 0);
  let max = 0;
  let squares = 0;
  for (const p of present) {
    const v = source.toFloat64(p);
    if (!Number.isFinite(v)) throw new AnsfError("BAD_ARGUMENT", `quantize: a weight is ${v}; weights must be finite`);
    max = Math.max(max, Math.abs(v));
    squares += counts[p]! * v * v;
  }
  const s = scaleFrom(max, Math.sqrt(squares / n), format, scale);
  const table = storageArray(format.bits, 1 << 16);
  let maxAbs = 0;
  let errorSquares = 0;
  let maxRel = 0;
  for (const p of present) {
    const v = source.toFloat64(p);
    const q = fromFloat64(v / s, format);
    table[p] = q;
    const error = Math.abs(format.toFloat64(q) * s - v);
    maxAbs = Math.max(maxAbs, error);
    errorSquares += counts[p]! * error * error;
    if (v !== 0) maxRel = Math.max(maxRel, error / Math.abs(v));
  }
  const width = storageWidth(format);
  const out = new Uint8Array(n * width);
  applyConversion(c, { table: bytesOf(table), unused: new Uint8Array(1 << 16), srcWidth: 2, dstWidth: width }, data, out);
  return { data: out, scale: s, error: { maxAbs, rms: Math.sqrt(errorSquares / n), valueRms: Math.sqrt(squares / n), maxRel } };
}

/** The keys present among n elements of `width` bytes at `src` (key = element >> shift, 16 bits), with their counts. */
function presentKeys(c: Core, width: 2 | 4, src: number, n: number, shift: number): { keys: number[]; counts: Uint32Array } {
  // The count first: it may grow the memory, whose buffer is then a new one.
  const at = countCodes(c, width, src, n, shift, 16);
  const counts = new Uint32Array(c.fn.memory.buffer, at, 1 << 16).slice();
  const keys: number[] = [];
  for (let k = 0; k < counts.length; k++) if (counts[k] !== 0) keys.push(k);
  return { keys, counts };
}

const patternValues = new Map<NumericFormat, Float64Array>();

/** Each used pattern's exact value (NaN elsewhere), built once per format. */
function valuesOf(format: NumericFormat): Float64Array {
  let values = patternValues.get(format);
  if (!values) {
    values = new Float64Array(2 ** format.bits).fill(NaN);
    for (let p = 0; p < values.length; p++) if (format.pairOf(p)) values[p] = format.toFloat64(p);
    patternValues.set(format, values);
  }
  return values;
}

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);

function fp32Value(bits: number): number {
  f32Bits[0] = bits;
  return f32[0]!;
}

/**
 * A large fp32 tensor into a format of up to 16 bits. Rounding is
 * monotone: a bucket of fp32 values sharing their top 16 bits rounds to
 * one pattern when both its ends do. Those buckets become a table the Wasm
 * pass looks weights up in (accumulating the error sums); weights in the
 * few buckets with a tie inside, and non-finite ones, are rounded here one
 * by one, exactly as quantize() does.
 */
function quantizeFloats(c: Core, data: Uint8Array, format: NumericFormat, scale: number | "auto"): QuantizedTensor {
  const n = data.length / 4;
  c.reset();
  const src = c.put(data);
  const sums = c.alloc(16);
  c.fn.magnitudes(src, n, sums);
  const [max, squares] = new Float64Array(c.fn.memory.buffer, sums, 2);
  const s = scaleFrom(max!, Math.sqrt(squares! / n), format, scale);
  const width = storageWidth(format);
  const table = storageArray(format.bits, 1 << 16);
  const ambiguous = new Uint8Array(1 << 16).fill(1);
  for (const h of presentKeys(c, 4, src, n, 16).keys) {
    if (((h >> 7) & 0xff) === 0xff) continue; // infinities and NaNs: refused below
    const low = fromFloat64(fp32Value(h << 16) / s, format);
    if (low !== fromFloat64(fp32Value((h << 16) | 0xffff) / s, format)) continue;
    table[h] = low;
    ambiguous[h] = 0;
  }
  const values = valuesOf(format);
  const tablePtr = c.put(bytesOf(table));
  const ambiguousPtr = c.put(ambiguous);
  const valuesPtr = c.put(bytesOf(values));
  const dst = c.alloc(n * width);
  const pendingPtr = c.alloc(4 * n);
  const stats = c.alloc(32);
  const pendingCount = c.fn.quantizeFp32(src, n, s, tablePtr, ambiguousPtr, valuesPtr, width, dst, pendingPtr, stats);
  const out = c.view(dst, n * width).slice();
  const [lookedUpMax, lookedUpSquares, lookedUpValueSquares, lookedUpRel] = new Float64Array(c.fn.memory.buffer, stats, 4);
  let maxAbs = lookedUpMax!;
  let errorSquares = lookedUpSquares!;
  let valueSquares = lookedUpValueSquares!;
  let maxRel = lookedUpRel!;
  const pending = new Uint32Array(c.fn.memory.buffer, pendingPtr, pendingCount).slice();
  const weights = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
  const patterns = width === 1 ? out : new Uint16Array(out.buffer);
  for (const e of pending) {
    const v = weights[e]!;
    if (!Number.isFinite(v)) throw new AnsfError("BAD_ARGUMENT", `quantize: values[${e}] is ${v}; weights must be finite`);
    const q = fromFloat64(v / s, format);
    patterns[e] = q;
    const error = Math.abs(values[q]! * s - v);
    maxAbs = Math.max(maxAbs, error);
    errorSquares += error * error;
    valueSquares += v * v;
    if (v !== 0) maxRel = Math.max(maxRel, error / Math.abs(v));
  }
  return { data: out, scale: s, error: { maxAbs, rms: Math.sqrt(errorSquares / n), valueRms: Math.sqrt(valueSquares / n), maxRel } };
}

/**
 * Below this many weights, rounding each weight beats the table's fixed
 * cost (a histogram and a scan of 65,536 counts); above it, only the
 * distinct patterns present are rounded.
 */
const TABLE_MIN_WEIGHTS = 1 << 12;
/** The table paths hold a whole tensor in Wasm memory (4 GiB at most); larger tensors are rounded weight by weight. */
const TABLE_MAX_WEIGHTS = 1 << 26;

function quantizeTensor(data: Uint8Array, dtype: "F32" | "F16" | "BF16", format: NumericFormat, scale: number | "auto"): QuantizedTensor {
  const from = dtype === "F32" ? "fp32" : dtype === "F16" ? "fp16" : "bf16";
  const n = data.length / (from === "fp32" ? 4 : 2);
  const tabled = n >= TABLE_MIN_WEIGHTS && n <= TABLE_MAX_WEIGHTS;
  if (tabled && from !== "fp32") return quantizeWords(core(), data, from, format, scale);
  if (tabled && format.bits <= 16) return quantizeFloats(core(), data, format, scale);
  return quantizeValues(toFloat32(data, from), format, scale);
}

function combine(tensors: QuantizedTensorReport[]): QuantizationError {
  let elements = 0;
  let squares = 0;
  let valueSquares = 0;
  for (const t of tensors) {
    elements += t.elements;
    squares += t.error.rms ** 2 * t.elements;
    valueSquares += t.error.valueRms ** 2 * t.elements;
  }
  return {
    maxAbs: Math.max(0, ...tensors.map((t) => t.error.maxAbs)),
    rms: elements ? Math.sqrt(squares / elements) : 0,
    valueRms: elements ? Math.sqrt(valueSquares / elements) : 0,
    maxRel: Math.max(0, ...tensors.map((t) => t.error.maxRel)),
  };
}

/**
 * Quantises `file` (a whole safetensors file) and compresses the result to
 * `out` as one .ansf stream; returns the error and size report.
 */
export async function quantizeFileTo(file: Uint8Array, out: Writable, options: QuantizeFileOptions): Promise<QuantizeReport> {
  requireBytes(file, "file");
  requireOptions(options, "options");
  const format = resolveFormat(options.format);
  const layout = carrierLayout(format);
  const scale = options.scale ?? 1;
  if (scale !== "auto" && !(scale > 0 && scale < Infinity)) throw new AnsfError("BAD_ARGUMENT", `scale must be a positive finite number or "auto", not ${scale}`);
  const parsed = parseSafetensors(file);
  const dtype = storageDtype(format);
  const quantized = new Map<string, Omit<QuantizedTensorReport, "compressedBytes" | "bitsPerWeight">>();
  const tensors = parsed.tensors.map((t) => {
    const data = file.subarray(t.begin, t.end);
    if (!FLOAT_DTYPES.has(t.dtype)) return { name: t.name, dtype: t.dtype, shape: t.shape, data };
    let q;
    try {
      q = quantizeTensor(data, t.dtype as "F32", format, scale);
    } catch (err) {
      if (err instanceof AnsfError) throw new AnsfError(err.code, `tensor "${t.name}": ${err.message}`, { cause: err });
      throw err;
    }
    const elements = q.data.length / storageWidth(format);
    quantized.set(t.name, { name: t.name, dtype: t.dtype, shape: t.shape, elements, scale: q.scale, error: q.error });
    return { name: t.name, dtype, shape: t.shape, data: q.data };
  });
  if (quantized.size === 0) throw new AnsfError("BAD_ARGUMENT", "the file has no F32, F16 or BF16 tensor to quantise");
  const record = { format: formatKey(format), scales: Object.fromEntries([...quantized.values()].map((q) => [q.name, q.scale])) };
  const qfile = writeSafetensors(tensors, { ...(parsed.metadata ?? {}), "ansfloat.quantization": JSON.stringify(record) });

  const plans = plansFromSafetensors(parseSafetensors(qfile));
  const names = ["(header)", ...tensors.map((t) => t.name)];
  plans.forEach((p, i) => {
    if (i === 0 || !quantized.has(names[i]!)) return;
    const t = tensors[i - 1]!;
    Object.assign(p, { layout, format, shape: t.shape });
  });
  const result: Omit<CompressResult, "names"> = await compressPlans(memoryReader(qfile), out, "safetensors", plans, options);
  const reports = result.segments.flatMap((s, i) => {
    const q = i === 0 ? undefined : quantized.get(names[i]!);
    if (!q) return [];
    const compressedBytes = s.chunks.reduce((sum, c) => sum + c.length, 0);
    return [{ ...q, compressedBytes, bitsPerWeight: q.elements ? (8 * compressedBytes) / q.elements : 0 }];
  });
  const elements = reports.reduce((sum, t) => sum + t.elements, 0);
  const compressedBytes = reports.reduce((sum, t) => sum + t.compressedBytes, 0);
  return {
    format: format.name,
    tensors: reports,
    total: { elements, error: combine(reports), compressedBytes, bitsPerWeight: elements ? (8 * compressedBytes) / elements : 0 },
    bytes: result.bytes,
    compressedBytes: result.compressedBytes,
  };
}

/** {@link quantizeFileTo} into memory: the .ansf stream and the report. */
export async function quantizeFile(file: Uint8Array, options: QuantizeFileOptions): Promise<{ stream: Uint8Array; report: QuantizeReport }> {
  const sink = new MemorySink();
  const report = await quantizeFileTo(file, sink, options);
  return { stream: sink.bytes(), report };
}
