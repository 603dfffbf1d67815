// A minimal safetensors reader for the bench, kept apart from src/ on
// purpose: the baselines and the entropy bound must not depend on the codec
// under test to find out where the weights are.

/** Float dtypes the bench understands, with their bit layout. */
export const FLOAT_LAYOUTS = {
  BF16: { width: 2, exponentBits: 8, mantissaBits: 7 },
  F16: { width: 2, exponentBits: 5, mantissaBits: 10 },
  F32: { width: 4, exponentBits: 8, mantissaBits: 23 },
} as const;

export type FloatDtype = keyof typeof FLOAT_LAYOUTS;

export interface TensorSpan {
  name: string;
  dtype: string;
  /** Absolute byte offsets in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsLayout {
  /** Bytes of the 8-byte length prefix plus the JSON header: data starts here. */
  dataStart: number;
  /** Every tensor, sorted by position in the file. */
  tensors: TensorSpan[];
}

export function isFloatDtype(dtype: string): dtype is FloatDtype {
  return Object.hasOwn(FLOAT_LAYOUTS, dtype);
}

/** Reads a whole file's layout and checks that every tensor lies inside it. */
export function readLayout(file: Uint8Array): SafetensorsLayout {
  const layout = readHeader(file);
  for (const t of layout.tensors) {
    if (t.end > file.length) throw new Error(`tensor ${t.name}: data_offsets run past the end of the file`);
  }
  return layout;
}

/**
 * Reads the header alone: an 8-byte little-endian length, then that many
 * bytes of JSON. `bytes` may stop right after the header (decoders that
 * stored it first know the layout before they have the data).
 */
export function readHeader(bytes: Uint8Array): SafetensorsLayout {
  if (bytes.length < 8) throw new Error("not a safetensors file: shorter than its 8-byte header length");
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  const dataStart = 8 + Number(headerLength);
  if (dataStart > bytes.length) throw new Error("not a safetensors file: header runs past the end");
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, dataStart))) as Record<string, unknown>;
  const tensors: TensorSpan[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === "__metadata__") continue;
    const { dtype, data_offsets: offsets } = entry as { dtype: string; data_offsets: [number, number] };
    const begin = dataStart + offsets[0];
    const end = dataStart + offsets[1];
    if (!(begin <= end)) throw new Error(`tensor ${name}: data_offsets decrease`);
    tensors.push({ name, dtype, begin, end });
  }
  tensors.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < tensors.length; i++) {
    if (tensors[i]!.begin < tensors[i - 1]!.end) throw new Error(`tensors ${tensors[i - 1]!.name} and ${tensors[i]!.name} overlap`);
  }
  return { dataStart, tensors };
}

/** Number of elements in the file's float tensors: the denominator of bits/weight. */
export function countWeights(layout: SafetensorsLayout): number {
  let weights = 0;
  for (const t of layout.tensors) {
    if (isFloatDtype(t.dtype)) weights += (t.end - t.begin) / FLOAT_LAYOUTS[t.dtype].width;
  }
  return weights;
}
