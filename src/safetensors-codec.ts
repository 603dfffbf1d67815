// A safetensors file as segments: its header bytes verbatim, then every
// tensor in data order. Floats become coding pairs; every other dtype is
// coded byte-wise, so the restored file is byte-identical.

import type { ChunkChoice } from "./chunk.js";
import { encodeContainer } from "./codec.js";
import { layoutOf, type CodedDtype, type PairLayout } from "./dtypes.js";
import { AnsfError } from "./errors.js";
import { isGguf } from "./gguf-codec.js";
import { parseSafetensors, parseSafetensorsHeader, type SafetensorsFile, type SafetensorsTensor } from "./safetensors.js";
import type { NumericFormat } from "./numformat/index.js";
import type { EncodedSegment, EncodeOptions } from "./segments.js";

const CODED: Record<string, CodedDtype> = { BF16: "bf16", F16: "fp16", F32: "fp32" };

/** Per-tensor outcome of compression, for reports and listings. */
export interface TensorReport {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
  compressedBytes: number;
  choices: ChunkChoice[];
}

/** One run of the file to code as a segment. */
export interface SegmentPlan {
  begin: number;
  end: number;
  /** With a format, its carrier layout. */
  layout: PairLayout;
  shape: number[];
  format?: NumericFormat;
}

/** The segments of a parsed safetensors file: its header bytes, then each tensor in data order. */
export function plansFromSafetensors(parsed: SafetensorsFile): SegmentPlan[] {
  const plans: SegmentPlan[] = [{ begin: 0, end: parsed.dataStart, layout: layoutOf("u8"), shape: [] }];
  for (const t of parsed.tensors) {
    const coded = CODED[t.dtype];
    plans.push({ begin: t.begin, end: t.end, layout: layoutOf(coded ?? "u8"), shape: coded ? t.shape : [] });
  }
  return plans;
}

/** What each segment of a safetensors-sourced stream holds (index: segment), for listings and the loader. */
export interface SafetensorsSegments {
  names: string[];
  /** The source's dtype ("BF16", "U8", ...); undefined for the header. */
  dtypes: (string | undefined)[];
  shapes: number[][];
}

/**
 * The header (segment 0) and the tensors (one segment each, in data order)
 * of a safetensors-sourced stream, from its decoded header segment; the
 * inverse of plansFromSafetensors. CORRUPT_STREAM when the tensors and the
 * other segments do not pair up by number and size.
 */
export function safetensorsSegments(header: Uint8Array, size: number, segments: readonly { length: number }[]): SafetensorsSegments {
  const { tensors } = parseSafetensorsHeader(header, size);
  if (tensors.length !== segments.length - 1) {
    throw new AnsfError("CORRUPT_STREAM", `the safetensors header lists ${tensors.length} tensors for ${segments.length - 1} segments`);
  }
  const labels: SafetensorsSegments = { names: ["(header)"], dtypes: [undefined], shapes: [[]] };
  tensors.forEach((t, i) => {
    if (segments[i + 1]!.length !== t.end - t.begin) throw new AnsfError("CORRUPT_STREAM", `tensor "${t.name}" has no matching segment`);
    labels.names.push(t.name);
    labels.dtypes.push(t.dtype);
    labels.shapes.push(t.shape);
  });
  return labels;
}

/** Per-tensor reports from the coded segments (segment 0 is the header). */
export function reportTensors(tensors: SafetensorsTensor[], segments: EncodedSegment[]): TensorReport[] {
  return tensors.map((t, i) => {
    const s = segments[i + 1]!;
    return {
      name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.end - t.begin,
      compressedBytes: s.choices.reduce((sum, c) => sum + c.bytes, 0),
      choices: s.choices,
    };
  });
}

export function compressSafetensors(file: Uint8Array, options: EncodeOptions = {}): { stream: Uint8Array; tensors: TensorReport[] } {
  // GGUF's header parser is asynchronous; say so rather than fail as a malformed safetensors file.
  if (isGguf(file)) throw new AnsfError("BAD_ARGUMENT", "GGUF input needs compressAsync() (or the CLI)");
  const parsed = parseSafetensors(file);
  const plans = plansFromSafetensors(parsed);
  const tensors = parsed.tensors;
  const { stream, segments } = encodeContainer("safetensors", plans.map((p) => ({ data: file.subarray(p.begin, p.end), layout: p.layout, shape: p.shape })), options);
  return { stream, tensors: reportTensors(tensors, segments) };
}
