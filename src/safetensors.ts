// A small, strict safetensors reader and writer (there is no
// @huggingface/safetensors package). Layout: u64 LE header length N, N
// bytes of JSON (possibly padded with spaces), then the data region. Every
// offset is checked: in range, sized to its dtype and shape, no overlaps and
// no holes, as the reference implementation demands.

import { AnsfError } from "./errors.js";

export type SafetensorsDtype =
  | "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" | "F4" | "F6_E2M3" | "F6_E3M2"
  | "I16" | "U16" | "F16" | "BF16" | "I32" | "U32" | "F32" | "F64" | "I64" | "U64" | "C64";

const BITS: Record<SafetensorsDtype, number> = {
  BOOL: 8, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6,
  I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, F64: 64, I64: 64, U64: 64, C64: 64,
};

/** Bits per element of a dtype. */
export function dtypeBits(dtype: SafetensorsDtype): number {
  return BITS[dtype];
}

export interface SafetensorsTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offsets in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  headerLength: number;
  /** 8 + headerLength: where the data region starts. */
  dataStart: number;
  metadata: Record<string, string> | null;
  /** Sorted by data offset. */
  tensors: SafetensorsTensor[];
}

/** Headers above this size are refused, as the reference implementation does. */
export const MAX_HEADER_BYTES = 100_000_000;

function bad(message: string): AnsfError {
  return new AnsfError("BAD_SAFETENSORS", message);
}

/** Parses and validates a whole file held in memory. */
export function parseSafetensors(bytes: Uint8Array): SafetensorsFile {
  return parseSafetensorsHeader(bytes, bytes.length);
}

/**
 * Parses and validates a file from its first 8 + N bytes, given the whole
 * file's size (for streaming large files).
 */
export function parseSafetensorsHeader(prefix: Uint8Array, fileSize: number): SafetensorsFile {
  if (prefix.length < 8 || fileSize < 8) throw new AnsfError("TRUNCATED", `safetensors file of ${Math.min(prefix.length, fileSize)} bytes has no 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw bad(`header length ${n} exceeds ${MAX_HEADER_BYTES} bytes`);
  const headerLength = Number(n);
  const dataStart = 8 + headerLength;
  if (dataStart > fileSize || dataStart > prefix.length) {
    throw new AnsfError("TRUNCATED", `safetensors header announces ${headerLength} bytes but the file ends at ${Math.min(fileSize, prefix.length)}`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(prefix.subarray(8, dataStart));
  } catch {
    throw bad("header is not valid UTF-8");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw bad(`header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw bad("header is not a JSON object");
  const keys = topLevelKeys(text);
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) throw bad(`duplicate key "${k}" in header`);
    seen.add(k);
  }

  let metadata: Record<string, string> | null = null;
  const tensors: SafetensorsTensor[] = [];
  const dataSize = fileSize - dataStart;
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw bad("__metadata__ is not an object");
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== "string") throw bad(`__metadata__ value of "${k}" is not a string`);
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    tensors.push(parseTensor(name, entry, dataStart, dataSize));
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = dataStart;
  for (const t of tensors) {
    if (t.begin < at) throw bad(`tensor "${t.name}" overlaps the tensor before it`);
    if (t.begin > at) throw bad(`hole of ${t.begin - at} bytes before tensor "${t.name}"`);
    at = t.end;
  }
  if (at !== fileSize) throw bad(`tensors cover ${at - dataStart} of ${dataSize} data bytes`);
  return { headerLength, dataStart, metadata, tensors };
}

function parseTensor(name: string, entry: unknown, dataStart: number, dataSize: number): SafetensorsTensor {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw bad(`tensor "${name}" is not an object`);
  const e = entry as Record<string, unknown>;
  const keys = Object.keys(e).sort().join(",");
  if (keys !== "data_offsets,dtype,shape") throw bad(`tensor "${name}" must have exactly dtype, shape and data_offsets (has ${keys || "nothing"})`);
  const dtype = e.dtype;
  if (typeof dtype !== "string" || !(dtype in BITS)) throw bad(`tensor "${name}": unknown dtype ${JSON.stringify(dtype)}`);
  const shape = e.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(`tensor "${name}": shape must be an array of non-negative integers`);
  }
  const offsets = e.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw bad(`tensor "${name}": data_offsets must be two non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw bad(`tensor "${name}": data_offsets [${begin}, ${end}] are reversed`);
  if (end > dataSize) throw bad(`tensor "${name}": data_offsets [${begin}, ${end}] run past the ${dataSize}-byte data region`);
  const bits = (shape as number[]).reduce((p, d) => p * BigInt(d), BigInt(BITS[dtype as SafetensorsDtype]));
  const expected = (bits + 7n) / 8n;
  if (expected !== BigInt(end - begin)) {
    throw bad(`tensor "${name}": ${dtype} [${(shape as number[]).join(", ")}] needs ${expected} bytes, data_offsets give ${end - begin}`);
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin: dataStart + begin, end: dataStart + end };
}

/**
 * The keys of the top-level object in source order. JSON.parse keeps only
 * the last of duplicate keys, so duplicates are found by scanning the text:
 * strings are skipped, and a string at depth 1 followed by ':' is a key.
 */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === "\\") i++;
      if (depth === 1) {
        let j = i + 1;
        while (text[j] === " " || text[j] === "\t" || text[j] === "\n" || text[j] === "\r") j++;
        if (text[j] === ":") keys.push(JSON.parse(text.slice(start, i + 1)) as string);
      }
    } else if (ch === "{" || ch === "[") {
      depth++;
    } else if (ch === "}" || ch === "]") {
      depth--;
    }
  }
  return keys;
}

/** Writes a safetensors file: header padded with spaces to a multiple of 8, tensors contiguous in the given order. */
export function writeSafetensors(
  tensors: { name: string; dtype: SafetensorsDtype; shape: number[]; data: Uint8Array }[],
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(padded).fill(0x20);
  head.set(json);
  json = head;
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.length;
  }
  parseSafetensors(out);
  return out;
}
