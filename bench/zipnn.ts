// A ZipNN-style baseline (Hershcovitch et al., "ZipNN: Lossless Compression
// for AI Models", arXiv 2411.05239): byte grouping, then a general-purpose
// coder per group. Each float is rotated left by one bit so that its top byte
// is the whole 8-bit exponent (bf16, fp32; for fp16 the 5-bit exponent and 3
// mantissa bits) and the sign lands next to the mantissa. Byte k of every
// element of one dtype forms plane k; each plane is handed to the backend and
// kept raw when the backend does not make it smaller, which is what happens
// to mantissa planes. The safetensors header is kept raw.

import { FLOAT_LAYOUTS, isFloatDtype, readHeader, type FloatDtype, type TensorSpan } from "./safetensors.js";

/** A general-purpose coder for one plane. */
export interface PlaneBackend {
  compress(plane: Uint8Array): Uint8Array;
  decompress(packed: Uint8Array): Uint8Array;
}

export interface ByteGroups {
  /** The length prefix and JSON header, verbatim. */
  prefix: Uint8Array;
  /** For each float dtype in order of first appearance, its planes from the top (exponent) byte down. */
  planes: Uint8Array[];
  /** Every other byte after the header (non-float tensors, gaps), in file order. */
  rest: Uint8Array;
}

interface FloatGroup {
  dtype: FloatDtype;
  spans: TensorSpan[];
  elements: number;
}

function floatGroups(tensors: TensorSpan[]): FloatGroup[] {
  const groups = new Map<FloatDtype, FloatGroup>();
  for (const t of tensors) {
    if (!isFloatDtype(t.dtype)) continue;
    const width = FLOAT_LAYOUTS[t.dtype].width;
    if ((t.end - t.begin) % width !== 0) throw new Error(`tensor ${t.name}: not a whole number of ${t.dtype} elements`);
    let group = groups.get(t.dtype);
    if (!group) groups.set(t.dtype, (group = { dtype: t.dtype, spans: [], elements: 0 }));
    group.spans.push(t);
    group.elements += (t.end - t.begin) / width;
  }
  return [...groups.values()];
}

/** The byte ranges after the header that no float tensor covers, in file order. */
function restRanges(dataStart: number, groups: FloatGroup[], fileLength: number): [number, number][] {
  const covered = groups.flatMap((g) => g.spans).sort((a, b) => a.begin - b.begin);
  const ranges: [number, number][] = [];
  let at = dataStart;
  for (const span of covered) {
    if (span.begin > at) ranges.push([at, span.begin]);
    at = span.end;
  }
  if (fileLength > at) ranges.push([at, fileLength]);
  return ranges;
}

export function groupBytes(file: Uint8Array): ByteGroups {
  const { dataStart, tensors } = readHeader(file);
  const groups = floatGroups(tensors);
  const planes: Uint8Array[] = [];
  for (const { dtype, spans, elements } of groups) {
    const width = FLOAT_LAYOUTS[dtype].width;
    const mine = Array.from({ length: width }, () => new Uint8Array(elements));
    let first = 0;
    for (const span of spans) {
      // Byte j of the value rotated left by one bit takes its low bit from the top of the byte below it (wrapping).
      for (let j = 0; j < width; j++) {
        const plane = mine[width - 1 - j]!;
        const below = (j + width - 1) % width;
        for (let at = span.begin, i = first; at < span.end; at += width, i++) {
          plane[i] = ((file[at + j]! << 1) | (file[at + below]! >> 7)) & 0xff;
        }
      }
      first += (span.end - span.begin) / width;
    }
    planes.push(...mine);
  }
  const rest = restRanges(dataStart, groups, file.length).map(([b, e]) => file.subarray(b, e));
  return { prefix: file.slice(0, dataStart), planes, rest: Buffer.concat(rest) };
}

export function ungroupBytes({ prefix, planes, rest }: ByteGroups): Uint8Array {
  const { dataStart, tensors } = readHeader(prefix);
  const groups = floatGroups(tensors);
  const floatBytes = groups.reduce((sum, g) => sum + g.elements * FLOAT_LAYOUTS[g.dtype].width, 0);
  const file = new Uint8Array(dataStart + floatBytes + rest.length);
  file.set(prefix);
  let p = 0;
  for (const { dtype, spans } of groups) {
    const width = FLOAT_LAYOUTS[dtype].width;
    const mine = planes.slice(p, p + width);
    p += width;
    let first = 0;
    for (const span of spans) {
      // Undo the rotation: the high bit of byte j comes back from the low bit of the rotated byte above it.
      for (let j = 0; j < width; j++) {
        const rotated = mine[width - 1 - j]!;
        const above = mine[(2 * width - 2 - j) % width]!;
        for (let at = span.begin + j, i = first; at < span.end; at += width, i++) {
          file[at] = (rotated[i]! >> 1) | ((above[i]! & 1) << 7);
        }
      }
      first += (span.end - span.begin) / width;
    }
  }
  let r = 0;
  for (const [b, e] of restRanges(dataStart, groups, file.length)) {
    file.set(rest.subarray(r, r + (e - b)), b);
    r += e - b;
  }
  return file;
}

const RAW = 0;
const PACKED = 1;

/** Container: the prefix verbatim, then each plane and the rest as [mode u8][length u32 LE][bytes]. */
export function zipnnCompress(file: Uint8Array, backend: PlaneBackend): Uint8Array {
  const { prefix, planes, rest } = groupBytes(file);
  const parts: Uint8Array[] = [prefix];
  for (const section of [...planes, rest]) {
    const packed = backend.compress(section);
    const [mode, body] = packed.length < section.length ? [PACKED, packed] : [RAW, section];
    const head = new Uint8Array(5);
    head[0] = mode;
    new DataView(head.buffer).setUint32(1, body.length, true);
    parts.push(head, body);
  }
  return Buffer.concat(parts);
}

export function zipnnDecompress(packed: Uint8Array, backend: PlaneBackend): Uint8Array {
  const { dataStart, tensors } = readHeader(packed);
  const planeCount = floatGroups(tensors).reduce((sum, g) => sum + FLOAT_LAYOUTS[g.dtype].width, 0);
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const sections: Uint8Array[] = [];
  let at = dataStart;
  for (let s = 0; s <= planeCount; s++) {
    const mode = view.getUint8(at);
    const length = view.getUint32(at + 1, true);
    const body = packed.subarray(at + 5, at + 5 + length);
    if (body.length !== length) throw new Error("zipnn-style stream truncated");
    sections.push(mode === PACKED ? backend.decompress(body) : body);
    at += 5 + length;
  }
  const rest = sections.pop()!;
  return ungroupBytes({ prefix: packed.subarray(0, dataStart), planes: sections, rest });
}
