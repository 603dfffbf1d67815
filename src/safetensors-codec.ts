// A safetensors file as segments: its header bytes verbatim, then every
// tensor in data order. Floats become coding pairs; every other dtype is
// coded byte-wise, so the restored file is byte-identical.

import type { ChunkChoice } from "./chunk.js";
import { assemble } from "./codec.js";
import { layoutOf, type CodedDtype } from "./dtypes.js";
import { parseSafetensors } from "./safetensors.js";
import { encodeSegment, type EncodedSegment, type EncodeOptions } from "./segments.js";
import { core } from "./wasm.js";

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

export function compressSafetensors(file: Uint8Array, options: EncodeOptions = {}): { stream: Uint8Array; tensors: TensorReport[] } {
  const parsed = parseSafetensors(file);
  const c = core();
  const segments: EncodedSegment[] = [encodeSegment(c, file.subarray(0, parsed.dataStart), layoutOf("u8"), [], options)];
  const tensors: TensorReport[] = [];
  for (const t of parsed.tensors) {
    const coded = CODED[t.dtype];
    const encoded = encodeSegment(c, file.subarray(t.begin, t.end), layoutOf(coded ?? "u8"), coded ? t.shape : [], options);
    segments.push(encoded);
    tensors.push({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      bytes: t.end - t.begin,
      compressedBytes: encoded.chunks.reduce((sum, b) => sum + b.length, 0),
      choices: encoded.choices,
    });
  }
  return { stream: assemble("safetensors", segments), tensors };
}
