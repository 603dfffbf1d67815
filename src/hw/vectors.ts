// hw-vectors: per chunk, what an RTL test bench needs to drive one decoder
// core and check it, as $readmemh files (one hexadecimal word per line).
// The expected words are the model's, written only when they equal the Wasm
// decoder's word for word.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AnsfError } from "../errors.js";
import { hex } from "./bits.js";
import { CONTEXT_LANE, CONTEXT_NONE, CONTEXT_ROW } from "../context.js";
import type { SystemConfig } from "./config.js";
import { GROUP_BITS } from "./context-unit.js";
import type { ChunkResult } from "./core.js";
import type { ChunkJob } from "./job.js";
import { buildTable } from "./table.js";
import { verifyStream, type HwReport } from "./verify.js";

export interface VectorsResult {
  report: HwReport;
  directories: string[];
}

export async function writeVectors(stream: Uint8Array, outDir: string, config: Partial<SystemConfig>, sampleCount?: number): Promise<VectorsResult> {
  mkdirSync(outDir, { recursive: true });
  const directories: string[] = [];
  const manifest: object[] = [];
  const report = await verifyStream(stream, {
    config,
    ...(sampleCount === undefined ? {} : { sample: sampleCount }),
    onChunk: (result, reference) => {
      if (!reference || result.errors.length > 0 || !Buffer.from(result.output).equals(Buffer.from(reference))) return;
      const name = `chunk_${String(result.job.id).padStart(5, "0")}`;
      writeChunk(join(outDir, name), result);
      directories.push(name);
      manifest.push({ directory: name, ...chunkParams(result.job), cycles: result.stats });
    },
  });
  if (!report.bit_exact) {
    const m = report.mismatches[0];
    const f = report.failures[0];
    const why = m
      ? `chunk ${m.chunk} lane ${m.lane} symbol ${m.symbol} (clock ${m.cycle}): model ${m.model}, wasm ${m.wasm}`
      : f
        ? `chunk ${f.chunk}: ${[...f.model, ...(f.wasm ? [`wasm ${f.wasm}`] : [])].join("; ")}`
        : "index checksum mismatch";
    throw new AnsfError("CORRUPT_STREAM", `model and Wasm decoder disagree, no vectors written for failing chunks: ${why}`);
  }
  writeFileSync(join(outDir, "manifest.json"), `${JSON.stringify({ config: report.config, chunks: manifest }, null, 1)}\n`);
  writeFileSync(join(outDir, "README.md"), README);
  return { report, directories };
}

const CONTEXT_NAMES = ["none", "row", "lane"];

function chunkParams(job: ChunkJob) {
  const c = job.context;
  return {
    chunk: job.id, segment: job.segment, segment_chunk: job.chunk, layout: job.layout.name, width_bytes: job.layout.width,
    n: job.n, k: job.k, precision: job.precision, lanes: job.lanes, code_bits: job.codeBits, shift: job.shift,
    raw_bits: job.rawBits, signed: job.layout.signed, payload_words: job.payloadBytes / 2, raw_bytes: job.raw.length, carried_bits: job.carriedBits,
    checksum: `0x${hex(job.checksum, 32)}`,
    groups: c.groups, context: CONTEXT_NAMES[c.kind], map_entries: c.map.length,
    ...(c.kind === CONTEXT_ROW ? { first_rounds: c.firstRounds, row_rounds: c.rowRounds } : {}),
    ...(c.kind === CONTEXT_LANE ? { run_last: c.runLast, channels_last: c.channelsLast, within0: c.within0, channel0: c.channel0 } : {}),
  };
}

function lines(count: number, bits: number, value: (i: number) => number | bigint): string {
  const digits = Math.ceil(bits / 4);
  const out: string[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = value(i).toString(16).padStart(digits, "0");
  return out.join("\n") + "\n";
}

function writeChunk(dir: string, r: ChunkResult): void {
  const job = r.job;
  const P = job.precision;
  mkdirSync(dir, { recursive: true });
  const put = (file: string, text: string) => writeFileSync(join(dir, file), text);
  const t = buildTable(job.tables, P, job.codeBits);
  // All G tables, table g at addresses {g, slot} and {g, code}.
  const slots = job.tables.length << P;
  // Slot entry {code, bias, freq}: freq in bits [P:0], bias in [2P:P+1], code above. Up to 43 bits: BigInt to pack.
  const entryBits = 2 * P + 1 + job.codeBits;
  put("slot_table.hex", lines(slots, entryBits, (s) => (BigInt(t.sym[s]!) << BigInt(2 * P + 1)) | (BigInt(t.bias[s]!) << BigInt(P + 1)) | BigInt(t.freq[s]!)));
  put("sym_table.hex", lines(slots, job.codeBits, (s) => t.sym[s]!));
  const freqOf = (gc: number) => job.tables[gc >>> job.codeBits]![gc & ((1 << job.codeBits) - 1)]!;
  // Per-code {start, freq}: freq in [P:0], start in [2P:P+1]; zero for absent codes.
  put("sym_info.hex", lines(job.tables.length << job.codeBits, 2 * P + 1, (c) => (freqOf(c) > 0 ? t.infoStart[c]! * 2 ** (P + 1) + t.infoFreq[c]! : 0)));
  // The table builder's input: present codes ascending, table after table, {code, freq} with freq in [15:0].
  const present = job.tables.flatMap((f) => [...f.keys()].filter((c) => f[c]! > 0).map((c) => c * 65536 + f[c]!));
  put("codes.hex", lines(present.length, 28, (i) => present[i]!));
  if (job.context.kind !== CONTEXT_NONE) put("group_map.hex", lines(job.context.map.length, GROUP_BITS, (i) => job.context.map[i]!));
  const words = new DataView(job.words.buffer, job.words.byteOffset, job.words.length);
  put("states.hex", lines(job.lanes, 32, (j) => words.getUint32(4 * j, true)));
  put("payload.hex", lines(job.payloadBytes / 2, 16, (i) => words.getUint16(4 * job.lanes + 2 * i, true)));
  put("raw.hex", lines(job.raw.length, 8, (i) => job.raw[i]!));
  const width = job.layout.width;
  const out = new DataView(r.output.buffer, r.output.byteOffset, r.output.length);
  const word = (e: number) => (width === 1 ? out.getUint8(e) : width === 2 ? out.getUint16(2 * e, true) : out.getUint32(4 * e, true));
  put("expected.hex", lines(job.n, 8 * width, word));
  const finalStates = Array.from(r.finalStates, (x) => `0x${hex(x, 32)}`);
  put("chunk.json", `${JSON.stringify({ ...chunkParams(job), final_states: finalStates, model: r.stats }, null, 1)}\n`);
}

const README = `# Decoder-core test vectors

Written by \`ansfloat hw-vectors\`: one directory per rANS chunk, every file a
\`$readmemh\` image (one hexadecimal word per line, first line = address 0).
The expected words come from the cycle model (src/hw/) and were checked word
for word against the software (Wasm) decoder before being written.
\`manifest.json\` lists the chunks with their parameters and the model's clock
counts under the configuration it records; docs/HARDWARE.md describes the
model.

## Files per chunk

| file | lines | width (bits) | content |
|---|---|---|---|
| chunk.json | | | n, layout, k, precision P, lanes N, code bits E+k, shift c, raw bits w, signed, carried bits H, checksum, G groups, context (none, row, lane) and its register values, final states, model cycle counts |
| codes.hex | present codes | 28 | table-builder input, ascending codes table after table: code << 16 \\| freq |
| slot_table.hex | G·2^P | 2P+1+E+k | slot entry at {g, slot}: code << (2P+1) \\| bias << (P+1) \\| freq |
| sym_table.hex | G·2^P | E+k | split organisation: code of each slot {g, slot} |
| sym_info.hex | G·2^(E+k) | 2P+1 | split organisation at {g, code}: start << (P+1) \\| freq (0 for absent codes) |
| group_map.hex | map entries | 3 | channel contexts only: the group map in stream order (row: one entry per row; lane: one per channel) |
| states.hex | N | 32 | initial state of lanes 0 … N−1 (from version 3, lane j ends in 2^16 plus its carried raw bits) |
| payload.hex | payload words | 16 | renormalisation words in consumption order |
| raw.hex | ⌈(n·w − H)/8⌉ | 8 | stored raw plane bytes; element e's w-bit field starts at bit e·w, LSB first; bits from n·w − H on are carried by the lane states: lane j ends in 2^16 + bits [n·w − H + 16j, +16) |
| expected.hex | n | 8·width | decoded elements in order |

## Core interface

| port | dir | width | meaning |
|---|---|---|---|
| clk, rst | in | 1 | one clock; synchronous reset |
| cfg_n | in | 26 | elements in the chunk (a chunk decodes to at most 64 MiB) |
| cfg_precision | in | 4 | P, 11…15 (9…15 with channel contexts) |
| cfg_lanes | in | 6 | N, 4…32 in steps of 4 |
| cfg_shift | in | 5 | c, 0…23: code position in the element |
| cfg_raw_bits | in | 5 | w = c + signed, 0…24 |
| cfg_signed | in | 1 | sign bit stored raw |
| cfg_width | in | 3 | element bytes: 1, 2 or 4 |
| cfg_payload_bytes | in | 32 | payload length, for the overrun and underrun checks |
| cfg_carried_bits | in | 10 | H = min(16·N, n·w), raw bits carried by the lane states (0 before version 3) |
| cfg_groups | in | 4 | G, tables: 1, or 2…8 with channel contexts (G·2^P ≤ 2^15) |
| cfg_ctx_kind | in | 2 | 0 none, 1 row, 2 lane |
| cfg_ctx_first_rounds | in | 22 | row: rounds until the first row ends, stride − phase (saturated at 2^22 − 1) |
| cfg_ctx_row_rounds | in | 22 | row: rounds per row, stride (saturated at 2^22 − 1) |
| cfg_ctx_run_last | in | 15 | lane: D − 1 |
| cfg_ctx_channels_last | in | 15 | lane: T − 1 |
| cfg_ctx_within0 | in | 15 | lane: element 0's position in its channel, phase mod D |
| cfg_ctx_channel0 | in | 15 | lane: element 0's channel, ⌊phase / D⌋ |
| code_tdata | in | 28 | table builder: {code[11:0], freq[15:0]}, table after table; the core writes one slot per clock (G·2^P clocks); a table ends where its slots reach 2^P |
| code_tvalid / code_tready | in / out | 1 | |
| map_tdata | in | 3 | group map (group_map.hex): lane, the T entries written into the group-map RAM during setup, one per clock beside the table fill; row, one entry taken as each row begins, during the run |
| map_tvalid / map_tready | in / out | 1 | |
| word_tdata | in | 8·B | word stream: N u32 states, then u16 payload words, little-endian, B bytes per beat |
| word_tkeep | in | B | valid bytes of the beat (the last beat may be partial) |
| word_tvalid / word_tready | in / out | 1 | |
| raw_tdata, raw_tkeep | in | 8·B, B | raw plane bytes |
| raw_tvalid / raw_tready | in / out | 1 | |
| out_tdata | out | 32 | element, low 8·width bits |
| out_tlast | out | 1 | last element of the chunk |
| out_tvalid / out_tready | out / in | 1 | |
| done | out | 1 | chunk finished (pulse) |
| err | out | 5 | {row map entries left or missing, checksum, final state outside [2^16, 2^16 + 2^b) for the b ≤ 16 bits its lane carries, payload overrun, payload underrun} |

Every stream uses the AXI-Stream handshake: a beat moves on a rising edge
where valid and ready are both high. Inside the core, the lane states ride a
ring of max(N, D) registers through the D pipeline stages, and one clock
enable freezes the whole ring when the renormaliser needs a word the word
FIFO lacks, when the output assembler needs raw bits the raw FIFO lacks, or
when the output FIFO is full (out_tready low): those are the model's stall
clocks. Without stalls a chunk takes, from its first symbol,
⌊(n−1)/N⌋·max(N, D) + ((n−1) mod N) + D clocks, after a setup of G·2^P
clocks of table fill (or T map writes for a lane context, if more). With
H > 0 the words of the last n − ⌊(n·w − H)/w⌋ elements, those whose fields
reach past the stored raw plane, wait in a tail buffer; once every lane has
ended they leave one per clock, each ORed with its carried bits: that many
more clocks.

With channel contexts (G > 1) each symbol's table is {group, x mod 2^P}. A
context unit gives each issuing symbol its group from counters, never a
division: row, a down-counter of the rounds left in the row (a round ends
when lane N−1 issues) that takes the next map entry when it reaches 0 and
reloads with cfg_ctx_row_rounds; lane, the position in the channel (wraps
at D) and the channel (wraps at T), which addresses the group-map RAM.
`;
