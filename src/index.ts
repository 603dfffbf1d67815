/**
 * ansfloat: lossless compression of neural-network weights.
 *
 * Each bf16/fp16/fp32 value becomes a coding pair (V. Liguori, arXiv
 * 2404.10896): a code (exponent and a few top mantissa bits), entropy coded
 * with interleaved rANS, and raw additional bits (sign and low mantissa).
 * @packageDocumentation
 */

import { requireBytes, requireOptions, requireView } from "./arguments.js";
import { encodeContainer, restore } from "./codec.js";
import { parseContainer } from "./container.js";
import { layoutOf, type CodedDtype } from "./dtypes.js";
import { bytesOf } from "./bytes.js";
import { AnsfError } from "./errors.js";
import { decodeInMemory, encodeInMemory } from "./async-codec.js";
import { memoryReader } from "./io.js";
import type { ParallelOptions } from "./parallel.js";
import { compressSafetensors } from "./safetensors-codec.js";
import { planFile } from "./stream.js";
import type { EncodeOptions } from "./segments.js";

export { AnsfError, type AnsfErrorCode } from "./errors.js";
export type { CodedDtype } from "./dtypes.js";
export { inspect, type StreamInfo, type SegmentInfo } from "./inspect.js";
export type { EncodeOptions } from "./segments.js";
export type { ParallelOptions } from "./parallel.js";

/** Options for {@link encode}. */
export interface TensorOptions extends EncodeOptions {
  /** Element type of `data`. */
  dtype: CodedDtype;
  /** Dimensions, recorded in the stream (default: one dimension, the element count). */
  shape?: number[];
}

/** Options for decoding. */
export interface DecodeOptions {
  /**
   * Decode into this buffer (at least the decoded size) instead of a new one;
   * the result is a view of it. On several threads a buffer not in shared
   * memory is filled by one copy once everything has decoded, so a failed or
   * aborted call leaves it untouched; otherwise it is written in place.
   */
  out?: Uint8Array;
}

/** Checks a tensor's bytes against its dtype and shape. */
function tensorPlan(data: ArrayBufferView, options: TensorOptions) {
  requireView(data, "data");
  requireOptions(options, "options");
  const layout = layoutOf(options.dtype);
  const bytes = bytesOf(data);
  if (bytes.length % layout.width !== 0) {
    throw new AnsfError("BAD_ARGUMENT", `${bytes.length} bytes is not a whole number of ${options.dtype} elements`);
  }
  const n = bytes.length / layout.width;
  const shape = options.shape ?? [n];
  if (shape.reduce((a, b) => a * b, 1) !== n) {
    throw new AnsfError("BAD_ARGUMENT", `shape [${shape.join(", ")}] does not hold ${n} elements`);
  }
  return { bytes, plan: { begin: 0, end: bytes.length, layout, shape } };
}

function requireTensor(stream: Uint8Array) {
  const index = parseContainer(stream);
  if (index.source !== "tensor") {
    throw new AnsfError("BAD_ARGUMENT", `stream holds a ${index.source} file, not one tensor: use decompress()`);
  }
  return index;
}


/**
 * Compresses one tensor. `data` holds its elements in `dtype` (for example
 * bf16 words in a Uint16Array, or raw bytes). Synchronous, on this thread.
 */
export function encode(data: ArrayBufferView, options: TensorOptions): Uint8Array {
  const { bytes, plan } = tensorPlan(data, options);
  return encodeContainer("tensor", [{ data: bytes, layout: plan.layout, shape: plan.shape }], options).stream;
}

/** Decodes a stream made by {@link encode} back to the tensor's bytes. */
export function decode(stream: Uint8Array, options: DecodeOptions = {}): Uint8Array {
  return restore(stream, requireTensor(stream), options.out);
}

/**
 * Compresses a whole safetensors file into one .ansf stream that
 * {@link decompress} restores byte for byte (header, metadata, order,
 * padding, and tensors of every dtype).
 */
export function compress(file: Uint8Array, options: EncodeOptions = {}): Uint8Array {
  requireBytes(file, "file");
  return compressSafetensors(file, options).stream;
}

/** Restores the original file from an .ansf stream. */
export function decompress(stream: Uint8Array, options: DecodeOptions = {}): Uint8Array {
  return restore(stream, parseContainer(stream), options.out);
}

// The *Async calls code on the calling thread and threads - 1 workers, which
// share the input once rather than per chunk (inputs already in shared
// memory are not copied). With more than one thread, decoded results are
// views of SharedArrayBuffers that every thread wrote in place, and coded
// results one buffer, into which the chunks every thread coded are copied
// once; with one thread they are the synchronous calls with a look at the
// event loop every few milliseconds.

/** {@link encode} on several threads; the stream is identical to encode()'s. */
export async function encodeAsync(data: ArrayBufferView, options: TensorOptions & ParallelOptions): Promise<Uint8Array> {
  const { bytes, plan } = tensorPlan(data, options);
  return encodeInMemory("tensor", bytes, [plan], options);
}

/** {@link decode} on several threads. */
export async function decodeAsync(stream: Uint8Array, options: DecodeOptions & ParallelOptions = {}): Promise<Uint8Array> {
  return decodeInMemory(stream, requireTensor(stream), options);
}

/**
 * {@link compress} on several threads, sharing chunks (not only tensors)
 * among them; also takes GGUF files (whose parser is async).
 */
export async function compressAsync(file: Uint8Array, options: EncodeOptions & ParallelOptions = {}): Promise<Uint8Array> {
  requireBytes(file, "file");
  const { source, plans } = await planFile(memoryReader(file));
  return encodeInMemory(source, file, plans, options);
}

/** {@link decompress} on several threads. */
export async function decompressAsync(stream: Uint8Array, options: DecodeOptions & ParallelOptions = {}): Promise<Uint8Array> {
  return decodeInMemory(stream, parseContainer(stream), options);
}

export { open, openModel, AnsfFile, AnsfModel, type TensorInfo, type TensorReadOptions } from "./loader.js";
export { decodeFormat, encodeFormat, type DecodeTarget, type FormatDecodeOptions, type FormatTensorOptions } from "./format-codec.js";
export { quantizeFile, type QuantizeFileOptions, type QuantizeReport, type QuantizedTensorReport } from "./quantize-file.js";
export {
  BUILTIN_FORMAT_NAMES,
  builtinFormat,
  defineFormat,
  parseFormatJson,
  type ComputeType,
  type FormatDescriptor,
  type NumericFormat,
  type QuantizationError,
} from "./numformat/index.js";
