// A safetensors file as segments: its header bytes verbatim, then every
// tensor in data order. Floats become coding pairs; every other dtype is
// coded byte-wise, so the restored file is byte-identical.

import type { ChunkChoice } from "./chunk.js";
import { encodeContainer } from "./codec.js";
import { layoutOf, type CodedDtype, type PairLayout } from "./dtypes.js";
import { AnsfError } from "./errors.js";
import { isGguf } from "./gguf-codec.js";
import { parseSafetensors, type SafetensorsFile, type SafetensorsTensor } from "./safetensors.js";
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
