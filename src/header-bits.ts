// The bitstream of a version-4 or -5 chunk after its fixed fields: its frequency
// models, then its lane states (docs/FORMAT.md §Frequency model, §Lane
// states), read by the Wasm core (assembly/header.ts) straight into the
// decoder's tables. The writers are model.ts's writeModels and
// lane-states.ts's writeLaneStates.

import { AnsfError } from "./errors.js";
import type { Core } from "./wasm.js";

/** What the stream is called in messages. */
const WHAT = "chunk models and lane states";

/** Where the models and states go and what they are over: addresses in the core's memory. */
export interface HeaderBits {
  groups: number;
  alphabet: number;
  precision: number;
  resolution: number;
  /** Room for `groups` tables of `alphabet` u32 frequencies, one after another. */
  tables: number;
  lanes: number;
  /** Room for `lanes` u32 states. */
  states: number;
  /** Mantissa bits of the codes (a shaped model's buckets depend on them). */
  k: number;
  /** Whether each model starts with its kind bit (version 5). */
  kinds: boolean;
  /** The chunk's elements: a shaped model has no more codes. */
  elements: number;
}

/**
 * The most bytes the reader can take for `groups` models over `alphabet`
 * codes and `lanes` states, well-formed or not: a model's kind bit, two
 * leading gamma(17) fields and its residual index take at most 1 + 33 + 33
 * + 15 bits, each of at most `alphabet` runs two gamma(17), each of at most
 * `alphabet` frequencies a gamma(6) and 15 kept bits (a shaped model's β
 * and scale, 6 + 33 bits, take less than one frequency); a state 4 + 16 + 15 bits. Beyond
 * it the reader has failed or finished, so a copy of this much of a chunk
 * reads as the whole chunk would.
 */
export function headerBitsBound(groups: number, alphabet: number, lanes: number): number {
  return Math.ceil((groups * (82 + (66 + 26) * alphabet) + 35 * lanes) / 8);
}

/** The AnsfError for a failure code of assembly/header.ts (HEADER_ENDS_EARLY = -1 to HEADER_SHAPE_CODES = -11, in its order), its numbers from the core. */
function headerError(core: Core, code: number, precision: number, alphabet: number): AnsfError {
  const a = core.fn.headerDetail(0);
  const b = core.fn.headerDetail(1);
  const model = (why: string) => new AnsfError("CORRUPT_STREAM", `frequency model: ${why}`);
  switch (code) {
    case -1: return new AnsfError("CORRUPT_STREAM", `${WHAT}: bit stream ends early`);
    case -2: return new AnsfError("CORRUPT_STREAM", `${WHAT}: gamma code too long`);
    case -3: return new AnsfError("CORRUPT_STREAM", `${WHAT}: padding bits are not zero`);
    case -4: return model(`${a} runs in an alphabet of ${alphabet}`);
    case -5: return model(`top code ${a} outside the alphabet of ${alphabet}`);
    case -6: return model(`run [${a}, ${b}) outside the alphabet of ${alphabet}`);
    case -7: return model(`residual ${a} of ${b} codes`);
    case -8: return model(`a frequency of ${a + 1} bits at precision ${precision}`);
    case -9: return model(`frequencies exceed 2^${precision}`);
    case -10: return model(`shape leaves its largest code less than 1 of 2^${precision}`);
    default: return model(`shaped over ${a} codes in a chunk of ${b} elements`);
  }
}

/**
 * Reads the models and lane states from the `length` bytes at `at` in the
 * core's memory into `into`'s tables (zeroed first) and states, validated:
 * every code inside the alphabet, every frequency at least 1, each table's
 * total exactly 2^P, each state in [2^16, 2^32), the padding after the last
 * state zero. Returns the whole bytes the bitstream took.
 */
export function readHeaderBits(core: Core, at: number, length: number, into: HeaderBits): number {
  const { groups, alphabet, precision, resolution, tables, lanes, states, k, kinds, elements } = into;
  const taken = core.fn.readModelsAndStates(at, length, groups, alphabet, precision, resolution, tables, lanes, states, k, kinds ? 1 : 0, elements);
  if (taken < 0) throw headerError(core, taken, precision, alphabet);
  return taken;
}
