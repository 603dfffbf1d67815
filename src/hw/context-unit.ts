// The context unit: which of a mode-3 chunk's G tables each symbol uses.
//
// The group of element e depends on its position alone (docs/FORMAT.md,
// mode 3), and elements issue in order, one per issue slot, so the unit keeps
// counters that step with every issue instead of dividing e:
//  - row: a down-counter of the rounds left in the current row (22 bits), and
//    the current row's group (3 bits). At the end of a round (lane N − 1
//    issues) the counter steps; when it reaches 0 the next issue takes the
//    next map entry from the map stream and the counter reloads with the rows'
//    length in rounds. The map is read once, in order: one 3-bit entry per row,
//    at most one per 32 clocks, so it needs no RAM.
//  - lane: the element's position within its channel (15 bits, wraps at D)
//    and its channel (15 bits, wraps at T) address a T-entry group-map RAM,
//    written from the map stream during setup, one entry per clock, in
//    parallel with the table fill.
// The group joins the slot address: {group, x mod 2^P}.
//
// The descriptor (host side) turns the stored stride and phase into start
// values of these counters once per chunk, so the unit never divides.

import { CONTEXT_LANE, CONTEXT_NONE, CONTEXT_ROW, type ChannelContext } from "../context.js";

/** Group id width: G ≤ 8. */
export const GROUP_BITS = 3;
/** Group-map RAM depth: a lane context has T ≤ D·T ≤ 2^15 channels. */
const MAP_DEPTH = 1 << 15;
/** Row counter width: a chunk has at most 2^26 elements, 2^21 rounds, so 2^22 − 1 is never reached. */
const ROW_COUNT_BITS = 22;
const ROW_COUNT_MAX = (1 << ROW_COUNT_BITS) - 1;
/** Lane counters (position in channel, channel) hold D − 1 and T − 1 < 2^15. */
const LANE_COUNT_BITS = 15;
const LANE_COUNT_MASK = (1 << LANE_COUNT_BITS) - 1;
const GROUP_MASK = (1 << GROUP_BITS) - 1;

/** The context unit's configuration for one chunk, as the descriptor sets its registers. */
export interface ContextConfig {
  kind: typeof CONTEXT_NONE | typeof CONTEXT_ROW | typeof CONTEXT_LANE;
  /** G, tables in the chunk (1 without a context). */
  groups: number;
  /** Row: rounds until the first row ends, and rounds per row, both saturated at 2^22 − 1. */
  firstRounds: number;
  rowRounds: number;
  /** Lane: D − 1 and T − 1, and element 0's position in its channel and its channel. */
  runLast: number;
  channelsLast: number;
  within0: number;
  channel0: number;
  /** The map stream: per row (row) or per channel (lane), in order. */
  map: Uint8Array;
}

const NO_CONTEXT: ContextConfig = {
  kind: CONTEXT_NONE, groups: 1, firstRounds: 0, rowRounds: 0, runLast: 0, channelsLast: 0, within0: 0, channel0: 0, map: new Uint8Array(0),
};

/**
 * The host's part: start values of the counters from the stored context,
 * once per chunk. A saturated row count behaves as the true one, since
 * either exceeds the rounds of any chunk.
 */
export function contextConfig(ctx: ChannelContext | undefined): ContextConfig {
  if (!ctx) return NO_CONTEXT;
  if (ctx.kind === CONTEXT_ROW) {
    return { ...NO_CONTEXT, kind: CONTEXT_ROW, groups: ctx.groups, firstRounds: Math.min(ctx.stride - ctx.phase, ROW_COUNT_MAX), rowRounds: Math.min(ctx.stride, ROW_COUNT_MAX), map: ctx.map };
  }
  return {
    ...NO_CONTEXT, kind: CONTEXT_LANE, groups: ctx.groups, runLast: ctx.run - 1, channelsLast: ctx.stride - 1,
    within0: ctx.phase % ctx.run, channel0: Math.floor(ctx.phase / ctx.run), map: ctx.map,
  };
}

/** One table buffer's group-map RAM: MAP_DEPTH entries of GROUP_BITS. */
export class GroupMapRam {
  readonly entries = new Uint8Array(MAP_DEPTH);
}

/** Writes a lane context's map into a group-map RAM, one entry per clock (nothing to write otherwise). */
export class MapLoader {
  private ram: GroupMapRam | undefined;
  private map: Uint8Array = new Uint8Array(0);
  private address = 0;

  get busy(): boolean {
    return this.ram !== undefined;
  }

  begin(ram: GroupMapRam, cfg: ContextConfig): void {
    if (cfg.kind !== CONTEXT_LANE) return;
    this.ram = ram;
    this.map = cfg.map;
    this.address = 0;
  }

  /** One clock: writes one entry. Returns true when the map is complete. */
  step(): boolean {
    const ram = this.ram;
    if (!ram) return false;
    ram.entries[this.address] = this.map[this.address]! & GROUP_MASK;
    this.address++;
    if (this.address < this.map.length) return false;
    this.ram = undefined;
    return true;
  }
}

/** The counters that give each issued symbol its group. */
export class ContextUnit {
  private cfg: ContextConfig = NO_CONTEXT;
  private ram: GroupMapRam | undefined;
  private lastLane = 0;
  // Row.
  private group = 0;
  private left = 0;
  private rowPending = false;
  /** Map entries taken from the stream (row), checked at the chunk's end. */
  taken = 0;
  // Lane.
  private within = 0;
  private channel = 0;

  /** Sets the registers for a chunk of `lanes` lanes whose lane map (if any) sits in `ram`. */
  start(cfg: ContextConfig, ram: GroupMapRam, lanes: number): void {
    this.cfg = cfg;
    this.ram = ram;
    this.lastLane = lanes - 1;
    this.group = 0;
    this.left = cfg.firstRounds;
    this.rowPending = cfg.kind === CONTEXT_ROW;
    this.taken = 0;
    this.within = cfg.within0;
    this.channel = cfg.channel0;
  }

  /** The group of the symbol issuing now on `lane`; steps the counters to the next element. */
  issue(lane: number): number {
    const cfg = this.cfg;
    if (cfg.kind === CONTEXT_ROW) {
      if (this.rowPending) {
        // A row begins: its entry comes off the map stream.
        this.group = this.taken < cfg.map.length ? cfg.map[this.taken]! & GROUP_MASK : 0;
        this.taken++;
        this.rowPending = false;
      }
      if (lane === this.lastLane) {
        this.left = (this.left - 1) & ROW_COUNT_MAX;
        if (this.left === 0) {
          this.left = cfg.rowRounds;
          this.rowPending = true;
        }
      }
      return this.group;
    }
    if (cfg.kind === CONTEXT_LANE) {
      const g = this.ram!.entries[this.channel]!;
      if (this.within === cfg.runLast) {
        this.within = 0;
        this.channel = this.channel === cfg.channelsLast ? 0 : (this.channel + 1) & LANE_COUNT_MASK;
      } else {
        this.within = (this.within + 1) & LANE_COUNT_MASK;
      }
      return g;
    }
    return 0;
  }
}
