// A GGUF file as segments: the header (metadata and tensor infos) verbatim,
// then each tensor in data order. F32, F16 and BF16 tensors become coding
// pairs; quantised blocks and the alignment padding between tensors are
// coded byte-wise (or stored, or deflated, whichever is smallest), so the
// restored file is byte-identical. The header is parsed by
// @huggingface/gguf, served from memory through its `fetch` hook, and
// loaded only when a GGUF file comes: importing it takes about 55 ms, more
// than half of what loading ansfloat takes otherwise. Decoders name the
// segments from the stored header with a small synchronous reader of its
// tensor infos (ggufSegments).

import { ByteReader } from "./bytes.js";
import { layoutOf, type CodedDtype } from "./dtypes.js";
import { AnsfError } from "./errors.js";
import type { Reader } from "./io.js";
import type { SegmentPlan } from "./safetensors-codec.js";

export const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46]; // "GGUF"

/** GGML type ids of the float types coded as pairs. */
const CODED: Record<number, CodedDtype> = { 0: "fp32", 1: "fp16", 30: "bf16" };

export function isGguf(head: Uint8Array): boolean {
  return head.length >= 4 && GGUF_MAGIC.every((b, i) => head[i] === b);
}

/** Answers the parser's range requests from a Reader: no network, no whole-file read. */
function readerFetch(reader: Reader): typeof fetch {
  return (async (_url: unknown, init?: RequestInit) => {
    const range = /bytes=(\d+)-(\d*)/.exec(new Headers(init?.headers).get("range") ?? "");
    const start = range ? Math.min(Number(range[1]), reader.size) : 0;
    const end = range && range[2] ? Math.min(Number(range[2]) + 1, reader.size) : reader.size;
    return new Response(reader.read(start, end - start) as Uint8Array<ArrayBuffer>, { status: range ? 206 : 200, headers: { "content-length": String(end - start) } });
  }) as typeof fetch;
}

/** A tensor as the GGUF header lists it: GGML type id, dimensions innermost first, and where its data begins in the file. */
interface GgufTensor {
  name: string;
  type: number;
  dims: number[];
  begin: number;
}

/** The segments of a GGUF file, each tensor with its name, in data order. */
export async function planGguf(reader: Reader): Promise<{ plans: SegmentPlan[]; names: string[] }> {
  const size = reader.size;
  const { gguf } = await import("@huggingface/gguf");
  let parsed: Awaited<ReturnType<typeof gguf>>;
  try {
    parsed = await gguf("https://in-memory/model.gguf", { fetch: readerFetch(reader) });
  } catch (err) {
    throw new AnsfError("BAD_GGUF", `not a readable GGUF file: ${(err as Error).message}`, { cause: err });
  }
  const dataStart = Number(parsed.tensorDataOffset);
  if (!(dataStart <= size)) throw new AnsfError("BAD_GGUF", `tensor data starts at ${dataStart}, past the end of the ${size}-byte file`);
  const tensors = parsed.tensorInfos.map((t) => ({ name: t.name, type: t.dtype as number, dims: t.shape.map(Number), begin: dataStart + Number(t.offset) }));
  const { plans, names } = segmentsOf(tensors, dataStart, size);
  return { plans, names };
}

/**
 * The segments of a GGUF file of `size` bytes whose tensor data starts at
 * `dataStart`: the header, then each tensor in data order, coded as pairs
 * (F32, F16, BF16) or byte-wise, and the padding after it.
 */
function segmentsOf(listed: GgufTensor[], dataStart: number, size: number): { plans: SegmentPlan[]; names: string[]; types: (number | undefined)[] } {
  const tensors = [...listed].sort((a, b) => a.begin - b.begin);
  const plans: SegmentPlan[] = [{ begin: 0, end: dataStart, layout: layoutOf("u8"), shape: [] }];
  const names = ["(header)"];
  // The GGML type of each tensor carried as bytes (quantised blocks), for listings.
  const types: (number | undefined)[] = [undefined];
  const bytesRun = (begin: number, end: number, name: string, type?: number) => {
    if (end > begin) {
      plans.push({ begin, end, layout: layoutOf("u8"), shape: [] });
      names.push(name);
      types.push(type);
    }
  };
  tensors.forEach((t, i) => {
    const next = tensors[i + 1]?.begin ?? size;
    if (t.begin < plans[plans.length - 1]!.end || next > size || t.begin > next) {
      throw new AnsfError("BAD_GGUF", `tensor "${t.name}" at offset ${t.begin} overlaps another or lies outside the file`);
    }
    const coded = CODED[t.type];
    const elements = t.dims.reduce((a, b) => a * b, 1);
    const end = coded ? t.begin + elements * layoutOf(coded).width : next;
    if (end > next) throw new AnsfError("BAD_GGUF", `tensor "${t.name}" of ${elements} ${coded} elements overruns the next tensor`);
    if (coded) {
      // GGUF lists dimensions innermost first; safetensors and we list them outermost first.
      plans.push({ begin: t.begin, end, layout: layoutOf(coded), shape: [...t.dims].reverse() });
      names.push(t.name);
      types.push(undefined);
    } else {
      bytesRun(t.begin, end, t.name, t.type);
    }
    bytesRun(end, next, `(padding after ${t.name})`);
  });
  if (tensors.length === 0) bytesRun(dataStart, size, "(data)");
  return { plans, names, types };
}

/** Bytes of each fixed-size GGUF metadata value type (8 is a string, 9 an array). */
const VALUE_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;
/** Arrays of arrays nest at most this deep, and tensors have at most this many dimensions (as @huggingface/gguf allows). */
const MAX_ARRAY_DEPTH = 4;
const MAX_RANK = 8;

/** GGML's names of its tensor types (enum ggml_type; also @huggingface/tasks' GGMLQuantizationType, whose import takes 35 ms), by id. */
const GGML_TYPES: Record<number, string> = {
  0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K",
  14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS",
  24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
};

/** What a listing says of the segments of a GGUF-sourced stream: each one's name, and the GGML type of tensors carried as bytes. */
export interface GgufSegments {
  names: string[];
  /** "Q4_K", "Q8_0", ... for a quantised tensor's segment; undefined for the others. */
  dtypes: (string | undefined)[];
}

/**
 * The names (and GGML types) of the `segments` segments planGguf cut a GGUF
 * file into, from the file's header (segment 0, all bytes before the
 * tensor data) and its size.
 * @huggingface/gguf, which read the header when the file was compressed,
 * parses only asynchronously; open() and inspect() are synchronous, so
 * this reads the tensor infos itself and cuts the same segments
 * (segmentsOf). Little-endian GGUF only: a big-endian file's segments keep
 * positional names (undefined here).
 */
export function ggufSegments(header: Uint8Array, size: number, segments: number): GgufSegments | undefined {
  const r = new ByteReader(header, "GGUF header");
  r.bytes(GGUF_MAGIC.length);
  const version = r.u32();
  if ((version & 0xffff) === 0) return undefined;
  const count = () => (version === 1 ? r.u32() : r.u64());
  const skipString = () => r.bytes(count());
  const skipValue = (type: number, depth: number): void => {
    if (type === STRING) skipString();
    else if (type === ARRAY && depth < MAX_ARRAY_DEPTH) {
      const inner = r.u32();
      const n = count();
      if (VALUE_BYTES[inner] !== undefined) r.bytes(n * VALUE_BYTES[inner]!);
      else for (let i = 0; i < n; i++) skipValue(inner, depth + 1);
    } else if (VALUE_BYTES[type] !== undefined) r.bytes(VALUE_BYTES[type]!);
    else throw new AnsfError("CORRUPT_STREAM", `GGUF header: metadata value of type ${type} at offset ${r.pos}`);
  };
  const tensorCount = count();
  const kvCount = count();
  for (let i = 0; i < kvCount; i++) {
    skipString();
    skipValue(r.u32(), 0);
  }
  const tensors: GgufTensor[] = [];
  const decoder = new TextDecoder();
  for (let i = 0; i < tensorCount; i++) {
    const name = decoder.decode(r.bytes(count()));
    const rank = r.u32();
    if (rank > MAX_RANK) throw new AnsfError("CORRUPT_STREAM", `GGUF header: tensor "${name}" has ${rank} dimensions`);
    const dims = Array.from({ length: rank }, () => count());
    const type = r.u32();
    tensors.push({ name, type, dims, begin: header.length + r.u64() });
  }
  const { names, types } = segmentsOf(tensors, header.length, size);
  if (names.length !== segments) throw new AnsfError("CORRUPT_STREAM", `the GGUF header lists ${names.length} segments, the index ${segments}`);
  return { names, dtypes: types.map((t) => (t === undefined ? undefined : GGML_TYPES[t] ?? `GGML type ${t}`)) };
}
