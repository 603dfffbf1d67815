// Lazy access to a .ansf file on disk for model loaders: open() reads only
// the footer, the index and the source's header (safetensors or GGUF, for
// the tensors' names); tensor() reads and decodes just that tensor's
// chunks; slice() just the chunks a range of elements covers. No global
// state: each handle owns its descriptor.

import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { requirePath } from "./arguments.js";
import { resultBuffer } from "./bytes.js";
import { decodeChunk, type ChunkRead } from "./chunk.js";
import { segmentDtype, type ChunkEntry, type Index, type Segment } from "./container.js";
import { AnsfError } from "./errors.js";
import { decodeSegmentTo, segmentFormat, targetWidth, type DecodeTarget } from "./format-codec.js";
import { ggufSegments } from "./gguf-codec.js";
import { fileReader, type Reader } from "./io.js";
import { safetensorsSegments } from "./safetensors-codec.js";
import { readIndexFrom } from "./stream.js";
import { core } from "./wasm.js";

export interface TensorInfo {
  name: string;
  /** bf16, fp16, fp32 for coded tensors; the safetensors dtype for byte-coded ones. */
  dtype: string;
  shape: number[];
  /** Decoded size in bytes. */
  bytes: number;
}

export interface TensorReadOptions {
  /** Decode into this buffer instead of a new one (at least the decoded size in bytes). */
  out?: Uint8Array;
}

let fp16Table: Float32Array | undefined;

/** fp16 bit pattern -> float32, every pattern exact (a 256 KiB table built on first use). */
function fp16ToFloat32(): Float32Array {
  if (fp16Table) return fp16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) table[h] = sign * m * 2 ** -24;
    else if (e === 31) table[h] = m ? NaN : sign * Infinity;
    else table[h] = sign * (1024 + m) * 2 ** (e - 25);
  }
  // NaN payloads: keep the bits (quiet NaN with the payload shifted up).
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) if (((h >>> 10) & 0x1f) === 31 && h & 0x3ff) bits[h] = ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13);
  fp16Table = table;
  return table;
}

export class AnsfFile {
  private readonly reader: Reader;
  private readonly index: Index;
  private readonly byName = new Map<string, { info: TensorInfo; segment: Segment }>();
  /** Tensors in file order. */
  readonly tensors: TensorInfo[] = [];

  constructor(readonly path: string) {
    this.reader = fileReader(path);
    try {
      this.index = readIndexFrom(this.reader);
      this.nameSegments();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private nameSegments(): void {
    const segments = this.index.segments;
    if (this.index.source === "safetensors") {
      const { names, dtypes, shapes } = safetensorsSegments(this.decodeSegment(segments[0]!), this.index.size, segments);
      // Segment 0 is the header, not a tensor.
      segments.slice(1).forEach((s, j) => this.add({ name: names[j + 1]!, dtype: segmentDtype(s, dtypes[j + 1], dtypes[j + 1]!), shape: shapes[j + 1]!, bytes: s.length }, s));
    } else {
      const labels = this.index.source === "gguf" && segments[0] ? ggufSegments(this.decodeSegment(segments[0]), this.index.size, segments.length) : undefined;
      const nameOf = (i: number) => labels?.names[i] ?? (segments.length === 1 ? "tensor" : `segment ${i}`);
      segments.forEach((s, i) => this.add({ name: nameOf(i), dtype: segmentDtype(s, labels?.dtypes[i], s.layout.name), shape: s.shape, bytes: s.length }, s));
    }
  }

  private add(info: TensorInfo, segment: Segment): void {
    this.tensors.push(info);
    this.byName.set(info.name, { info, segment });
  }

  private find(name: string): { info: TensorInfo; segment: Segment } {
    const hit = this.byName.get(name);
    if (!hit) throw new AnsfError("BAD_ARGUMENT", `no tensor named "${name}" in ${this.path}`);
    return hit;
  }

  private decodeSegment(segment: Segment, out = resultBuffer(segment.length)): Uint8Array {
    return this.decodeElements(segment, 0, segment.length / segment.layout.width, out);
  }

  /** A chunk read from the file straight into the decoder's memory. */
  private chunkRead(c: ChunkEntry): ChunkRead {
    return { length: c.length, read: (into) => this.reader.read(c.offset, c.length, into) };
  }

  /** Decodes elements [begin, end) of a segment, reading only the chunks that cover them. */
  private decodeElements(segment: Segment, begin: number, end: number, out: Uint8Array): Uint8Array {
    const width = segment.layout.width;
    let first = 0;
    for (const c of segment.chunks) {
      const last = first + c.elements;
      if (last > begin && first < end) {
        const chunk = this.chunkRead(c);
        const from = Math.max(begin, first);
        const to = Math.min(end, last);
        if (from === first && to === last) {
          decodeChunk(core(), chunk, segment.layout, c.elements, out.subarray((first - begin) * width, (last - begin) * width), this.index.version);
        } else {
          const whole = new Uint8Array(c.elements * width);
          decodeChunk(core(), chunk, segment.layout, c.elements, whole, this.index.version);
          out.set(whole.subarray((from - first) * width, (to - first) * width), (from - begin) * width);
        }
      }
      first = last;
    }
    return out;
  }

  /** A tensor's bytes as stored (bf16 and fp16 as 16-bit words), decoded now. */
  tensor(name: string, options: TensorReadOptions = {}): Uint8Array {
    const { segment } = this.find(name);
    return this.slice(name, 0, segment.length / segment.layout.width, options);
  }

  /** Elements [begin, end) of a tensor, flattened; decodes only the chunks they lie in. */
  slice(name: string, begin: number, end: number, options: TensorReadOptions = {}): Uint8Array {
    const { segment } = this.find(name);
    const count = segment.length / segment.layout.width;
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end > count || begin > end) {
      throw new AnsfError("BAD_ARGUMENT", `slice [${begin}, ${end}) is outside tensor "${name}" of ${count} elements`);
    }
    const bytes = (end - begin) * segment.layout.width;
    const out = options.out ?? resultBuffer(bytes);
    if (out.length < bytes) throw new AnsfError("BAD_ARGUMENT", `output buffer of ${out.length} bytes is smaller than the ${bytes} bytes to decode`);
    return this.decodeElements(segment, begin, end, out.subarray(0, bytes));
  }

  /**
   * A tensor of a numeric format (or bf16, fp16, fp32) as stored patterns
   * or converted to fp32, bf16 or fp16 bits (see format-codec.ts), chunk by
   * chunk as it is decoded; values are unscaled.
   */
  decodeAs(name: string, target: DecodeTarget, options: TensorReadOptions = {}): Uint8Array {
    const { segment } = this.find(name);
    const bytes = (segment.length / segment.layout.width) * targetWidth(segmentFormat(segment), target);
    const out = options.out ?? resultBuffer(bytes);
    if (out.length < bytes) throw new AnsfError("BAD_ARGUMENT", `output buffer of ${out.length} bytes is smaller than the ${bytes} bytes to decode`);
    decodeSegmentTo(core(), (c) => this.chunkRead(c), segment, target, out.subarray(0, bytes), this.index.version);
    return out.subarray(0, bytes);
  }

  /** A bf16, fp16 or fp32 tensor widened to float32 (exact: every value is representable); a format's tensor converted to float32. */
  float32(name: string): Float32Array {
    const { info, segment } = this.find(name);
    if (segment.format) {
      const bits = this.decodeAs(name, "fp32");
      return new Float32Array(bits.buffer, bits.byteOffset, bits.length / 4);
    }
    const raw = this.tensor(name);
    if (info.dtype === "fp32") return new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
    const words = new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2);
    if (info.dtype === "bf16") return new Float32Array(Uint32Array.from(words, (w) => w << 16).buffer);
    if (info.dtype === "fp16") {
      const table = fp16ToFloat32();
      return Float32Array.from(words, (w) => table[w]!);
    }
    throw new AnsfError("BAD_ARGUMENT", `tensor "${name}" is ${info.dtype}, not a float type`);
  }

  /** Releases the file descriptor; the handle cannot read afterwards. */
  close(): void {
    this.reader.close();
  }
}

/** Opens a .ansf file for lazy, per-tensor decoding. Call close() when done. */
export function open(path: string): AnsfFile {
  requirePath(path, "path");
  return new AnsfFile(path);
}

/**
 * A sharded Hugging Face folder (`model.safetensors.index.json` with its
 * `weight_map`, shards compressed to `SHARD.ansf` beside it): tensors are
 * resolved through the index, and each shard is opened on first use.
 */
export class AnsfModel {
  private readonly shards = new Map<string, AnsfFile>();
  private readonly weightMap: Map<string, string>;

  constructor(readonly dir: string) {
    const indexPath = join(dir, "model.safetensors.index.json");
    let text: string;
    try {
      text = readFileSync(indexPath, "utf8");
    } catch (err) {
      throw new AnsfError("IO_ERROR", `cannot read ${indexPath}: ${(err as Error).message}`, { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new AnsfError("BAD_SAFETENSORS", `${indexPath} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    const map = (parsed as { weight_map?: unknown } | null)?.weight_map;
    if (typeof map !== "object" || map === null) throw new AnsfError("BAD_SAFETENSORS", `${indexPath} has no weight_map object`);
    this.weightMap = new Map();
    for (const [name, shard] of Object.entries(map)) {
      if (typeof shard !== "string" || shard !== basename(shard)) throw new AnsfError("BAD_SAFETENSORS", `${indexPath}: tensor "${name}" maps to "${String(shard)}", not a file name in the folder`);
      this.weightMap.set(name, shard);
    }
  }

  /** Tensor names, in the index's order. */
  get names(): string[] {
    return [...this.weightMap.keys()];
  }

  /** The open shard holding `name`. */
  shardOf(name: string): AnsfFile {
    const shard = this.weightMap.get(name);
    if (shard === undefined) throw new AnsfError("BAD_ARGUMENT", `no tensor named "${name}" in ${this.dir}`);
    let file = this.shards.get(shard);
    if (!file) {
      file = open(join(this.dir, `${shard}.ansf`));
      this.shards.set(shard, file);
    }
    return file;
  }

  tensor(name: string, options: TensorReadOptions = {}): Uint8Array {
    return this.shardOf(name).tensor(name, options);
  }

  float32(name: string): Float32Array {
    return this.shardOf(name).float32(name);
  }

  /** Closes every shard opened so far. */
  close(): void {
    for (const f of this.shards.values()) f.close();
    this.shards.clear();
  }
}

/** Opens a folder of compressed shards for lazy, per-tensor decoding. Call close() when done. */
export function openModel(dir: string): AnsfModel {
  requirePath(dir, "dir");
  return new AnsfModel(dir);
}
