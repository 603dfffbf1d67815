// Loads the AssemblyScript core once per thread and lends out its memory.
//
// The Wasm functions take addresses in their own linear memory, so each call
// site copies its inputs into an arena above the module's static data, runs,
// and copies results out. The arena is reset per call and only grows: memory
// stays O(largest chunk), whatever the size of the file.

import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { AnsfError } from "./errors.js";
import { isShared, wordPhase } from "./shared-memory.js";
import { Scratch } from "./scratch.js";

export interface CoreExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  checksum(ptr: number, len: number): number;
  histogram(width: number, src: number, n: number, shift: number, bits: number, counts: number, ways: number): void;
  packRaw(width: number, src: number, n: number, c: number, signed: number, dst: number): number;
  channelMaxima(width: number, src: number, n: number, shift: number, mask: number, D: number, T: number, offset: number, out: number): void;
  compactCounts(counts: number, size: number, symbols: number, out: number): number;
  addCounts(dst: number, src: number, size: number): void;
  histogramByChannel(width: number, src: number, n: number, shift: number, bits: number, D: number, T: number, offset: number, bucketOf: number, counts: number, ways: number, stride: number): void;
  buildDecodeTable(freqs: number, alphabet: number, precision: number, c: number, group: number): number;
  buildEncodeTable(symbols: number, freqs: number, present: number, alphabet: number, precision: number, first: number): number;
  encodeCodes(
    width: number, src: number, n: number, c: number, codeBits: number, lanes: number,
    kind: number, bases: number, basesEnd: number, states: number, outEnd: number,
  ): number;
  decodeCodes(
    width: number, dst: number, n: number, c: number, signed: number, precision: number, lanes: number,
    kind: number, bases: number, basesEnd: number, states: number, payload: number, payloadEnd: number, raw: number,
  ): number;
  readModelsAndStates(
    src: number, length: number, groups: number, alphabet: number, precision: number, resolution: number, tables: number, lanes: number, states: number,
    k: number, kinds: number, elements: number,
  ): number;
  headerDetail(which: number): number;
  takeStateBits(raw: number, total: number, carried: number, states: number, lanes: number): void;
  restoreStateBits(width: number, dst: number, n: number, c: number, signed: number, carried: number, raw: number, states: number, lanes: number): number;
  convertPatterns(srcWidth: number, src: number, n: number, table: number, unused: number, dstWidth: number, dst: number): number;
  roundFp32(target: number, src: number, n: number, dst: number): void;
  magnitudes(src: number, n: number, out: number): void;
  normalizeCounts(): number;
  normalizeFreqs(): number;
  normalizeLogs(): number;
  normalize(present: number, total: number, precision: number): void;
  normalizeResolved(present: number, total: number, precision: number, resolution: number): number;
  normalizeSymbols(): number;
  largestFreq(present: number): number;
  payloadBits(present: number, precision: number): number;
  modelBits(present: number, alphabet: number, residual: number, resolution: number): number;
  shapeFit(present: number, alphabet: number, k: number, precision: number, beta: number, scale: number, step: number): number;
  shapeBeta(): number;
  shapeScale(): number;
  symbolSetBits(present: number, alphabet: number): number;
  shapeScaleBase(present: number): number;
  shapeModelBits(present: number, alphabet: number, scale: number): number;
  quantizeFp32(
    src: number, n: number, scale: number, table: number, ambiguous: number, values: number,
    dstWidth: number, dst: number, pending: number, stats: number,
  ): number;
}

const PAGE = 65536;
/** Readable slack after every region: the SIMD loops read past their ends by at most this much. */
export const SLACK = 256;

let compiled: WebAssembly.Module | undefined;

/** The compiled core, compiled once per thread; workers may be handed it instead. */
export function coreModule(): WebAssembly.Module {
  if (compiled) return compiled;
  const here = fileURLToPath(import.meta.url);
  // From src/ (tests) and from dist/src/ (the package) alike.
  for (const rel of ["../build/ansfloat.wasm", "../../build/ansfloat.wasm"]) {
    const path = fileURLToPath(new URL(rel, `file://${here}`));
    if (existsSync(path)) {
      compiled = new WebAssembly.Module(readFileSync(path));
      return compiled;
    }
  }
  throw new AnsfError("IO_ERROR", "build/ansfloat.wasm not found: run `npm run build:wasm`");
}

/** One instance of the core with a bump arena over its memory. */
export class Core {
  readonly fn: CoreExports;
  /** The encoder's model-search arrays, freed by reset() like the Wasm regions. */
  readonly scratch = new Scratch();
  private readonly base: number;
  private top: number;
  /** A view of the whole memory, remade when growing the memory detaches it: allocating and filling make no view of their own. */
  private memoryBytes = new Uint8Array(0);

  constructor(module: WebAssembly.Module = coreModule()) {
    this.fn = new WebAssembly.Instance(module, {
      env: {
        abort: () => {
          throw new AnsfError("CORRUPT_STREAM", "internal: the Wasm core aborted");
        },
      },
    }).exports as unknown as CoreExports;
    this.base = this.fn.heapBase();
    this.top = this.base;
  }

  /** Where the next region would start: release(mark()) frees what is allocated in between. */
  mark(): number {
    return this.top;
  }

  /** Frees the regions allocated since `mark` was taken, and nothing before it. */
  release(mark: number): void {
    this.top = mark;
  }

  /** Frees every region handed out since the last reset, and the arrays of `scratch`. */
  reset(): void {
    this.top = this.base;
    this.scratch.reset();
  }

  /** Reserves `bytes` (+ SLACK, zeroed) at `phase` bytes past a 64-byte boundary; returns the address. */
  alloc(bytes: number, phase = 0): number {
    const at = this.top + phase;
    const end = at + bytes + SLACK;
    this.growTo(end);
    this.bytes().fill(0, at + bytes, end);
    this.top = (end + 63) & ~63;
    return at;
  }

  private bytes(): Uint8Array {
    if (this.memoryBytes.length === 0) this.memoryBytes = new Uint8Array(this.fn.memory.buffer);
    return this.memoryBytes;
  }

  /**
   * Grows memory now so that allocations of `bytes` in all (each one's
   * SLACK and alignment counted in) will not: views of the memory taken
   * before them stay valid.
   */
  reserve(bytes: number): void {
    this.growTo(this.top + bytes);
  }

  private growTo(end: number): void {
    const mem = this.fn.memory;
    if (end <= mem.buffer.byteLength) return;
    if (end > 0xffff0000) throw new AnsfError("TOO_LARGE", `a chunk needs ${end} bytes of Wasm memory, over 4 GiB`);
    mem.grow(Math.ceil((end - mem.buffer.byteLength) / PAGE));
  }

  /** A view of [ptr, ptr + len); invalid after the next alloc (memory may grow). */
  view(ptr: number, len: number): Uint8Array {
    return new Uint8Array(this.fn.memory.buffer, ptr, len);
  }

  /** Copies `bytes` in and returns the address. */
  put(bytes: Uint8Array): number {
    return this.putAt(bytes, 0);
  }

  /** As put, but bytes from shared memory land at their own phase (see shared-memory.ts): for a whole chunk, not for what typed views read. */
  putBulk(bytes: Uint8Array): number {
    return this.putAt(bytes, isShared(bytes) ? wordPhase(bytes) : 0);
  }

  private putAt(bytes: Uint8Array, phase: number): number {
    const ptr = this.alloc(bytes.length, phase);
    this.bytes().set(bytes, ptr);
    return ptr;
  }

  /** Copies [ptr, ptr + out.length) to `out`, through a region at `out`'s phase when `out` is shared and the phases differ. */
  copyOut(ptr: number, out: Uint8Array): void {
    if (isShared(out) && (ptr & 7) !== wordPhase(out)) {
      const at = this.alloc(out.length, wordPhase(out));
      this.view(at, out.length).set(this.view(ptr, out.length));
      ptr = at;
    }
    out.set(this.view(ptr, out.length));
  }
}

let shared: Core | undefined;

/** This thread's core, created on first use. */
export function core(): Core {
  shared ??= new Core();
  return shared;
}
