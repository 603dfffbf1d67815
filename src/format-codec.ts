// Tensors stored in numeric formats, through the same chunks and container
// as everything else: encodeFormat() codes stored patterns losslessly with
// the format recorded in the stream; decodeFormat() restores them, or
// converts them in Wasm to fp32, bf16 or fp16 bits by tables built from
// src/numformat's exact conversion (round to nearest even, each target's
// overflow and NaN rules: see numformat/convert.ts).

import { requireOptions, requireView } from "./arguments.js";
import { decodeChunk, type ChunkRead } from "./chunk.js";
import { encodeContainer } from "./codec.js";
import { parseContainer, SEGMENT_TENSOR, type ChunkEntry, type Segment } from "./container.js";
import { bytesOf, resultBuffer } from "./bytes.js";
import { AnsfError } from "./errors.js";
import { carrierLayout, formatKey, storageWidth } from "./format-table.js";
import { builtinFormat, codeTable, toComputeBits, UNUSED_PATTERN, type ComputeType, type NumericFormat } from "./numformat/index.js";
import { DEFAULT_CHUNK_ELEMENTS, type EncodeOptions } from "./segments.js";
import { Core, core } from "./wasm.js";

/** What decoding emits: the stored patterns, or their values as a compute type's bits. */
export type DecodeTarget = "stored" | ComputeType;

const TARGET_WIDTH: Record<ComputeType, 2 | 4> = { fp32: 4, bf16: 2, fp16: 2 };

export interface FormatTensorOptions extends EncodeOptions {
  /** The format of the stored patterns: a built-in's name or a compiled format. */
  format: NumericFormat | string;
  /** Dimensions, recorded in the stream (default: one dimension, the element count). */
  shape?: number[];
}

export interface FormatDecodeOptions {
  /** "stored" (default) or a compute type: "fp32" (u32 words of float32 bits), "bf16" or "fp16" (u16 words). */
  to?: DecodeTarget;
  /** Decode into this buffer (at least the decoded size) instead of a new one; the result is a view of it. */
  out?: Uint8Array;
}

export function resolveFormat(format: NumericFormat | string): NumericFormat {
  return typeof format === "string" ? builtinFormat(format) : format;
}

/**
 * How stored patterns become the output: a pattern → output table over
 * every value of the storage width, with a byte per pattern marking the
 * unused ones; or, from fp32, rounding to bf16 or fp16 in Wasm (no table
 * holds 2^32 entries). Undefined when the output is the input itself and
 * every pattern is used (nothing to check or convert).
 */
export type ConversionTable =
  | { table: Uint8Array; unused: Uint8Array; srcWidth: 1 | 2; dstWidth: 1 | 2 | 4 }
  | { roundFp32To: 0 | 1; srcWidth: 4; dstWidth: 2 };

const tables = new Map<string, ConversionTable | undefined>();

function buildTable(format: NumericFormat, target: DecodeTarget): ConversionTable | undefined {
  const srcWidth = storageWidth(format);
  if (srcWidth === 4) {
    // carrierLayout admits only the built-in fp32 among formats this wide.
    if (target === "stored" || target === "fp32") return undefined;
    return { roundFp32To: target === "bf16" ? 0 : 1, srcWidth, dstWidth: 2 };
  }
  const { codeOf } = codeTable(format);
  const patterns = 2 ** (8 * srcWidth);
  const unused = new Uint8Array(patterns).fill(1);
  const used: number[] = [];
  for (let p = 0; p < codeOf.length; p++) {
    if (codeOf[p] === UNUSED_PATTERN) continue;
    unused[p] = 0;
    used.push(p);
  }
  if (target === "stored" && used.length === patterns) return undefined;
  const dstWidth = target === "stored" ? srcWidth : TARGET_WIDTH[target];
  const values = target === "stored" ? used : toComputeBits(used, format, target);
  const table = dstWidth === 1 ? new Uint8Array(patterns) : dstWidth === 2 ? new Uint16Array(patterns) : new Uint32Array(patterns);
  used.forEach((p, i) => {
    table[p] = values[i]!;
  });
  return { table: new Uint8Array(table.buffer), unused, srcWidth, dstWidth };
}

/** The conversion table of a format and target, built once. */
function conversionTable(format: NumericFormat, target: DecodeTarget): ConversionTable | undefined {
  const key = `${target}:${formatKey(format)}`;
  if (!tables.has(key)) tables.set(key, buildTable(format, target));
  return tables.get(key);
}

/** Bytes per decoded element of a format for a target. */
export function targetWidth(format: NumericFormat, target: DecodeTarget): number {
  return target === "stored" ? storageWidth(format) : TARGET_WIDTH[target];
}

/**
 * A conversion laid out in a core's memory for runs of up to `capacity`
 * patterns: its table once, then input and output regions reused by every
 * run. The core must not allocate anything else while it is in use.
 */
class Conversion {
  private readonly table: number = 0;
  private readonly unused: number = 0;
  private readonly src: number;
  private readonly dst: number;

  constructor(
    private readonly c: Core,
    private readonly t: ConversionTable,
    capacity: number,
  ) {
    c.reset();
    if ("table" in t) {
      this.table = c.put(t.table);
      this.unused = c.put(t.unused);
    }
    this.src = c.alloc(capacity * t.srcWidth);
    this.dst = c.alloc(capacity * t.dstWidth);
  }

  /** Where the next run's n stored patterns go. */
  input(n: number): Uint8Array {
    return this.c.view(this.src, n * this.t.srcWidth);
  }

  /** Converts the n patterns in input(n) into `out` in one Wasm pass; returns the index of the first unused one, or -1. */
  run(n: number, out: Uint8Array): number {
    const { c, t } = this;
    let bad = 0;
    if ("table" in t) bad = c.fn.convertPatterns(t.srcWidth, this.src, n, this.table, this.unused, t.dstWidth, this.dst);
    else c.fn.roundFp32(t.roundFp32To, this.src, n, this.dst);
    out.set(c.view(this.dst, n * t.dstWidth));
    return bad - 1;
  }
}

/**
 * Applies a conversion to the patterns of `input` (on core `c`), writing
 * `out`; returns the index of the first unused pattern, or -1.
 */
export function applyConversion(c: Core, t: ConversionTable, input: Uint8Array, out: Uint8Array): number {
  const n = input.length / t.srcWidth;
  const conversion = new Conversion(c, t, n);
  conversion.input(n).set(input);
  return conversion.run(n, out);
}

/** Converts stored patterns into `out` (n × targetWidth bytes); returns the index of the first unused pattern, or -1. */
function convert(c: Core, stored: Uint8Array, format: NumericFormat, target: DecodeTarget, out: Uint8Array): number {
  const t = conversionTable(format, target);
  if (t) return applyConversion(c, t, stored, out);
  out.set(stored);
  return -1;
}

let converter: Core | undefined;

/**
 * A second instance of the core, which conversions after decoding run on:
 * decodeChunk (on this thread's core) writes a chunk's stored patterns
 * straight into its memory, beside the conversion table laid out once per
 * segment.
 */
function conversionCore(): Core {
  converter ??= new Core();
  return converter;
}

/** Checks stored patterns against their format: whole elements, used patterns only. */
function checkPatterns(c: Core, bytes: Uint8Array, format: NumericFormat): void {
  const width = storageWidth(format);
  if (bytes.length % width !== 0) throw new AnsfError("BAD_ARGUMENT", `${bytes.length} bytes is not a whole number of ${width}-byte patterns of "${format.name}"`);
  if (!conversionTable(format, "stored")) return;
  const scratch = new Uint8Array(Math.min(bytes.length, width * DEFAULT_CHUNK_ELEMENTS));
  bySlices(bytes, width, (slice, first) => {
    const bad = convert(c, slice, format, "stored", scratch.subarray(0, slice.length));
    if (bad < 0) return;
    const p = width === 1 ? slice[bad]! : slice[2 * bad]! | (slice[2 * bad + 1]! << 8);
    throw new AnsfError("BAD_ARGUMENT", `element ${first + bad} is 0x${p.toString(16)}, not a pattern of format "${format.name}"`);
  });
}

/** Runs `f` on consecutive slices of at most a chunk's elements (`width` bytes each), so no pass needs more Wasm memory than a chunk. */
function bySlices(bytes: Uint8Array, width: number, f: (slice: Uint8Array, first: number) => void): void {
  const step = width * DEFAULT_CHUNK_ELEMENTS;
  for (let at = 0; at < bytes.length; at += step) f(bytes.subarray(at, at + step), at / width);
}

/**
 * Compresses one tensor of stored patterns of a format (a Uint8Array for
 * formats of up to 8 bits, Uint16Array up to 16, Uint32Array for fp32, or
 * their bytes, little-endian). The stream records the format.
 */
export function encodeFormat(data: ArrayBufferView, options: FormatTensorOptions): Uint8Array {
  requireView(data, "data");
  requireOptions(options, "options");
  const format = resolveFormat(options.format);
  const layout = carrierLayout(format);
  const bytes = bytesOf(data);
  const c = core();
  checkPatterns(c, bytes, format);
  const n = bytes.length / layout.width;
  const shape = options.shape ?? [n];
  if (shape.reduce((a, b) => a * b, 1) !== n) throw new AnsfError("BAD_ARGUMENT", `shape [${shape.join(", ")}] does not hold ${n} elements`);
  return encodeContainer("tensor", [{ data: bytes, layout, shape, format }], options).stream;
}

/** Float32 values of bf16, fp16 or fp32 words (exact: every value is representable), converted in Wasm a chunk at a time. */
export function toFloat32(bytes: Uint8Array, from: "bf16" | "fp16" | "fp32"): Float32Array {
  const out = new Float32Array(bytes.length / storageWidth(builtinFormat(from)));
  if (from === "fp32") {
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const all = new Uint8Array(out.buffer);
  bySlices(bytes, 2, (slice, first) => convert(core(), slice, builtinFormat(from), "fp32", all.subarray(4 * first, 4 * first + 2 * slice.length)));
  return out;
}

/** The numeric format of a segment's elements: its recorded format, or the built-in its float layout is. */
export function segmentFormat(segment: Segment): NumericFormat {
  if (segment.format) return segment.format;
  if (segment.kind === SEGMENT_TENSOR) return builtinFormat(segment.layout.name);
  throw new AnsfError("BAD_ARGUMENT", "a bytes segment holds no numeric values");
}

/**
 * Decodes a format (or bf16/fp16/fp32) segment of a container of `version`
 * into `out` (elements × targetWidth bytes), chunk by chunk as `chunkBytes` hands them over (or says where to read them): each
 * chunk is decoded and checked against its checksum, then converted in one
 * Wasm pass.
 */
export function decodeSegmentTo(c: Core, chunkBytes: (chunk: ChunkEntry) => Uint8Array | ChunkRead, segment: Segment, target: DecodeTarget, out: Uint8Array, version: number): void {
  const format = segmentFormat(segment);
  const width = targetWidth(format, target);
  const t = conversionTable(format, target);
  const conversion = t && new Conversion(conversionCore(), t, Math.max(0, ...segment.chunks.map((chunk) => chunk.elements)));
  let at = 0;
  for (const chunk of segment.chunks) {
    const into = out.subarray(at, at + chunk.elements * width);
    if (!conversion) {
      decodeChunk(c, chunkBytes(chunk), segment.layout, chunk.elements, into, version);
    } else {
      decodeChunk(c, chunkBytes(chunk), segment.layout, chunk.elements, conversion.input(chunk.elements), version);
      const bad = conversion.run(chunk.elements, into);
      if (bad >= 0) throw new AnsfError("CORRUPT_STREAM", `element ${at / width + bad} is not a pattern of format "${format.name}"`);
    }
    at += into.length;
  }
}

/**
 * Decodes a one-tensor stream (from {@link encodeFormat}, or a bf16, fp16
 * or fp32 tensor from encode()) to its stored patterns or to a compute type.
 */
export function decodeFormat(stream: Uint8Array, options: FormatDecodeOptions = {}): Uint8Array {
  const index = parseContainer(stream);
  const segment = index.segments[0];
  if (index.source !== "tensor" || !segment) throw new AnsfError("BAD_ARGUMENT", `stream holds a ${index.source} file, not one tensor: use decompress()`);
  const target = options.to ?? "stored";
  const bytes = (segment.length / segment.layout.width) * targetWidth(segmentFormat(segment), target);
  const out = options.out ?? resultBuffer(bytes);
  if (out.length < bytes) throw new AnsfError("BAD_ARGUMENT", `output buffer of ${out.length} bytes is smaller than the ${bytes} bytes to decode`);
  decodeSegmentTo(core(), (c) => stream.subarray(c.offset, c.offset + c.length), segment, target, out.subarray(0, bytes), index.version);
  return out.subarray(0, bytes);
}
