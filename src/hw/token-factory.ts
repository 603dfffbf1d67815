// Token factory: several inference engines fed from one memory.
//
// In the decode phase of LLM inference every generated token (per sequence)
// needs one pass over all the weights, so engines are memory-bound. Three
// ways to feed E engines, each producing T tokens per weight pass (T
// sequences batched):
//   separate    every engine streams its own uncompressed copy: E × weight bytes per pass;
//   broadcast   the weights are read once, uncompressed, and broadcast;
//   compressed  the .ansf stream is read once, decoded once, and the decoded weights broadcast.
// A pass is simulated chunk by chunk through a flow shop of memory → decoder
// → engines with double buffers between stages, for several passes; the last
// pass gives the steady state. Assumptions (docs/HARDWARE.md): bandwidth is
// the only memory limit (no latency, no refresh); the broadcast fabric keeps
// up; engines consume 2 FLOPs per weight per token and are unlimited unless
// engineTflops is given; activations and KV-cache traffic are not counted.

import { AnsfError } from "../errors.js";

export interface FactoryParams {
  engines: number;
  /** Memory bandwidth shared by everything, GB/s (10^9 bytes per second). */
  bandwidthGBs: number;
  /** Aggregate decoder throughput, 10^9 symbols (weights) per second. */
  decoderGsym: number;
  /** Weights in the model. */
  params: number;
  /** Compression ratio (uncompressed bytes / .ansf bytes). */
  ratio: number;
  /** Tokens each engine produces per pass over the weights (its batch). */
  tokensPerPass: number;
  /** Bytes per uncompressed weight (2 for bf16). */
  bytesPerParam: number;
  /** Compute of one engine, 10^12 FLOP/s; 0 for unlimited. */
  engineTflops: number;
  /** Weights per chunk, the unit the flow shop moves. */
  chunkParams: number;
}

export const FACTORY_DEFAULTS: FactoryParams = {
  engines: 4,
  bandwidthGBs: 100,
  decoderGsym: 80, // 100 decoders at Liguori's 0.8 G/s
  params: 7e9,
  ratio: 1.5,
  tokensPerPass: 1,
  bytesPerParam: 2,
  engineTflops: 0,
  chunkParams: 1 << 20,
};

export type Bottleneck = "memory" | "decoder" | "engines";

export interface Scenario {
  name: "separate" | "broadcast" | "compressed";
  tokens_per_second: number;
  /** Seconds per weight pass, steady state. */
  pass_seconds: number;
  /** Bytes read from memory per pass and per token. */
  bytes_per_pass: number;
  bytes_per_token: number;
  /** Memory traffic actually drawn, GB/s. */
  traffic_gbs: number;
  bottleneck: Bottleneck;
}

export interface FactoryReport {
  params: FactoryParams;
  scenarios: Scenario[];
  /** Decoder throughput at which memory, not decoding, limits the compressed factory, 10^9 symbols/s. */
  decoder_gsym_needed: number;
  /** Decoder cores at Liguori's 0.8 G symbols/s each for that. */
  paper_cores_needed: number;
  /** Compressed over separate, tokens per second. */
  speedup_vs_separate: number;
  speedup_vs_broadcast: number;
  /** The compressed factory at 1/8 … 2 × decoder_gsym_needed: where decoding is the bottleneck. */
  decoder_sweep: { decoder_gsym: number; tokens_per_second: number; bottleneck: Bottleneck }[];
}

const PASSES = 4;

export function checkFactoryParams(p: FactoryParams): void {
  const positive: (keyof FactoryParams)[] = ["engines", "bandwidthGBs", "decoderGsym", "params", "ratio", "tokensPerPass", "bytesPerParam", "chunkParams"];
  for (const key of positive) {
    if (!(Number.isFinite(p[key]) && p[key] > 0)) throw new AnsfError("BAD_ARGUMENT", `token factory: ${key} must be a positive number, got ${p[key]}`);
  }
  if (!(p.engineTflops >= 0)) throw new AnsfError("BAD_ARGUMENT", `token factory: engineTflops must be ≥ 0, got ${p.engineTflops}`);
  if (!Number.isInteger(p.engines)) throw new AnsfError("BAD_ARGUMENT", `token factory: engines must be an integer, got ${p.engines}`);
  if (p.params / p.chunkParams > 1e6) throw new AnsfError("BAD_ARGUMENT", `token factory: ${p.params} weights in chunks of ${p.chunkParams} is too many chunks to simulate`);
}

export function tokenFactory(partial: Partial<FactoryParams> = {}): FactoryReport {
  const p: FactoryParams = { ...FACTORY_DEFAULTS, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) };
  checkFactoryParams(p);
  const weightBytes = p.params * p.bytesPerParam;
  const scenarios = [
    simulate(p, "separate", p.engines * weightBytes, false),
    simulate(p, "broadcast", weightBytes, false),
    simulate(p, "compressed", weightBytes / p.ratio, true),
  ];
  const needed = (p.bandwidthGBs * p.ratio) / p.bytesPerParam;
  const [separate, broadcast, compressed] = scenarios as [Scenario, Scenario, Scenario];
  return {
    params: p,
    scenarios,
    decoder_gsym_needed: needed,
    paper_cores_needed: Math.ceil(needed / 0.8),
    speedup_vs_separate: compressed.tokens_per_second / separate.tokens_per_second,
    speedup_vs_broadcast: compressed.tokens_per_second / broadcast.tokens_per_second,
    decoder_sweep: [1 / 8, 1 / 4, 1 / 2, 1, 2].map((f) => {
      const s = simulate({ ...p, decoderGsym: needed * f }, "compressed", weightBytes / p.ratio, true);
      return { decoder_gsym: needed * f, tokens_per_second: s.tokens_per_second, bottleneck: s.bottleneck };
    }),
  };
}

/**
 * A pass moves ⌈params / chunkParams⌉ chunks through memory → (decoder) →
 * engines. Each stage takes one chunk at a time; a stage may run at most two
 * chunks ahead of the next (double buffering). Returns the steady state.
 */
function simulate(p: FactoryParams, name: Scenario["name"], bytesPerPass: number, decode: boolean): Scenario {
  const chunks = Math.ceil(p.params / p.chunkParams);
  const memSeconds = bytesPerPass / chunks / (p.bandwidthGBs * 1e9);
  const decodeSeconds = decode ? p.params / chunks / (p.decoderGsym * 1e9) : 0;
  // Engines run in parallel, each on the same chunk (its own copy when separate).
  const computeSeconds = p.engineTflops > 0 ? (2 * (p.params / chunks) * p.tokensPerPass) / (p.engineTflops * 1e12) : 0;
  const BUFFERS = 2;
  const memEnd: number[] = [];
  const decStart: number[] = [];
  const decEnd: number[] = [];
  const engStart: number[] = [];
  const engEnd: number[] = [];
  const passEnd: number[] = [];
  for (let i = 0; i < chunks * PASSES; i++) {
    const memStart = Math.max(memEnd[i - 1] ?? 0, decStart[i - BUFFERS] ?? 0);
    memEnd[i] = memStart + memSeconds;
    decStart[i] = Math.max(memEnd[i]!, decEnd[i - 1] ?? 0, engStart[i - BUFFERS] ?? 0);
    decEnd[i] = decStart[i]! + decodeSeconds;
    engStart[i] = Math.max(decEnd[i]!, engEnd[i - 1] ?? 0);
    engEnd[i] = engStart[i]! + computeSeconds;
    if ((i + 1) % chunks === 0) passEnd.push(engEnd[i]!);
  }
  const passSeconds = passEnd[PASSES - 1]! - passEnd[PASSES - 2]!;
  const tokens = p.engines * p.tokensPerPass;
  const stage = { memory: memSeconds, decoder: decodeSeconds, engines: computeSeconds };
  // Ties go to memory: a decoder exactly matched to the bandwidth is not the limit.
  const bottleneck = (Object.keys(stage) as Bottleneck[]).reduce((a, b) => (stage[b] > stage[a] * (1 + 1e-9) ? b : a));
  return {
    name,
    tokens_per_second: tokens / passSeconds,
    pass_seconds: passSeconds,
    bytes_per_pass: bytesPerPass,
    bytes_per_token: bytesPerPass / tokens,
    traffic_gbs: bytesPerPass / passSeconds / 1e9,
    bottleneck,
  };
}
