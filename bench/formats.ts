// npm run bench:formats [-- FILE...]: numeric formats on real weights. For
// each file, every float tensor is quantised into several formats (scale
// "auto": a power of two per tensor) and compressed; prints compressed
// bits/weight and the error. Then times decoding one large tensor of stored
// patterns (all of the last file's weights, quantised) as stored bytes and
// converted to fp32 / bf16, against plain decode() of the same weights as
// bf16: interleaved passes in one process, best and median of each.

import { existsSync, readFileSync } from "node:fs";
import { decode, decodeFormat, encode, encodeFormat, inspect, quantizeFile, type DecodeTarget } from "../src/index.js";
import { parseSafetensors } from "../src/safetensors.js";
import { toFloat32 } from "../src/format-codec.js";
import { builtinFormat, quantize, toComputeBits } from "../src/numformat/index.js";

const DEFAULT = ["fixtures/stories260K.bf16.safetensors", "../shared/data/ocr/ppocrv4_rec.f32.safetensors"];
const FORMATS = ["bf16", "fp16", "posit16es1", "fp8-e4m3", "fp8-e5m2", "posit8es0", "posit8es2", "int8", "fp6-e2m3", "fp6-e3m2", "fp4-e2m1", "int4", "ternary"];
const files = (process.argv.length > 2 ? process.argv.slice(2) : DEFAULT).filter((f) => existsSync(f));

for (const file of process.env.SKIP_SIZES ? [] : files) {
  const bytes = readFileSync(file);
  console.log(`\n${file}`);
  console.log("format        bits/weight  rel RMS    max abs");
  for (const format of FORMATS) {
    const { report } = await quantizeFile(bytes, { format, scale: "auto", threads: 1 });
    const e = report.total.error;
    console.log(`${format.padEnd(12)}  ${report.total.bitsPerWeight.toFixed(3).padStart(11)}  ${(e.rms / e.valueRms).toExponential(2)}  ${e.maxAbs.toExponential(2)}`);
  }
}

/** Every float weight of a file, widened to float32, as one array. */
function allWeights(file: string): Float32Array {
  const bytes = readFileSync(file);
  const parts = parseSafetensors(bytes).tensors.flatMap((t) => {
    const from = ({ F32: "fp32", F16: "fp16", BF16: "bf16" } as const)[t.dtype as "F32"];
    return from ? [toFloat32(bytes.subarray(t.begin, t.end), from)] : [];
  });
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function timings(passes: number, cases: Record<string, () => unknown>): Record<string, number[]> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i < passes; i++) {
    for (const [name, f] of Object.entries(cases)) {
      const t0 = performance.now();
      f();
      times[name]!.push(performance.now() - t0);
    }
  }
  return times;
}

const last = files[files.length - 1];
if (last) {
  const weights = allWeights(last);
  const n = weights.length;
  const bf16 = toComputeBits(new Uint32Array(weights.buffer), builtinFormat("fp32"), "bf16");
  const cases: Record<string, () => unknown> = { "bf16 decode() (reference)": () => decode(encoded) };
  const encoded = encode(bf16, { dtype: "bf16" });
  let squares = 0;
  for (const v of weights) squares += v * v;
  // Posits at the weights' RMS, as quantize --scale auto does; floats unscaled.
  const positScale = 2 ** Math.round(Math.log2(Math.sqrt(squares / n)));
  for (const name of ["fp8-e4m3", "posit8es2", "posit16es1"]) {
    const format = builtinFormat(name);
    const stored = quantize(weights, format, { scale: format.rounding === "posit" ? positScale : 1 }).data;
    const stream = encodeFormat(stored, { format });
    const modes = inspect(stream).segments[0]!.chunks.map((c) => c.mode).join(", ");
    console.log(`\n${name}: ${n} weights in one tensor, ${((8 * stream.length) / n).toFixed(3)} bits/weight, chunks ${modes}`);
    for (const to of ["stored", "fp32", "bf16"] as DecodeTarget[]) cases[`${name} -> ${to}`] = () => decodeFormat(stream, { to });
  }
  const times = timings(15, cases);
  console.log(`\ndecode of ${n} weights (${last}), 15 interleaved passes, M weights/s`);
  for (const [name, t] of Object.entries(times)) {
    t.sort((a, b) => a - b);
    const rate = (ms: number) => (n / 1e3 / ms).toFixed(0);
    console.log(`${name.padEnd(28)} best ${rate(t[0]!).padStart(5)}  median ${rate(t[t.length >> 1]!).padStart(5)}`);
  }
}
