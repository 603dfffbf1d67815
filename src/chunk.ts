// One chunk: a run of elements coded independently of every other chunk
// (docs/FORMAT.md §Chunk). The encoder picks k (top mantissa bits joining
// the code) and the table precision by exact cost, and falls back to storing
// the bytes when coding would not pay.

import { deflateRawSync, inflateRawSync } from "node:zlib";
import { BitReader, BitWriter, ByteReader, ByteWriter, bytesOf } from "./bytes.js";
import { codeBits, codeShift, rawBits, type PairLayout } from "./dtypes.js";
import { AnsfError } from "./errors.js";
import {
  chooseChannels, CONTEXT_LANES, CONTEXT_NONE, CONTEXT_TABLE_SLOTS, groupBuckets, groupCounts, MIN_CONTEXT_PRECISION, putContextBases,
  readContext, writeContext, type ChannelContext, type ChannelGrouping, type ChunkPlace,
} from "./context.js";
import {
  coarsen, coarsenings, countCodes, entropyBits, FULL_RESOLUTION, MAX_RESOLUTION, MODEL_LOG, modelTable, readModel, shapedTable, sparseAt, sumHistograms,
  writeModels, type Histogram, type ModelTable,
} from "./model.js";
import { headerBitsBound, readHeaderBits } from "./header-bits.js";
import { MEAN_STATE_BITS, writeLaneStates } from "./lane-states.js";
import type { ArrayRoom } from "./scratch.js";
import { isShared, wordPhase } from "./shared-memory.js";
import { core as threadCore, SLACK, type Core } from "./wasm.js";

export const MODE_STORED = 0;
export const MODE_RANS = 1;
/** Byte streams only (safetensors headers, GGUF metadata): raw DEFLATE. */
export const MODE_DEFLATE = 2;
/** rANS coding pairs with channel contexts: one table per group of channels. */
export const MODE_CONTEXT = 3;
export const RANS_L = 1 << 16;
/** From this container version on, rANS chunks carry their last raw bits in the lanes' initial states (docs/FORMAT.md §Lane states). */
export const STATE_BITS_VERSION = 3;
/**
 * From this container version on, rANS chunks name their model resolution
 * (docs/FORMAT.md §Frequency model), write their lane states in as many bits
 * as each has (§Lane states) after the models, and leave out the model and
 * payload lengths, which the models themselves and the index's chunk length imply.
 */
export const RESOLVED_VERSION = 4;
/** From this container version on, every model starts with its kind: written frequencies, or shaped (docs/FORMAT.md §Shaped model). */
export const SHAPED_VERSION = 5;
/** Raw bits one lane state carries: the state ends in [L, L + 2^16). */
export const LANE_STATE_BITS = 16;
export const MIN_PRECISION = 11;
export const MAX_PRECISION = 15;
export const MAX_LANES = 32;
/** Codes over all of a chunk's tables: the encoder's table holds 2^15 entries. */
export const MAX_CODES = 1 << 15;
/**
 * k above NARROW_K is offered only to chunks of WIDE_K_FROM elements or more
 * whose estimated best k at NARROW_K is NARROW_K itself: mantissa bits that
 * still pay at k = 4 (dequantised grids) may pay further; elsewhere the
 * finest histogram (2^(E + k) counts, cleared and scanned per chunk) would
 * cost more than the rare gain.
 */
const NARROW_K = 4;
const WIDE_K_FROM = 1 << 16;
/**
 * Tables of more than CONTEXT_TABLE_SLOTS slots together (one order-0
 * table at P = 13, context tables at one P finer) outgrow L1 and decode
 * 6-10% slower (interleaved A/B of the CNN chunks that take them, best of
 * 300). The encoder takes them only for 32-lane chunks they make at least
 * 1% smaller: large alphabets (dequantised grids at k = 6, 7) whose rare
 * codes each take a slot, where P = 12 loses a few per cent of the payload.
 */
const WIDE_TABLES_FROM = 1 << 14;
const WIDE_TABLES_GAIN = 0.01;
const WIDE_PRECISION = 13;
/** The precisions tried by default, widest first (see ChunkOptions.precisions). */
const DEFAULT_PRECISIONS = [12, 11];
/**
 * Chunks from this many elements keep full-resolution models: there the
 * models are a small part of the chunk, and searching resolutions cost the
 * encoder 6% more instructions on the CNN corpus (callgrind) to save 133
 * bytes of its 24 MB.
 */
const RESOLVED_BELOW = 1 << 16;

export interface ChunkOptions {
  /** Table precisions to try; each table has 2^P slots (default [11, 12], and P = 13 where that saves 1% of a 32-lane chunk: WIDE_TABLES_GAIN). */
  precisions?: readonly number[];
  /** Force this k instead of choosing by cost. */
  k?: number;
}

/** What the encoder chose for a chunk, for listings and benchmarks. */
export interface ChunkChoice {
  /** Elements in the chunk. */
  elements: number;
  mode: number;
  k: number;
  precision: number;
  lanes: number;
  /** Channel context kind (CONTEXT_NONE, CONTEXT_ROW, CONTEXT_LANE) and its number of tables. */
  context: number;
  groups: number;
  bytes: number;
  /** Order-0 entropy of exponent-only codes plus raw sign/mantissa, in bits: the classic bound. */
  exponentBoundBits: number;
  /** Entropy of the chosen codes (per context group) plus their raw bits. */
  pairEntropyBits: number;
}

/**
 * Raw-plane bits that `lanes` lane states carry out of a chunk's
 * `rawFieldBits` (n·w): the last min(16·N, n·w) bits, none before version 3.
 */
export function carriedBits(lanes: number, rawFieldBits: number, version: number): number {
  return version >= STATE_BITS_VERSION ? Math.min(LANE_STATE_BITS * lanes, rawFieldBits) : 0;
}

/** Of `carried` bits, those lane `lane` carries: 16 each from lane 0 on, fewer in the last lane with any. */
export function laneCarriedBits(carried: number, lane: number): number {
  return Math.max(0, Math.min(LANE_STATE_BITS, carried - LANE_STATE_BITS * lane));
}

/**
 * Lanes by size. With 4 lanes each state's chain of dependent steps sets the
 * pace; more lanes run more chains at once, and the 32-lane loop keeps its
 * states in registers. A lane's final state costs about one byte net from
 * version 4 (packed, and carrying 16 raw bits). From 4Ki elements 16 lanes
 * pay: stories260K (most of its tensors 4Ki-16Ki weights) decoded at 912
 * MB/s instead of 615 for 122 bytes (0.035%); 32 lanes there gave 1041 for
 * 265 bytes. Below 4Ki elements 4 lanes keep small tensors small.
 */
export function laneCount(n: number): number {
  return n >= 16384 ? 32 : n >= 4096 ? 16 : 4;
}

/** A coded chunk and what the encoder chose for it. */
export interface EncodedChunk {
  bytes: Uint8Array;
  choice: ChunkChoice;
}

/** The models a chunk was coded with: one table, or one per context group. */
interface CodingChoice {
  k: number;
  precision: number;
  /** Significant bits of the written frequencies, FULL_RESOLUTION for all. */
  resolution: number;
  /** Per table, the counts coded with it and their normalised frequencies. */
  tables: ModelTable[];
  /** Always present, undefined for one table: choices of one shape keep the search's optimised code from deoptimising on the other. */
  context: ChannelContext | undefined;
  /** Exact size of the chunk in bits. */
  bits: number;
}

/** Bits a coding's normalised frequencies cost over the entropy of its counts. */
function normalisationLoss(coding: CodingChoice): number {
  return coding.tables.reduce((sum, t) => sum + t.payloadBits - entropyBits(t.counts), 0);
}

/** A stored or deflate chunk's header: mode (u8) and checksum (u32). */
const PLAIN_HEADER_BYTES = 5;

/** The most bytes a chunk of `bytes` original bytes takes: its stored form. */
export function chunkBound(bytes: number): number {
  return PLAIN_HEADER_BYTES + bytes;
}

/** The first `length` bytes of `into`, or a new array. */
function chunkRoom(length: number, into: Uint8Array | undefined): Uint8Array {
  return into ? into.subarray(0, length) : new Uint8Array(length);
}

/**
 * Encodes `data` (n elements of `layout`) as one chunk. With `place`, the
 * chunk's position in its tensor, channel contexts (mode 3) compete with
 * one table (mode 1) by exact size. The chunk is written to the start of
 * `into` (at least chunkBound(data.length) bytes) when given, else to a new
 * array.
 */
export function encodeChunk(core: Core, data: Uint8Array, layout: PairLayout, options: ChunkOptions = {}, place?: ChunkPlace, into?: Uint8Array): EncodedChunk {
  if (into && into.length < chunkBound(data.length)) {
    throw new AnsfError("BAD_ARGUMENT", `a chunk of ${data.length} bytes needs ${chunkBound(data.length)} bytes of room, not ${into.length}`);
  }
  if (options.k !== undefined && !(Number.isInteger(options.k) && options.k >= 0 && options.k <= layout.maxK)) {
    throw new AnsfError("BAD_ARGUMENT", `k must be an integer from 0 to ${layout.maxK} for ${layout.name}, not ${options.k}`);
  }
  // A precision the kp byte cannot hold would make a stream no decoder accepts.
  const { precisions } = options;
  if (precisions !== undefined && !(Array.isArray(precisions) && precisions.length > 0 && precisions.every((p) => Number.isInteger(p) && p >= MIN_PRECISION && p <= MAX_PRECISION))) {
    throw new AnsfError("BAD_ARGUMENT", `precisions must be integers from ${MIN_PRECISION} to ${MAX_PRECISION}, not ${JSON.stringify(precisions)}`);
  }
  const fn = core.fn;
  const n = data.length / layout.width;
  core.reset();
  const src = core.putBulk(data);
  const checksum = fn.checksum(src, data.length);
  const orderZeroLanes = laneCount(n);
  // Mode, kp, lanes and checksum; a context's fields are counted with it.
  const headerBits = 8 * 7;
  const fixedBits = (k: number, laneStates = orderZeroLanes) => {
    const raw = n * rawBits(layout, k);
    return raw - carriedBits(laneStates, raw, STATE_BITS_VERSION) + MEAN_STATE_BITS * laneStates + headerBits;
  };
  // A chunk whose channels differ gets its code counts per group of
  // channels, which add up to the order-0 counts. The finest k counted: a
  // forced k, else NARROW_K, widened where that k still pays (see NARROW_K).
  const channels = place ? chooseChannels(core, src, n, layout, place) : undefined;
  const countAt = (k: number) => {
    const grouping = channels && groupCounts(core, src, n, layout, k, channels);
    return { grouping, finest: grouping ? grouping.total : histogramOf(core, src, n, layout, k) };
  };
  let maxK = options.k ?? Math.min(layout.maxK, NARROW_K);
  let { grouping, finest } = countAt(maxK);
  if (options.k === undefined && maxK < layout.maxK && n >= WIDE_K_FROM && estimatesOf([...Array(maxK + 1).keys()], (k) => [coarsen(finest, maxK - k, core.scratch)], fixedBits)[0]?.k === maxK) {
    maxK = layout.maxK;
    ({ grouping, finest } = countAt(maxK));
  }

  const exponentBoundBits = entropyBits(coarsen(finest, maxK, core.scratch)) + n * rawBits(layout, 0);
  const ks = options.k === undefined ? [...Array(maxK + 1).keys()] : [options.k];
  const ladder = coarsenings(finest, maxK, core.scratch);
  // The best coding whose tables hold at most `slots` slots together: one table at these precisions, or a context's.
  // `precisions` widest first.
  const bestWithin = (slots: number, precisions: number[]): CodingChoice | undefined => {
    const widest = precisions[0]!;
    let best = bestCoding(core, ks, (k) => [ladder[k]!], precisions, fixedBits);
    if (grouping) {
      const contextBits = (k: number) => fixedBits(k, CONTEXT_LANES);
      const grouped = bestContext(core, grouping, layout, maxK, ks, widest, slots, contextBits);
      // Finer tables change the best k by a step at most.
      const near = grouped ? ks.filter((k) => Math.abs(k - grouped.k) <= 1) : ks;
      for (const contextual of [grouped, ...packedMap(fewerGroupings(grouping, maxK, slots, core.scratch), (g) => bestContext(core, g, layout, maxK, near, widest, slots, contextBits))]) {
        if (contextual && best && contextual.bits < best.bits) best = contextual;
      }
    }
    return best;
  };
  const offered = options.precisions ? [...options.precisions].sort((a, b) => b - a) : DEFAULT_PRECISIONS;
  let best = bestWithin(CONTEXT_TABLE_SLOTS, offered);
  if (options.precisions === undefined && best && n >= WIDE_TABLES_FROM && normalisationLoss(best) >= WIDE_TABLES_GAIN * best.bits) {
    const wide = bestWithin(2 * CONTEXT_TABLE_SLOTS, [WIDE_PRECISION]);
    if (wide && wide.bits <= (1 - WIDE_TABLES_GAIN) * best.bits) best = wide;
  }
  if (best) best = atBestResolution(core, best);
  if (best && n < RESOLVED_BELOW && layout.mantissaBits > 0) best = withShapes(core, best, offered[0]!);

  // Text-like byte streams (headers) have structure order-0 rANS cannot see.
  const deflated = layout.width === 1 && n > 0 ? deflateRawSync(data, { level: 9 }) : undefined;
  const plainBytes = PLAIN_HEADER_BYTES + Math.min(data.length, deflated?.length ?? Infinity);
  const plain = (): EncodedChunk => {
    const mode = deflated && deflated.length < data.length ? MODE_DEFLATE : MODE_STORED;
    const body = mode === MODE_DEFLATE ? deflated! : data;
    const bytes = chunkRoom(PLAIN_HEADER_BYTES + body.length, into);
    bytes[0] = mode;
    new DataView(bytes.buffer, bytes.byteOffset, PLAIN_HEADER_BYTES).setUint32(1, checksum, true);
    bytes.set(body, PLAIN_HEADER_BYTES);
    return {
      bytes,
      choice: { elements: n, mode, k: 0, precision: 0, lanes: 0, context: CONTEXT_NONE, groups: 1, bytes: bytes.length, exponentBoundBits, pairEntropyBits: exponentBoundBits },
    };
  };
  if (n === 0 || !best || best.bits / 8 >= plainBytes) return plain();

  const { k, precision, tables, context } = best;
  const lanes = context ? CONTEXT_LANES : orderZeroLanes;
  const cbits = codeBits(layout, k);
  const c = codeShift(layout, k);
  tables.forEach((t, g) => {
    const { symbols, alphabet } = t.counts;
    fn.buildEncodeTable(core.put(bytesOf(symbols)), core.put(bytesOf(t.freqs)), symbols.length, alphabet, precision, g << cbits);
  });
  const { kind, bases, basesEnd } = putContextBases(core, context, n, cbits, 2);
  // The lanes start in states that carry the raw plane's last bits, which the plane then leaves out.
  const rawFieldBits = n * rawBits(layout, k);
  const carried = carriedBits(lanes, rawFieldBits, STATE_BITS_VERSION);
  const rawPtr = core.alloc(Math.ceil(rawFieldBits / 8) + 8);
  fn.packRaw(layout.width, src, n, c, layout.signed, rawPtr);
  const statesPtr = core.alloc(4 * lanes);
  fn.takeStateBits(rawPtr, rawFieldBits, carried, statesPtr, lanes);
  const rawLength = Math.ceil((rawFieldBits - carried) / 8);
  const payloadCap = 2 * n + 16;
  const payloadBase = core.alloc(payloadCap);
  const payloadEnd = payloadBase + payloadCap;
  const payloadStart = fn.encodeCodes(layout.width, src, n, c, cbits, lanes, kind, bases, basesEnd, statesPtr, payloadEnd);

  const head = new ByteWriter();
  head.u8(context ? MODE_CONTEXT : MODE_RANS);
  head.u8(k | ((precision - (context ? MIN_CONTEXT_PRECISION : MIN_PRECISION)) << 4) | (MODEL_LOG << 7));
  head.u8((lanes / 4 - 1) | (best.resolution << 3));
  head.u32(checksum);
  if (context) writeContext(head, context);
  const bits = new BitWriter();
  writeModels(bits, tables, best.resolution);
  writeLaneStates(bits, new Uint32Array(fn.memory.buffer, statesPtr, lanes));
  head.bytes(bits.finish());
  const parts = [head.finish(), core.view(payloadStart, payloadEnd - payloadStart), core.view(rawPtr, rawLength)];
  const length = parts.reduce((sum, p) => sum + p.length, 0);
  // The choice was made on estimated sizes; no chunk takes more room than its plain form (chunkBound).
  if (length > plainBytes) return plain();
  const bytes = chunkRoom(length, into);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return {
    bytes,
    choice: {
      elements: n, mode: context ? MODE_CONTEXT : MODE_RANS, k, precision, lanes, context: context?.kind ?? CONTEXT_NONE, groups: tables.length,
      bytes: bytes.length, exponentBoundBits,
      pairEntropyBits: tables.reduce((sum, t) => sum + entropyBits(t.counts), 0) + n * rawBits(layout, k),
    },
  };
}

/** Counts of the codes at the largest k offered: the finest, from which every k's are coarsened. */
function histogramOf(core: Core, src: number, n: number, layout: PairLayout, maxK: number): Histogram {
  const bits = codeBits(layout, maxK);
  return sparseAt(core, countCodes(core, layout.width, src, n, codeShift(layout, maxK), bits), 1 << bits);
}

/** Each k's tables' counts and estimated size (entropy, about 10 bits a table entry), smallest first. */
function estimatesOf(ks: number[], countsAt: (k: number) => Histogram[], fixedBits: (k: number) => number): { k: number; counts: Histogram[]; bits: number }[] {
  const estimates: { k: number; counts: Histogram[]; bits: number }[] = [];
  for (const k of ks) {
    const counts = countsAt(k);
    const e = { k, counts, bits: counts.reduce((sum, h) => sum + entropyBits(h) + 10 * h.symbols.length, 0) + fixedBits(k) };
    // Inserted in order, after any equal (a stable sort of a few entries without Array.prototype.sort's work array).
    let at = estimates.length;
    while (at > 0 && estimates[at - 1]!.bits > e.bits) at--;
    estimates.splice(at, 0, e);
  }
  return estimates;
}

/**
 * `items.map(f)`, as a packed array. Array.prototype.map inlined into
 * optimised code makes a holey array, the interpreter's a packed one; a
 * function that meets arrays of both kinds is deoptimised and compiled
 * again, and the search's arrays of tables and counts met both (on a cold
 * 300 MB compress, 18 deoptimisations; encodeChunk alone compiled three
 * times, 40-60 ms of a compile thread each).
 */
function packedMap<T, U>(items: readonly T[], f: (item: T) => U): U[] {
  const out: U[] = [];
  for (const item of items) out.push(f(item));
  return out;
}

/** A table per counts (modelTable), or null when any does not fit. */
function modelTables(core: Core, counts: Histogram[], precision: number, resolution: number): ModelTable[] | null {
  const tables = packedMap(counts, (h) => modelTable(core, h, precision, resolution, core.scratch));
  return tables.some((t) => !t) ? null : (tables as ModelTable[]);
}

/** Bits the tables take: their payloads, then their models. */
function tablesBits(tables: readonly ModelTable[]): number {
  return tables.reduce((sum, t) => sum + t.payloadBits, 0) + tables.reduce((sum, t) => sum + t.modelBits, 0);
}

/**
 * The smallest exact coding among the three k with the least estimated size
 * (estimatesOf), each normalised at the widest precision given, the winner
 * at the others too; `fixedBits` sizes what does not depend on the tables.
 * Three, because the estimate cannot see what
 * normalising to few slots costs a large alphabet (or that it cannot be
 * done); an estimate first, because each normalisation of a large alphabet
 * is dear.
 */
function bestCoding(
  core: Core, ks: number[], countsAt: (k: number) => Histogram[], precisions: number[], fixedBits: (k: number) => number,
): CodingChoice | undefined {
  const estimates = estimatesOf(ks, countsAt, fixedBits).filter((e) => e.counts.every((h) => h.symbols.length <= 1 << precisions[0]!));
  let best: CodingChoice | undefined;
  const tryCoding = (k: number, counts: Histogram[], precision: number) => {
    const tables = modelTables(core, counts, precision, FULL_RESOLUTION);
    if (!tables) return;
    const bits = tablesBits(tables) + fixedBits(k);
    if (!best || bits < best.bits) best = { k, precision, resolution: FULL_RESOLUTION, tables, context: undefined, bits };
  };
  // At the widest precision, then the others for the k that won: the best k hardly depends on P.
  for (const { k, counts } of estimates.slice(0, 3)) tryCoding(k, counts, precisions[0]!);
  const chosen: CodingChoice | undefined = best;
  if (chosen) for (const precision of precisions.slice(1)) tryCoding(chosen.k, packedMap(chosen.tables, (t) => t.counts), precision);
  return best;
}

/**
 * The coding at the resolution that makes it smallest (docs/FORMAT.md
 * §Frequency model), for chunks under RESOLVED_BELOW elements. Each
 * significant bit more lengthens the models and shortens the payload: the
 * size falls, then rises. The search starts where the best lay on the real
 * files, half the bits of the element count less 3, and walks the way the
 * size falls until it rises.
 */
function atBestResolution(core: Core, coding: CodingChoice): CodingChoice {
  const { precision, tables } = coding;
  const elements = tables.reduce((sum, t) => sum + t.counts.total, 0);
  if (elements >= RESOLVED_BELOW) return coding;
  const fixed = coding.bits - tablesBits(tables);
  let best = coding;
  const sizeAt = (resolution: number): number => {
    const resolved = modelTables(core, packedMap(tables, (t) => t.counts), precision, resolution);
    if (!resolved) return Infinity;
    const bits = fixed + tablesBits(resolved);
    if (bits < best.bits) best = { ...coding, resolution, tables: resolved, bits };
    return bits;
  };
  const start = Math.min(MAX_RESOLUTION - 1, Math.max(1, Math.floor(Math.log2(elements) / 2) - 3));
  const here = sizeAt(start);
  let last = sizeAt(start + 1);
  const step = last < here ? 1 : -1;
  if (step < 0) last = here;
  for (let resolution = start + (step > 0 ? 2 : -1); resolution >= 1 && resolution <= MAX_RESOLUTION; resolution += step) {
    const bits = sizeAt(resolution);
    if (bits >= last) break;
    last = bits;
  }
  return best;
}

/**
 * The coding with shaped tables where they are smaller (docs/FORMAT.md
 * §Shaped model), for chunks under RESOLVED_BELOW elements, where written
 * models are a large part of the chunk. A shaped model costs the same at any
 * precision, so with every table shaped one P finer is tried too, up to the
 * `widest` precision offered and CONTEXT_TABLE_SLOTS for all the tables.
 */
function withShapes(core: Core, coding: CodingChoice, widest: number): CodingChoice {
  const { k, precision, tables } = coding;
  const fixed = coding.bits - tablesBits(tables);
  const mixed = tables.slice();
  tables.forEach((t, g) => {
    const shaped = shapedTable(core, t.counts, k, precision, undefined, t.payloadBits + t.modelBits, core.scratch);
    if (shaped && shaped.payloadBits + shaped.modelBits < t.payloadBits + t.modelBits) mixed[g] = shaped;
  });
  const best = { ...coding, tables: mixed, bits: fixed + tablesBits(mixed) };
  const finer = precision + 1;
  if (finer > widest || tables.length << finer > CONTEXT_TABLE_SLOTS || !mixed.every((t) => t.shape)) return best;
  const refitted: ModelTable[] = [];
  for (const t of mixed) {
    const shaped = shapedTable(core, t.counts, k, finer, t.shape, Infinity, core.scratch);
    if (!shaped) return best;
    refitted.push(shaped);
  }
  const bits = fixed + tablesBits(refitted);
  return bits < best.bits ? { ...coding, precision: finer, tables: refitted, bits } : best;
}

/**
 * The best coding of a channel grouping by exact size, its tables at the two
 * finest precisions that fit in `slots` together.
 */
function bestContext(
  core: Core, grouping: ChannelGrouping, layout: PairLayout, maxK: number, ks: number[], widest: number, slots: number, fixedBits: (k: number) => number,
): CodingChoice | undefined {
  const { context } = grouping;
  const contextHead = new ByteWriter();
  writeContext(contextHead, context);
  const contextBits = 8 * contextHead.finish().length;
  const finest = Math.min(widest, contextPrecision(context.groups, slots));
  const precisions = [finest, finest - 1].filter((p) => p >= MIN_CONTEXT_PRECISION);
  if (precisions.length === 0) return undefined;
  const fitting = ks.filter((k) => context.groups << codeBits(layout, k) <= MAX_CODES);
  const ladders = packedMap(grouping.counts, (h) => coarsenings(h, maxK, core.scratch));
  const countsAt = (k: number) => packedMap(ladders, (ladder) => ladder[k]!);
  const coding = bestCoding(core, fitting, countsAt, precisions, (k) => contextBits + fixedBits(k));
  return coding && { ...coding, context };
}

/** Finest precision at which `groups` context tables fit in `slots` together. */
function contextPrecision(groups: number, slots: number): number {
  return 31 - Math.clz32(slots / groups);
}

/**
 * The grouping with its adjacent groups merged into fewer, finer tables: for
 * each precision above the grouping's that 2 or more tables still allow, the
 * best merge (groupBuckets, on the groups as buckets) into at most as many
 * tables as fit in `slots` at it. The channel grouping counts entropy and model
 * entries, not that more tables share the slots more thinly: at P = 9 or 10
 * each rare code's one slot costs its table's common codes up to a few per
 * cent.
 */
function fewerGroupings(grouping: ChannelGrouping, maxK: number, slots: number, room: ArrayRoom): ChannelGrouping[] {
  const { context, counts } = grouping;
  const exponents = packedMap(counts, (h) => coarsen(h, maxK, room));
  const found: ChannelGrouping[] = [];
  for (let precision = contextPrecision(context.groups, slots) + 1; ; precision++) {
    const most = Math.min(context.groups - 1, slots >>> precision);
    if (most < 2) break;
    const { groupOfBucket } = groupBuckets(exponents, most, context.map.length);
    const groups = Math.max(...groupOfBucket) + 1;
    if (groups < 2 || found.some((g) => g.context.groups === groups)) continue;
    found.push({
      context: { ...context, groups, map: context.map.map((g) => groupOfBucket[g]!) },
      counts: Array.from({ length: groups }, (_, j) => sumHistograms(counts.filter((_, g) => groupOfBucket[g] === j), room)),
      total: grouping.total,
    });
  }
  return found;
}

/** The parsed header of a coded chunk, with offsets of its parts within the chunk. */
export interface ChunkHeader {
  mode: number;
  checksum: number;
  k: number;
  precision: number;
  lanes: number;
  /** Normalised frequencies over the alphabet: one table, or one per context group. */
  tables: Uint32Array[];
  context?: ChannelContext;
  /** The decoder's initial state of each lane, each in [2^16, 2^32). */
  states: Uint32Array;
  payloadOffset: number;
  payloadLength: number;
  rawOffset: number;
  /** Bytes of the stored raw plane: its first n·w − carriedBits bits. */
  rawLength: number;
  /** Raw-plane bits the lane states carry (docs/FORMAT.md §Lane states). */
  carriedBits: number;
}

/** A chunk header as parseHeader leaves it: its tables and lane states in the core's memory. */
interface ParsedHeader extends Omit<ChunkHeader, "tables" | "states"> {
  /** Tables (none for stored and deflate chunks) of `alphabet` u32 frequencies, one after another from `tablesAt`. */
  groups: number;
  alphabet: number;
  tablesAt: number;
  /** The `lanes` initial states, u32 each. */
  statesAt: number;
}

/**
 * The header of a stored or deflate chunk: its bytes from `offset` are the
 * payload (deflate) or the raw plane (stored). Built with the same fields,
 * in the same order, as a coded chunk's, so that every header has one shape.
 */
function uncoded(mode: number, checksum: number, offset: number, payloadLength: number, rawLength: number): ParsedHeader {
  return {
    mode, checksum, k: 0, precision: 0, lanes: 0, context: undefined, groups: 0, alphabet: 0, tablesAt: 0, statesAt: 0,
    payloadOffset: offset, payloadLength, rawOffset: offset, rawLength, carriedBits: 0,
  };
}

/**
 * Parses and validates a chunk's header against the n elements the index
 * promises, in a container of `version`. The models are read in this
 * thread's core (the bytes they can take copied in), their tables and the
 * lane states copied out.
 */
export function readChunkHeader(chunk: Uint8Array, layout: PairLayout, n: number, version: number): ChunkHeader {
  const c = threadCore();
  const mark = c.mark();
  try {
    // A view of the core's own memory would be detached if copying the models in grew it.
    const h = parseHeader(c, chunk.buffer === c.fn.memory.buffer ? chunk.slice() : chunk, undefined, layout, n, version);
    const memory = c.fn.memory.buffer;
    const all = new Uint32Array(memory, h.tablesAt, h.groups * h.alphabet).slice();
    const tables: Uint32Array[] = [];
    for (let g = 0; g < h.groups; g++) tables.push(all.subarray(g * h.alphabet, (g + 1) * h.alphabet));
    return {
      mode: h.mode, checksum: h.checksum, k: h.k, precision: h.precision, lanes: h.lanes, tables, context: h.context,
      states: new Uint32Array(memory, h.statesAt, h.lanes).slice(),
      payloadOffset: h.payloadOffset, payloadLength: h.payloadLength, rawOffset: h.rawOffset, rawLength: h.rawLength, carriedBits: h.carriedBits,
    };
  } finally {
    c.release(mark);
  }
}

/**
 * Parses and validates the header of `chunk`, its tables and states read
 * into regions of the core (version 4's models by the Wasm reader,
 * header-bits.ts). `at`: where the chunk lies in the core's memory, which
 * then has HEADER_ROOM reserved (the tables and states must not detach a
 * view of it); else the bytes the models can take are copied in.
 */
function parseHeader(core: Core, chunk: Uint8Array, at: number | undefined, layout: PairLayout, n: number, version: number): ParsedHeader {
  const r = new ByteReader(chunk, "chunk");
  const mode = r.u8();
  if (mode === MODE_STORED) {
    const checksum = r.u32();
    const offset = r.pos;
    r.bytes(n * layout.width);
    if (r.remaining !== 0) throw new AnsfError("CORRUPT_STREAM", `stored chunk has ${r.remaining} trailing bytes`);
    return uncoded(mode, checksum, offset, 0, n * layout.width);
  }
  if (mode === MODE_DEFLATE && layout.width === 1) {
    const checksum = r.u32();
    return uncoded(mode, checksum, r.pos, r.remaining, 0);
  }
  if (mode !== MODE_RANS && mode !== MODE_CONTEXT) throw new AnsfError("CORRUPT_STREAM", `unknown chunk mode ${mode}`);
  const kp = r.u8();
  const k = kp & 15;
  const precision = ((kp >>> 4) & 7) + (mode === MODE_CONTEXT ? MIN_CONTEXT_PRECISION : MIN_PRECISION);
  const resolved = version >= RESOLVED_VERSION;
  if (resolved && kp >>> 7 !== MODEL_LOG) throw new AnsfError("CORRUPT_STREAM", "chunk model coding bit is not set");
  if (k > layout.maxK) throw new AnsfError("CORRUPT_STREAM", `chunk k = ${k} exceeds ${layout.maxK} for ${layout.name}`);
  if (precision > MAX_PRECISION) throw new AnsfError("CORRUPT_STREAM", `chunk precision ${precision} exceeds ${MAX_PRECISION}`);
  // From version 4 the lanes byte holds the model resolution above the lane count.
  const lanesByte = r.u8();
  const lanes = ((resolved ? lanesByte & 7 : lanesByte) + 1) * 4;
  const resolution = resolved ? lanesByte >>> 3 : FULL_RESOLUTION;
  if (resolution > MAX_RESOLUTION) throw new AnsfError("CORRUPT_STREAM", `chunk model resolution ${resolution} exceeds ${MAX_RESOLUTION}`);
  if (lanes > MAX_LANES) throw new AnsfError("CORRUPT_STREAM", `chunk has ${lanes} lanes, at most ${MAX_LANES} allowed`);
  const checksum = r.u32();
  const alphabet = 1 << codeBits(layout, k);
  let context: ChannelContext | undefined;
  if (mode === MODE_CONTEXT) {
    if (lanes !== CONTEXT_LANES) throw new AnsfError("CORRUPT_STREAM", `context chunk has ${lanes} lanes, not ${CONTEXT_LANES}`);
    context = readContext(r, n, precision);
    if (context.groups * alphabet > MAX_CODES) throw new AnsfError("CORRUPT_STREAM", `${context.groups} tables of ${alphabet} codes exceed ${MAX_CODES}`);
  }
  const groups = context?.groups ?? 1;
  const tablesAt = core.alloc(4 * groups * alphabet);
  const statesAt = core.alloc(4 * lanes);
  let payloadLength: number | undefined;
  if (resolved) {
    const length = Math.min(r.remaining, headerBitsBound(groups, alphabet, lanes));
    const bitsAt = at === undefined ? core.put(chunk.subarray(r.pos, r.pos + length)) : at + r.pos;
    r.bytes(readHeaderBits(core, bitsAt, length, { groups, alphabet, precision, resolution, tables: tablesAt, lanes, states: statesAt, k, kinds: version >= SHAPED_VERSION, elements: n }));
  } else {
    const modelLength = r.varint();
    payloadLength = r.varint();
    const models = new ByteReader(r.bytes(modelLength), "chunk models");
    const tables = new Uint32Array(core.fn.memory.buffer, tablesAt, groups * alphabet).fill(0);
    for (let g = 0; g < groups; g++) {
      const model = new BitReader(models.bytes(context ? models.varint() : modelLength), "frequency model");
      readModel(model, alphabet, precision, kp >>> 7, tables.subarray(g * alphabet, (g + 1) * alphabet));
    }
    if (models.remaining !== 0) throw new AnsfError("CORRUPT_STREAM", `chunk models have ${models.remaining} trailing bytes`);
    const states = new Uint32Array(core.fn.memory.buffer, statesAt, lanes);
    for (let j = 0; j < lanes; j++) {
      states[j] = r.u32();
      if (states[j]! < RANS_L) throw new AnsfError("CORRUPT_STREAM", `lane ${j} starts in state ${states[j]}, below 2^16`);
    }
  }
  const rawFieldBits = n * rawBits(layout, k);
  const carried = carriedBits(lanes, rawFieldBits, version);
  const storedBits = rawFieldBits - carried;
  const rawLength = Math.ceil(storedBits / 8);
  // From version 4 the payload is what the raw plane leaves of the chunk.
  payloadLength ??= Math.max(0, r.remaining - rawLength);
  const payloadOffset = r.pos;
  r.bytes(payloadLength);
  const rawOffset = r.pos;
  const raw = r.bytes(rawLength);
  if (r.remaining !== 0) throw new AnsfError("CORRUPT_STREAM", `chunk has ${r.remaining} trailing bytes`);
  // The last byte's unused high bits are zero, so that no bit of the chunk goes unchecked.
  if (storedBits % 8 !== 0 && raw[rawLength - 1]! >>> storedBits % 8 !== 0) throw new AnsfError("CORRUPT_STREAM", "raw plane padding bits are not zero");
  return { mode, checksum, k, precision, lanes, context, groups, alphabet, tablesAt, statesAt, payloadOffset, payloadLength, rawOffset, rawLength, carriedBits: carried };
}

/**
 * Where a chunk's coded bytes are read from, for a reader that can fill
 * Wasm memory directly (a file): `read` fills `into` with the chunk's
 * `length` bytes.
 */
export interface ChunkRead {
  length: number;
  read(into: Uint8Array): void;
}

/**
 * The most bytes a chunk header's tables and lane states take in Wasm
 * memory, slack and alignment included: one region for the G tables of
 * 2^(E+k) codes, which hold at most MAX_CODES, one for the states.
 */
const HEADER_ROOM = 4 * (MAX_CODES + MAX_LANES) + 2 * (SLACK + 64);

/**
 * Decodes one chunk of n elements, from a container of `version`, into
 * `out` (n * width bytes). The chunk is copied into Wasm memory, or read
 * there straight from its file: a file's chunk then needs no buffer of its
 * own and no copy (the lazy loader reads the CNN corpus's 24 MB of chunks
 * that way).
 */
export function decodeChunk(core: Core, chunk: Uint8Array | ChunkRead, layout: PairLayout, n: number, out: Uint8Array, version: number): void {
  const fn = core.fn;
  const bytes = n * layout.width;
  core.reset();
  let base: number;
  if (chunk instanceof Uint8Array) base = core.putBulk(chunk);
  else {
    base = core.alloc(chunk.length);
    chunk.read(core.view(base, chunk.length));
  }
  // The header's tables and states are read straight into Wasm memory, beside the chunk,
  // whose view those allocations must not detach by growing it.
  core.reserve(HEADER_ROOM);
  const h = parseHeader(core, core.view(base, chunk.length), base, layout, n, version);
  let dst = h.mode === MODE_DEFLATE ? core.put(inflate(core.view(base + h.payloadOffset, h.payloadLength), bytes)) : base + h.rawOffset;
  if (h.mode === MODE_RANS || h.mode === MODE_CONTEXT) {
    const c = codeShift(layout, h.k);
    for (let g = 0; g < h.groups; g++) fn.buildDecodeTable(h.tablesAt + 4 * g * h.alphabet, h.alphabet, h.precision, c, g);
    const ctx = h.context;
    const { kind, bases, basesEnd } = putContextBases(core, ctx, n, h.precision + 3, 4);
    dst = core.alloc(bytes, isShared(out) ? wordPhase(out) : 0);
    const payloadEnd = base + h.payloadOffset + h.payloadLength;
    const end = fn.decodeCodes(
      layout.width, dst, n, c, layout.signed, h.precision, h.lanes, kind, bases, basesEnd,
      h.statesAt, base + h.payloadOffset, payloadEnd, base + h.rawOffset,
    );
    if (end !== payloadEnd) {
      throw new AnsfError("CORRUPT_STREAM", `rANS payload ${end === 0 ? "overran its end" : `ended ${payloadEnd - end} bytes early`}`);
    }
    // The carried fields were merged with the zero slack after the stored raw plane; restoring writes them there and ORs them in.
    const bad = fn.restoreStateBits(layout.width, dst, n, c, layout.signed, h.carriedBits, base + h.rawOffset, h.statesAt, h.lanes);
    if (bad !== h.lanes) {
      const x = new Uint32Array(fn.memory.buffer, h.statesAt, h.lanes)[bad]!;
      const bits = laneCarriedBits(h.carriedBits, bad);
      const range = bits === 0 ? "not 2^16" : `outside [2^16, 2^16 + 2^${bits}) for the ${bits} raw bits it carries`;
      throw new AnsfError("CORRUPT_STREAM", `rANS lane ${bad} ends in state ${x}, ${range}`);
    }
  }
  const actual = fn.checksum(dst, bytes) >>> 0;
  if (actual !== h.checksum) {
    throw new AnsfError("CHECKSUM_MISMATCH", `chunk checksum ${hex(actual)} differs from the stored ${hex(h.checksum)}`);
  }
  core.copyOut(dst, out.subarray(0, bytes));
}

/** Inflates exactly `bytes` bytes, refusing more (a deflate bomb) or fewer. */
function inflate(data: Uint8Array, bytes: number): Uint8Array {
  let out: Uint8Array;
  try {
    out = inflateRawSync(data, { maxOutputLength: Math.max(bytes, 1) });
  } catch (err) {
    throw new AnsfError("CORRUPT_STREAM", `deflate chunk does not inflate to ${bytes} bytes: ${(err as Error).message}`, { cause: err });
  }
  if (out.length !== bytes) throw new AnsfError("CORRUPT_STREAM", `deflate chunk inflates to ${out.length} bytes, not ${bytes}`);
  return out;
}

function hex(v: number): string {
  return `0x${v.toString(16).padStart(8, "0")}`;
}
