// Channel contexts (docs/FORMAT.md §Mode 3): several frequency tables per
// chunk, each element's table chosen by its position alone.
//
// A trained layer's output (or input) channels differ in scale, so the
// exponents of one channel share a distribution that differs from its
// neighbours'. Channels are grouped by their largest exponent, one table a
// group, and the group of every channel is stored. The decoder never looks
// at data to pick a table, so its lanes stay branch-free:
//  - CONTEXT_ROW: channels along the first axis, rows a multiple of 32
//    elements long, so all 32 lanes of a round lie in one row: one table per
//    round.
//  - CONTEXT_LANE: element e in channel ((e + phase) / D) mod T: the last
//    axis (D = 1), or the first when its rows do not line up with rounds
//    (small tensors); one table per lane, the pattern repeating every
//    lcm(D * T, 32) elements.

import { BitReader, BitWriter, type ByteReader, type ByteWriter } from "./bytes.js";
import { codeBits, type PairLayout } from "./dtypes.js";
import { AnsfError } from "./errors.js";
import { countWays, log2Of, sparseAt, type Histogram } from "./model.js";
import type { Core } from "./wasm.js";

export const CONTEXT_NONE = 0;
export const CONTEXT_ROW = 1;
export const CONTEXT_LANE = 2;
export const MAX_GROUPS = 8;
/** Context tables are coarser than order-0 ones: P from 9 (stored as P - 9). */
export const MIN_CONTEXT_PRECISION = 9;
/**
 * Slots of all a chunk's context tables together, as the encoder lays them
 * out: 2^12 slots (32 KiB of decode table) stay in L1 beside the lane
 * states, as one order-0 table at P = 12 does. The format allows 2^15.
 */
export const CONTEXT_TABLE_SLOTS = 1 << 12;
/** Largest CONTEXT_LANE pattern, in elements: lcm(D * T, 32) u32 bases stay within 128 KiB. */
export const MAX_LANE_PATTERN = 1 << 15;
/** Channels are first sorted into at most this many buckets by their largest exponent. */
const MAX_BUCKETS = 16;
/** Chunks above this many elements choose their context from a quarter of their elements. */
const SAMPLE_FROM = 1 << 16;
/**
 * 2^17 elements tell at most 16 buckets of exponents apart as well as a
 * quarter of a 2^20-element chunk does: capped there, the CNN corpus's
 * bf16 file came out byte-identical and its fp16 file 177 bytes (0.0006%)
 * larger, and encoding its large tensors took 4% fewer instructions.
 */
const MAX_SAMPLE = 1 << 17;
/** Contexts use the 32-lane loops, whatever the chunk's size. */
export const CONTEXT_LANES = 32;
/** Below this, 32 lanes' states and a second table outweigh what a context can save. */
const MIN_CONTEXT_ELEMENTS = 4096;

/** Where a chunk lies in its tensor: what the encoder needs to find channels. */
export interface ChunkPlace {
  shape: readonly number[];
  /** Index of the chunk's first element in the tensor. */
  start: number;
}

/** A chunk's channel context as stored. */
export interface ChannelContext {
  kind: typeof CONTEXT_ROW | typeof CONTEXT_LANE;
  groups: number;
  /** CONTEXT_ROW: rounds per row; CONTEXT_LANE: T, the channels. */
  stride: number;
  /** CONTEXT_LANE: D, consecutive elements per channel (1 for CONTEXT_ROW). */
  run: number;
  /** CONTEXT_ROW: rounds of the first row before the chunk; CONTEXT_LANE: element 0's position in the period D * T. */
  phase: number;
  /** The group of each row the chunk touches (CONTEXT_ROW) or of each of the T channels (CONTEXT_LANE). */
  map: Uint8Array;
}

/** How many map entries a chunk of n elements has. */
export function mapEntries(kind: number, stride: number, phase: number, n: number): number {
  return kind === CONTEXT_ROW ? Math.ceil((phase + Math.ceil(n / CONTEXT_LANES)) / stride) : stride;
}

/** The group of element e: the reference the Wasm tables and the hardware model follow. */
export function groupOf(ctx: ChannelContext, e: number): number {
  const i = ctx.kind === CONTEXT_ROW ? Math.floor((Math.floor(e / CONTEXT_LANES) + ctx.phase) / ctx.stride) : Math.floor(((e + ctx.phase) % (ctx.run * ctx.stride)) / ctx.run);
  return ctx.map[i]!;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Elements in one repeat of a CONTEXT_LANE pattern. */
export function lanePattern(T: number): number {
  return (T / gcd(T, CONTEXT_LANES)) * CONTEXT_LANES;
}

function bitsFor(groups: number): number {
  return 32 - Math.clz32(groups - 1);
}

/**
 * The tables of a chunk of n elements laid out for the Wasm loops: for each
 * round, the group's table offset g << unitShift, once per round (CONTEXT_ROW,
 * the tail round included) or once per lane (CONTEXT_LANE: one repeat of the
 * pattern, or only the rounds of a chunk shorter than that, at least one).
 */
export function contextBases<A extends Uint16Array | Uint32Array>(ctx: ChannelContext, n: number, unitShift: number, make: (length: number) => A): A {
  if (ctx.kind === CONTEXT_ROW) {
    const rounds = Math.floor(n / CONTEXT_LANES) + 1;
    const last = ctx.map.length - 1;
    const bases = make(rounds);
    for (let r = 0; r < rounds; r++) bases[r] = ctx.map[Math.min(Math.floor((r + ctx.phase) / ctx.stride), last)]! << unitShift;
    return bases;
  }
  const bases = make(Math.min(lanePattern(ctx.run * ctx.stride), Math.ceil(Math.max(n, 1) / CONTEXT_LANES) * CONTEXT_LANES));
  // groupOf(ctx, e) for e = 0, 1, …: a channel's base filled over its run
  // at once (natively: patterns reach 2^15 bases, and set one by one they
  // took 8% of decoding the ppocr file); one by one for runs of 1.
  let ch = Math.floor(ctx.phase / ctx.run);
  if (ctx.run === 1) {
    for (let e = 0; e < bases.length; e++) {
      bases[e] = ctx.map[ch]! << unitShift;
      if (++ch === ctx.stride) ch = 0;
    }
    return bases;
  }
  for (let e = 0, left = ctx.run - (ctx.phase % ctx.run); e < bases.length; left = ctx.run) {
    const end = Math.min(bases.length, e + left);
    bases.fill(ctx.map[ch]! << unitShift, e, end);
    e = end;
    if (++ch === ctx.stride) ch = 0;
  }
  return bases;
}

export function writeContext(out: ByteWriter, ctx: ChannelContext): void {
  out.u8(ctx.kind | ((ctx.groups - 1) << 4));
  out.varint(ctx.stride);
  if (ctx.kind === CONTEXT_LANE) out.varint(ctx.run);
  out.varint(ctx.phase);
  const bits = new BitWriter();
  const width = bitsFor(ctx.groups);
  for (const g of ctx.map) bits.bits(g, width);
  const map = bits.finish();
  out.varint(map.length);
  out.bytes(map);
}

/** Reads and validates a context for a chunk of n elements with tables of 2^precision slots. */
export function readContext(r: ByteReader, n: number, precision: number): ChannelContext {
  const bad = (why: string) => new AnsfError("CORRUPT_STREAM", `channel context: ${why}`);
  const head = r.u8();
  const kind = head & 15;
  const groups = (head >>> 4) + 1;
  if (kind !== CONTEXT_ROW && kind !== CONTEXT_LANE) throw bad(`unknown kind ${kind}`);
  if (groups < 2 || groups > MAX_GROUPS) throw bad(`${groups} groups, expected 2 to ${MAX_GROUPS}`);
  if (groups << precision > 1 << 15) throw bad(`${groups} tables of 2^${precision} slots exceed 2^15`);
  const stride = r.varint();
  const run = kind === CONTEXT_LANE ? r.varint() : 1;
  const phase = r.varint();
  if (stride < 1 || run < 1) throw bad(`stride ${stride} and run ${run} must be positive`);
  if (kind === CONTEXT_LANE && (run * stride > MAX_LANE_PATTERN || lanePattern(run * stride) > MAX_LANE_PATTERN)) {
    throw bad(`lane pattern of ${run} x ${stride} repeats after more than ${MAX_LANE_PATTERN} elements`);
  }
  if (phase >= run * stride) throw bad(`phase ${phase} outside a period of ${run * stride}`);
  const entries = mapEntries(kind, stride, phase, n);
  const width = bitsFor(groups);
  const length = r.varint();
  if (length !== Math.ceil((entries * width) / 8)) throw bad(`map of ${length} bytes for ${entries} entries of ${width} bits`);
  const bits = new BitReader(r.bytes(length), "channel context map");
  const map = new Uint8Array(entries);
  for (let i = 0; i < entries; i++) {
    map[i] = bits.bits(width);
    if (map[i]! >= groups) throw bad(`entry ${i} names group ${map[i]} of ${groups}`);
  }
  return { kind, groups, stride, run, phase, map };
}

/** A geometry's channels, bucketed by largest exponent, with each bucket's exponent counts (from a sample). */
interface ChannelBuckets {
  kind: typeof CONTEXT_ROW | typeof CONTEXT_LANE;
  /** Element e of the chunk lies in channel ((e + offset) / D) mod T. */
  D: number;
  T: number;
  offset: number;
  bucketOf: Uint8Array;
  buckets: Histogram[];
}

/** The channels a chunk would code with one table per group, and the groups' code counts at the finest k. */
export interface ChannelGrouping {
  context: ChannelContext;
  counts: Histogram[];
  /** All groups' counts together: the chunk's order-0 counts. */
  total: Histogram;
}

/** Channels of a tensor axis: element e of the tensor lies in channel (e / D) mod T. */
interface Geometry {
  kind: typeof CONTEXT_ROW | typeof CONTEXT_LANE;
  D: number;
  T: number;
}

/**
 * Channel contexts this chunk could use: the first axis, by rows when they
 * are a multiple of 32 elements (and the chunk starts on a round), else by
 * lanes when the tensor is small; the last axis when its pattern is short
 * enough.
 */
function geometries(place: ChunkPlace, n: number): Geometry[] {
  const { shape, start } = place;
  if (shape.length < 2 || n < MIN_CONTEXT_ELEMENTS) return [];
  const found: Geometry[] = [];
  const rows = shape[0]!;
  const D = shape.slice(1).reduce((a, b) => a * b, 1);
  if (rows >= 2 && D % CONTEXT_LANES === 0 && start % CONTEXT_LANES === 0) found.push({ kind: CONTEXT_ROW, D, T: rows });
  else if (rows >= 2 && D * rows <= MAX_LANE_PATTERN && lanePattern(D * rows) <= MAX_LANE_PATTERN) found.push({ kind: CONTEXT_LANE, D, T: rows });
  const T = shape[shape.length - 1]!;
  if (T >= 2 && T < D * rows && lanePattern(T) <= MAX_LANE_PATTERN) found.push({ kind: CONTEXT_LANE, D: 1, T });
  return found;
}

/**
 * Element ranges the encoder samples to choose a context: all of a small
 * chunk, a quarter of a large one (at most MAX_SAMPLE elements) in eight
 * blocks spread over it.
 */
function sampleBlocks(n: number): [number, number][] {
  if (n <= SAMPLE_FROM) return [[0, n]];
  const size = Math.floor(Math.min(n / 4, MAX_SAMPLE) / 8 / CONTEXT_LANES) * CONTEXT_LANES;
  return Array.from({ length: 8 }, (_, i) => {
    const begin = Math.floor((i * (n - size)) / 7 / CONTEXT_LANES) * CONTEXT_LANES;
    return [begin, begin + size];
  });
}

/**
 * The channels of one geometry the n elements at `src` (in Wasm memory)
 * lie in, bucketed by their largest exponent, with each bucket's exponent
 * counts over a sample: a pass for the maxima, a sampled one for the counts.
 */
function channelBuckets(core: Core, src: number, n: number, layout: PairLayout, place: ChunkPlace, g: Geometry): ChannelBuckets {
  const fn = core.fn;
  const { kind, D, T } = g;
  const offset = kind === CONTEXT_ROW ? place.start : place.start % (D * T);
  const maxima = core.alloc(2 * T);
  fn.channelMaxima(layout.width, src, n, layout.mantissaBits, (1 << layout.exponentBits) - 1, D, T, offset, maxima);
  // Read in place, before anything allocates (and may grow the memory).
  const mx = new Uint16Array(fn.memory.buffer, maxima, T);
  // Channels the chunk touches, bucketed by rank of their largest exponent;
  // below the top MAX_BUCKETS values, the rest share the lowest bucket.
  // Exponents index small tables: channels run to tens of thousands.
  const first = kind === CONTEXT_ROW ? Math.floor(offset / D) : 0;
  const count = kind === CONTEXT_ROW ? Math.floor((offset + n - 1) / D) - first + 1 : Math.min(T, Math.ceil(n / D));
  const seen = new Uint8Array(1 << layout.exponentBits);
  for (let i = 0; i < count; i++) seen[mx[(first + i) % T]!] = 1;
  const kept: number[] = [];
  for (let v = seen.length - 1; v >= 0 && kept.length < MAX_BUCKETS; v--) if (seen[v]) kept.unshift(v);
  const rankOf = new Int8Array(seen.length).fill(-1);
  kept.forEach((v, j) => (rankOf[v] = j));
  const bucketOf = new Uint8Array(T);
  for (let ch = 0; ch < T; ch++) bucketOf[ch] = Math.max(0, rankOf[Math.max(mx[ch]!, kept[0]!)]!);
  const bits = layout.exponentBits;
  const counts = countsByChannel(core, src, layout, { D, T, offset }, bucketOf, kept.length, bits, layout.mantissaBits, sampleBlocks(n));
  return { kind, D, T, offset, bucketOf, buckets: counts.slice(0, -1) };
}

/**
 * Code counts (codes (v >> shift) & (2^bits - 1)) per bucket of channels,
 * over the given element ranges of the chunk at `src`, and (last) of all
 * buckets together.
 */
function countsByChannel(
  core: Core, src: number, layout: PairLayout, geometry: { D: number; T: number; offset: number },
  bucketOf: Uint8Array, buckets: number, bits: number, shift: number, ranges: [number, number][],
): Histogram[] {
  const fn = core.fn;
  const { D, T, offset } = geometry;
  const bucketPtr = core.put(bucketOf);
  const size = 1 << bits;
  // Large counts spread over copies of every bucket (countWays), added up after.
  const ways = countWays(ranges.reduce((sum, [begin, end]) => sum + end - begin, 0));
  const stride = 4 * buckets * size;
  const counts = core.alloc(ways * stride + 4 * size);
  core.view(counts, ways * stride + 4 * size).fill(0);
  for (const [begin, end] of ranges) {
    fn.histogramByChannel(layout.width, src + begin * layout.width, end - begin, shift, bits, D, T, (offset + begin) % (D * T), bucketPtr, counts, ways, stride);
  }
  for (let w = 1; w < ways; w++) fn.addCounts(counts, counts + w * stride, buckets * size);
  // The total's room is the start of copy 1 when counts were spread: cleared once that is added in.
  const total = counts + 4 * buckets * size;
  if (ways > 1) core.view(total, 4 * size).fill(0);
  for (let b = 0; b < buckets; b++) fn.addCounts(total, counts + 4 * b * size, size);
  return Array.from({ length: buckets + 1 }, (_, b) => sparseAt(core, counts + 4 * b * size, size));
}

/** The channels a chunk's context groups, chosen before any k is. */
export interface ChannelChoice {
  context: ChannelContext;
  geometry: { D: number; T: number; offset: number };
  groupOfChannel: Uint8Array;
}

/**
 * The best channel grouping the chunk's place offers by estimated cost;
 * undefined when no geometry gains over one table.
 */
export function chooseChannels(core: Core, src: number, n: number, layout: PairLayout, place: ChunkPlace): ChannelChoice | undefined {
  let best: { cb: ChannelBuckets; groupOfBucket: number[]; gain: number } | undefined;
  for (const g of geometries(place, n)) {
    const cb = channelBuckets(core, src, n, layout, place, g);
    const { groupOfBucket, bits, oneGroupBits } = groupBuckets(cb.buckets, MAX_GROUPS, entriesOf(cb, n));
    const gain = oneGroupBits - bits;
    if (gain > 0 && (!best || gain > best.gain)) best = { cb, groupOfBucket, gain };
  }
  if (!best) return undefined;
  const { cb, groupOfBucket } = best;
  return { context: contextOf(cb, groupOfBucket, n), geometry: cb, groupOfChannel: cb.bucketOf.map((b) => groupOfBucket[b]!) };
}

/** Every group's code counts at k = maxK over the whole chunk, one pass. */
export function groupCounts(core: Core, src: number, n: number, layout: PairLayout, maxK: number, choice: ChannelChoice): ChannelGrouping {
  const { context, geometry, groupOfChannel } = choice;
  const counts = countsByChannel(core, src, layout, geometry, groupOfChannel, context.groups, codeBits(layout, maxK), layout.mantissaBits - maxK, [[0, n]]);
  return { context, counts: counts.slice(0, -1), total: counts[counts.length - 1]! };
}

/**
 * The bases of `contextBases`, `width` bytes each, written straight into the
 * core's memory for the Wasm loops (a lane pattern holds up to 2^15), with
 * where they end; zeros without a context (CONTEXT_NONE).
 */
export function putContextBases(
  core: Core, ctx: ChannelContext | undefined, n: number, unitShift: number, width: 2 | 4,
): { kind: number; bases: number; basesEnd: number } {
  if (!ctx) return { kind: CONTEXT_NONE, bases: 0, basesEnd: 0 };
  const array = contextBases(ctx, n, unitShift, (length) => {
    const at = core.alloc(width * length);
    return width === 2 ? new Uint16Array(core.fn.memory.buffer, at, length) : new Uint32Array(core.fn.memory.buffer, at, length);
  });
  return { kind: ctx.kind, bases: array.byteOffset, basesEnd: array.byteOffset + array.byteLength };
}

/** A table's estimated cost per present code, in bits (a gamma-coded frequency). */
const MODEL_BITS_PER_CODE = 10;

/**
 * The partition of buckets (sorted by largest exponent) into at most `most`
 * contiguous groups that minimises the estimated cost of their exponents, a
 * map of `entries` included, by dynamic programming over bucket ranges.
 * Returns each bucket's group and the estimated bits, and the bits of all
 * buckets as one group (no map), to weigh the gain against.
 */
export function groupBuckets(coarse: readonly Histogram[], most: number, entries: number): { groupOfBucket: number[]; bits: number; oneGroupBits: number } {
  const B = coarse.length;
  // cost[i][j]: buckets i..j-1 as one group, grown a bucket at a time with
  // the entropy kept as N log N - sum(c log c).
  const cost: number[][] = [];
  const acc = new Float64Array(coarse[0]?.alphabet ?? 0);
  for (let i = 0; i < B; i++) {
    cost.push([]);
    let cLogC = 0;
    let total = 0;
    let present = 0;
    for (let j = i; j < B; j++) {
      const h = coarse[j]!;
      for (let x = 0; x < h.symbols.length; x++) {
        const s = h.symbols[x]!;
        const old = acc[s]!;
        if (old === 0) present++;
        else cLogC -= old * log2Of(old);
        const c = old + h.counts[x]!;
        acc[s] = c;
        cLogC += c * log2Of(c);
      }
      total += h.total;
      cost[i]![j + 1] = total * log2Of(total) - cLogC + MODEL_BITS_PER_CODE * present + 16;
    }
    for (let j = i; j < B; j++) for (const s of coarse[j]!.symbols) acc[s] = 0;
  }
  // best[g][j]: buckets 0..j-1 in g groups; from[g][j]: where the last group starts.
  const best: number[][] = [[0, ...Array<number>(B).fill(Infinity)]];
  const from: number[][] = [[]];
  for (let g = 1; g <= Math.min(most, B); g++) {
    best.push(Array<number>(B + 1).fill(Infinity));
    from.push(Array<number>(B + 1).fill(0));
    for (let j = 1; j <= B; j++) {
      for (let i = g - 1; i < j; i++) {
        const c = best[g - 1]![i]! + cost[i]![j]!;
        if (c < best[g]![j]!) {
          best[g]![j] = c;
          from[g]![j] = i;
        }
      }
    }
  }
  // Each group count with the cost of its map: entries of bitsFor(g) bits.
  const total = (g: number) => best[g]![B]! + entries * bitsFor(g);
  let groups = 1;
  for (let g = 2; g < best.length; g++) if (total(g) < total(groups)) groups = g;
  const groupOfBucket = Array<number>(B).fill(0);
  for (let g = groups, j = B; g >= 1; g--) {
    const i = from[g]![j]!;
    for (let b = i; b < j; b++) groupOfBucket[b] = g - 1;
    j = i;
  }
  return { groupOfBucket, bits: total(groups), oneGroupBits: best[1]![B]! };
}

/** How many map entries a context on these channels has, for a chunk of n elements. */
function entriesOf(cb: ChannelBuckets, n: number): number {
  return cb.kind === CONTEXT_LANE ? cb.T : Math.floor((cb.offset + n - 1) / cb.D) - Math.floor(cb.offset / cb.D) + 1;
}

/** The context that gives bucket b's channels group groupOfBucket[b], for a chunk of n elements. */
function contextOf(cb: ChannelBuckets, groupOfBucket: readonly number[], n: number): ChannelContext {
  const groups = Math.max(...groupOfBucket) + 1;
  const groupOfChannel = (ch: number) => groupOfBucket[cb.bucketOf[ch]!]!;
  if (cb.kind === CONTEXT_LANE) {
    return { kind: CONTEXT_LANE, groups, stride: cb.T, run: cb.D, phase: cb.offset, map: cb.bucketOf.map((b) => groupOfBucket[b]!) };
  }
  const stride = cb.D / CONTEXT_LANES;
  const phase = (cb.offset / CONTEXT_LANES) % stride;
  const first = Math.floor(cb.offset / cb.D);
  const map = new Uint8Array(mapEntries(CONTEXT_ROW, stride, phase, n));
  for (let j = 0; j < map.length; j++) map[j] = groupOfChannel((first + j) % cb.T);
  return { kind: CONTEXT_ROW, groups, stride, run: 1, phase, map };
}
