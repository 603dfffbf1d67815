// A small, strict safetensors reader and writer (there is no
// @huggingface/safetensors package). Layout: u64 LE header length N, N bytes
// of UTF-8 JSON (possibly padded with spaces), then the data region. Every
// entry is checked: known dtype, integer shape and offsets, a byte count that
// matches dtype and shape, and tensors that tile the data region exactly (no
// overlaps, no holes), as the reference implementation demands. A file that
// is consistent but cut short reports TRUNCATED; anything else that is wrong
// reports BAD_SAFETENSORS.

import { AnsfError } from "./errors.js";

/** The element types of the safetensors format. */
export type SafetensorsDtype =
  | "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" | "F4" | "F6_E2M3" | "F6_E3M2"
  | "I16" | "U16" | "F16" | "BF16" | "I32" | "U32" | "F32" | "F64" | "I64" | "U64" | "C64";

const BITS: Record<SafetensorsDtype, number> = {
  BOOL: 8, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6,
  I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, F64: 64, I64: 64, U64: 64, C64: 64,
};

/** One tensor of a parsed file. */
export interface SafetensorsTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offset in the file where the tensor's data starts. */
  begin: number;
  /** Absolute byte offset in the file just past the tensor's data. */
  end: number;
}

/** A parsed, validated safetensors file (header only; data stays in the caller's buffer). */
export interface SafetensorsFile {
  /** N, the JSON header's length in bytes, padding included. */
  headerLength: number;
  /** 8 + headerLength: where the data region starts. */
  dataStart: number;
  /** The `__metadata__` map, or null when the header has none. */
  metadata: Record<string, string> | null;
  /** Every tensor, in data order (sorted by `begin`). */
  tensors: SafetensorsTensor[];
}

/** Headers above this size are refused, as the reference implementation does. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bits per element of a dtype: 4 for F4, 6 for F6_*, 8 for BOOL and the 8-bit types, and so on. */
export function dtypeBits(dtype: SafetensorsDtype): number {
  if (!isDtype(dtype)) throw new AnsfError("BAD_ARGUMENT", `unknown safetensors dtype ${JSON.stringify(dtype)}`);
  return BITS[dtype];
}

// hasOwn, not `in`: "toString" must not pass for a dtype.
function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === "string" && Object.hasOwn(BITS, s);
}

function bad(message: string): AnsfError {
  return new AnsfError("BAD_SAFETENSORS", message);
}

/**
 * Parses and validates a whole safetensors file held in memory.
 * Throws `AnsfError` TRUNCATED when the file ends before the header or the
 * data it announces, BAD_SAFETENSORS for anything else malformed.
 */
export function parseSafetensors(bytes: Uint8Array): SafetensorsFile {
  return parseSafetensorsHeader(bytes, bytes.length);
}

/**
 * Parses and validates a file from its first 8 + N bytes (for streaming large
 * files: read 8 bytes for N, then N more). `fileSize` is the whole file's
 * size, against which the data offsets are checked; bytes of `prefix` past
 * the header are ignored. Errors as for {@link parseSafetensors}, plus
 * BAD_ARGUMENT when `prefix` is too short to hold the header it announces.
 */
export function parseSafetensorsHeader(prefix: Uint8Array, fileSize: number): SafetensorsFile {
  if (!Number.isSafeInteger(fileSize) || fileSize < prefix.length) {
    throw new AnsfError("BAD_ARGUMENT", `fileSize ${fileSize} is not a byte count of at least the ${prefix.length}-byte prefix`);
  }
  if (fileSize < 8) throw new AnsfError("TRUNCATED", `safetensors file of ${fileSize} bytes ends inside its 8-byte header length`);
  if (prefix.length < 8) throw new AnsfError("BAD_ARGUMENT", `prefix of ${prefix.length} bytes does not hold the 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw bad(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLength = Number(n);
  const dataStart = 8 + headerLength;
  if (dataStart > fileSize) {
    throw new AnsfError("TRUNCATED", `header announces ${headerLength} bytes but the file holds only ${fileSize - 8} after the length`);
  }
  if (dataStart > prefix.length) {
    throw new AnsfError("BAD_ARGUMENT", `prefix of ${prefix.length} bytes does not hold the ${dataStart} bytes of length and header`);
  }

  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, so JSON.parse refuses it
    // as the reference (serde_json) does, instead of it vanishing silently.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(prefix.subarray(8, dataStart));
  } catch {
    throw bad("header is not valid UTF-8");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw bad(`header is not valid JSON: ${String((err as Error).message).replace(/\s+/g, " ")}`);
  }
  if (!isObject(json)) throw bad(`header is JSON ${describe(json)}, not an object`);
  const duplicate = findDuplicateKey(text);
  if (duplicate) throw bad(duplicate);

  let metadata: Record<string, string> | null = null;
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === "__metadata__") metadata = parseMetadata(entry);
    else entries.push(parseEntry(name, entry));
  }

  // Sorted by (begin, end), the tensors must tile [0, data size) exactly:
  // each starts where the previous ended. Empty tensors sort first at their
  // offset, so they may sit between (never inside) other tensors.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let previous = "";
  for (const t of entries) {
    if (t.begin < at) throw bad(`tensor ${JSON.stringify(t.name)}: data_offsets [${t.begin}, ${t.end}] overlap tensor ${JSON.stringify(previous)}, which ends at ${at}`);
    if (t.begin > at) throw bad(`data bytes [${at}, ${t.begin}) before tensor ${JSON.stringify(t.name)} belong to no tensor`);
    at = t.end;
    previous = t.name;
  }
  const dataSize = fileSize - dataStart;
  if (at > dataSize) throw new AnsfError("TRUNCATED", `tensors need ${at} data bytes but the file holds only ${dataSize}`);
  if (at < dataSize) throw bad(`data bytes [${at}, ${dataSize}) after the last tensor belong to no tensor`);

  const tensors = entries.map((t) => ({ ...t, begin: dataStart + t.begin, end: dataStart + t.end }));
  return { headerLength, dataStart, metadata, tensors };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** "an array", "a string", "null"...: for messages about the wrong JSON type. */
function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function parseMetadata(entry: unknown): Record<string, string> {
  if (!isObject(entry)) throw bad(`__metadata__ is ${describe(entry)}, not an object of strings`);
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== "string") throw bad(`__metadata__ value of ${JSON.stringify(k)} is ${describe(v)}, not a string`);
  }
  return entry as Record<string, string>;
}

/** One tensor entry, with offsets still relative to the data region. */
function parseEntry(name: string, entry: unknown) {
  // Named only for a message: a header holds thousands of entries.
  const what = () => `tensor ${JSON.stringify(name)}`;
  if (!isObject(entry)) throw bad(`${what()} is ${describe(entry)}, not an object`);
  const keys = Object.keys(entry);
  if (keys.length !== 3 || !("dtype" in entry && "shape" in entry && "data_offsets" in entry)) {
    throw bad(`${what()} must have exactly dtype, shape and data_offsets, not ${keys.sort().join(", ") || "no keys"}`);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (!isDtype(dtype)) throw bad(`${what()}: unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isCount)) throw bad(`${what()}: shape ${JSON.stringify(shape)} is not an array of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw bad(`${what()}: data_offsets ${JSON.stringify(offsets)} are not two non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw bad(`${what()}: data_offsets [${begin}, ${end}] are reversed`);
  const bytes = byteSize(dtype, shape);
  if (bytes !== BigInt(end - begin)) {
    throw bad(`${what()}: ${dtype} [${shape.join(", ")}] takes ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

/**
 * Bytes of a tensor: ceil(elements * bits / 8), so sub-byte dtypes round up
 * to whole bytes. BigInt because a hostile shape can overflow 2^53.
 */
function byteSize(dtype: SafetensorsDtype, shape: number[]): bigint {
  const bits = shape.reduce((p, d) => p * BigInt(d), BigInt(BITS[dtype]));
  return (bits + 7n) / 8n;
}

/**
 * JSON.parse keeps only the last of duplicate keys, so duplicates are found
 * by a second pass over the (already valid) JSON text. A stack holds, per open
 * object, the keys seen so far (null for arrays); a string directly followed
 * by ':' is a key. Returns a message for the first duplicate, or null.
 */
function findDuplicateKey(text: string): string | null {
  // Character codes, not one-character strings; a key is decoded by
  // JSON.parse only when it holds an escape; an object's owner is named
  // only for a message.
  const QUOTE = 34, BACKSLASH = 92, COLON = 58;
  const stack: { keys: Set<string> | null; owner: () => string; last: string }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      let escaped = false;
      for (i++; text.charCodeAt(i) !== QUOTE; i++) {
        if (text.charCodeAt(i) === BACKSLASH) {
          escaped = true;
          i++;
        }
      }
      const top = stack[stack.length - 1];
      if (!top?.keys) continue;
      let j = i + 1;
      for (let w = text.charCodeAt(j); w === 32 || w === 9 || w === 10 || w === 13; w = text.charCodeAt(++j));
      if (text.charCodeAt(j) !== COLON) continue;
      const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
      if (top.keys.has(key)) {
        if (stack.length === 1) return key === "__metadata__" ? "header has __metadata__ twice" : `duplicate tensor name ${JSON.stringify(key)}`;
        return `duplicate key ${JSON.stringify(key)} in ${top.owner()}`;
      }
      top.keys.add(key);
      top.last = key;
    } else if (c === 123 || c === 91) {
      // { or [
      const parent = stack[stack.length - 1];
      const owner = !parent ? () => "header" : stack.length === 1 ? ((name) => () => JSON.stringify(name))(parent.last) : parent.owner;
      stack.push({ keys: c === 123 ? new Set() : null, owner, last: "" });
    } else if (c === 125 || c === 93) {
      // } or ]
      stack.pop();
    }
  }
  return null;
}

/**
 * Writes a safetensors file: `__metadata__` first (as the reference writer
 * does), then the tensors in the given order, their data contiguous in that
 * order; the compact JSON header is padded with spaces so the data region
 * starts at a multiple of 8. Throws BAD_ARGUMENT for a duplicate or reserved
 * name, an unknown dtype, a bad shape, data whose length does not match
 * dtype and shape, or a non-string metadata value.
 */
export function writeSafetensors(
  tensors: { name: string; dtype: SafetensorsDtype; shape: number[]; data: Uint8Array }[],
  metadata?: Record<string, string>,
): Uint8Array {
  const fail = (message: string) => new AnsfError("BAD_ARGUMENT", message);
  // The JSON is built by hand rather than from one object: object keys that
  // look like integers ("0", "12") would be reordered, and "__proto__" lost.
  const parts: string[] = [];
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw fail(`metadata value of ${JSON.stringify(k)} is ${describe(v)}, not a string`);
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  const names = new Set<string>();
  let offset = 0;
  for (const { name, dtype, shape, data } of tensors) {
    const what = `tensor ${JSON.stringify(name)}`;
    if (typeof name !== "string" || name === "__metadata__") throw fail(`${what}: name is reserved or not a string`);
    if (names.has(name)) throw fail(`${what} is given twice`);
    names.add(name);
    if (!isDtype(dtype)) throw fail(`${what}: unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) throw fail(`${what}: shape ${JSON.stringify(shape)} is not an array of non-negative integers`);
    const bytes = byteSize(dtype, shape);
    if (bytes !== BigInt(data.length)) throw fail(`${what}: ${dtype} [${shape.join(", ")}] takes ${bytes} bytes but data has ${data.length}`);
    parts.push(`${JSON.stringify(name)}:{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":[${offset},${offset + data.length}]}`);
    offset += data.length;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  if (headerLength > MAX_HEADER_BYTES) throw new AnsfError("TOO_LARGE", `header of ${headerLength} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);

  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.length;
  }
  return out;
}
