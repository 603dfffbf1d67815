import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AnsfError, compress, compressAsync, decompress, encode, inspect, open } from "../src/index.js";
import { ggufSegments, planGguf } from "../src/gguf-codec.js";
import { memoryReader } from "../src/io.js";
import { parseSafetensors } from "../src/safetensors.js";
import { errorCode } from "./error-code.js";

const FIXTURE = readFileSync("fixtures/stories260K.bf16.safetensors");
const dir = mkdtempSync(join(tmpdir(), "ansfloat-loader-"));

describe("lazy loader", () => {
  const path = join(dir, "model.ansf");
  writeFileSync(path, compress(FIXTURE, { chunkElements: 5000 }));
  const parsed = parseSafetensors(FIXTURE);

  it("lists tensors from the index and decodes each one alone, equal to its bytes in the file", () => {
    const file = open(path);
    try {
      expect(file.tensors.map((t) => t.name)).toEqual(parsed.tensors.map((t) => t.name));
      for (const t of parsed.tensors) {
        expect(Buffer.from(file.tensor(t.name)).equals(FIXTURE.subarray(t.begin, t.end))).toBe(true);
      }
    } finally {
      file.close();
    }
  });

  it("gives a tensor carried as bytes its source dtype and shape, in inspect() as in the loader", () => {
    const stream = readFileSync("fixtures/v3-mixed-layouts.safetensors.ansf");
    const listed = inspect(stream).segments;
    expect(listed.slice(-2).map((s) => s.dtype)).toEqual(["fp16", "U8"]);
    const header = parseSafetensors(decompress(stream)).tensors;
    expect(listed.slice(1).map((s) => s.shape)).toEqual(header.map((t) => t.shape));
    const path = join(dir, "mixed.ansf");
    writeFileSync(path, stream);
    const file = open(path);
    try {
      expect(file.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(listed.slice(1).map((s) => [s.name, s.dtype, s.shape]));
    } finally {
      file.close();
    }
  });

  it("slices across chunk boundaries and widens bf16 to float32 exactly", () => {
    const file = open(path);
    const t = parsed.tensors.find((x) => x.name === "model.embed_tokens.weight")!;
    const whole = FIXTURE.subarray(t.begin, t.end);
    for (const [b, e] of [[0, 1], [4999, 5001], [7, 20000], [32767, 32768], [0, 32768]] as const) {
      expect(Buffer.from(file.slice(t.name, b, e)).equals(whole.subarray(2 * b, 2 * e))).toBe(true);
    }
    const f32 = file.float32(t.name);
    const words = new Uint16Array(whole.buffer.slice(whole.byteOffset, whole.byteOffset + whole.length));
    expect(new Uint32Array(f32.buffer).every((bits, i) => bits === words[i]! << 16 >>> 0)).toBe(true);
    const out = new Uint8Array(10);
    expect(file.slice(t.name, 3, 8, { out }).buffer).toBe(out.buffer);
    expect(() => file.slice(t.name, 5, 40000)).toThrow(AnsfError);
    expect(() => file.tensor("nope")).toThrow(/no tensor named "nope"/);
    file.close();
    expect(() => file.tensor(t.name)).toThrow(/closed/);
  });

  it("opens single-tensor streams and refuses files that are not .ansf", () => {
    const single = join(dir, "t.ansf");
    const data = FIXTURE.subarray(FIXTURE.length - 4096);
    writeFileSync(single, encode(data, { dtype: "bf16", shape: [32, 64] }));
    const file = open(single);
    expect(file.tensors).toEqual([{ name: "tensor", dtype: "bf16", shape: [32, 64], bytes: 4096 }]);
    expect(Buffer.from(file.tensor("tensor")).equals(data)).toBe(true);
    file.close();
    const bogus = join(dir, "bogus.ansf");
    writeFileSync(bogus, FIXTURE.subarray(0, 100));
    expect(() => open(bogus)).toThrow(expect.objectContaining({ code: "BAD_MAGIC" }));
  });

  it("refuses every truncation of a file with an AnsfError, those shorter than header and footer too", () => {
    const whole = encode(FIXTURE.subarray(FIXTURE.length - 512), { dtype: "bf16" });
    const cut = join(dir, "cut.ansf");
    const codes = new Set<string>();
    for (let length = 0; length < whole.length; length++) {
      writeFileSync(cut, whole.subarray(0, length));
      codes.add(errorCode(() => open(cut).close()));
    }
    // Fewer than four bytes cannot show the magic; past it every cut lacks the footer.
    expect([...codes].sort()).toEqual(["TRUNCATED"]);
  });
});

/** A small GGUF file: metadata with nested arrays and strings, an F32 tensor and a quantised one (type 8, carried as bytes). */
function tinyGguf(): Uint8Array {
  const parts: number[] = [];
  const u32 = (v: number) => parts.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24);
  const u64 = (v: number) => (u32(v), u32(0));
  const str = (t: string) => (u64(t.length), parts.push(...new TextEncoder().encode(t)));
  parts.push(...new TextEncoder().encode("GGUF"));
  u32(3);
  u64(2); // tensors
  u64(2); // metadata entries
  str("test.nested");
  u32(9), u32(9), u64(2); // an array of two arrays of u32
  for (const values of [[1, 2, 3], [4]]) (u32(4), u64(values.length), values.forEach(u32));
  str("test.names");
  u32(9), u32(8), u64(2), str("a"), str("bc"); // an array of strings
  str("w"), u32(2), u64(4), u64(2), u32(0), u64(0); // F32 [2, 4] at 0
  str("q"), u32(1), u64(32), u32(8), u64(32); // Q8_0, 34 bytes at 32
  while (parts.length % 32) parts.push(0);
  const data = new Uint8Array(32 + 34 + 30);
  new Float32Array(data.buffer, 0, 8).set([1, -2, 0.5, 3, -0.25, 8, 1e-3, 7]);
  data.fill(7, 32, 66);
  return new Uint8Array([...parts, ...data]);
}

describe("GGUF-sourced files", () => {
  it("name their tensors as @huggingface/gguf reads them: nested metadata arrays, a float and a quantised tensor", async () => {
    const original = tinyGguf();
    const { plans, names } = await planGguf(memoryReader(original));
    expect(names).toEqual(["(header)", "w", "q"]);
    const stream = await compressAsync(original, { threads: 1 });
    expect(inspect(stream).segments.map((s) => [s.name, s.dtype])).toEqual([["(header)", "bytes"], ["w", "fp32"], ["q", "Q8_0"]]);
    const path = join(dir, "tiny.gguf.ansf");
    writeFileSync(path, stream);
    const file = open(path);
    try {
      expect(file.tensors.map((t) => t.name)).toEqual(names);
      expect(file.tensors.map((t) => t.dtype)).toEqual(["u8", "fp32", "Q8_0"]);
      expect(file.tensors[1]!.shape).toEqual([2, 4]);
      plans.forEach((p, i) => expect(Buffer.from(file.tensor(names[i]!)).equals(original.subarray(p.begin, p.end))).toBe(true));
    } finally {
      file.close();
    }
  });

  const ggufs = ["../shared/data/llm/stories260K.bf16.gguf", "../shared/data/llm/stories260K.f32.gguf"].filter((f) => existsSync(f));
  it.skipIf(ggufs.length === 0)(`name their tensors as the GGUF header does (${ggufs.length || "data absent: skipped"})`, async () => {
    for (const gguf of ggufs) {
      const original = new Uint8Array(readFileSync(gguf));
      const { plans, names } = await planGguf(memoryReader(original));
      const stream = await compressAsync(original, { threads: 1 });
      const path = join(dir, "model.gguf.ansf");
      writeFileSync(path, stream);
      expect(inspect(stream).segments.map((s) => s.name)).toEqual(names);
      const file = open(path);
      try {
        expect(file.tensors.map((t) => t.name)).toEqual(names);
        expect(names).toContain("token_embd.weight");
        plans.forEach((p, i) => expect(Buffer.from(file.tensor(names[i]!)).equals(original.subarray(p.begin, p.end))).toBe(true));
      } finally {
        file.close();
      }
    }
  });

  it.skipIf(ggufs.length === 0)("refuse a damaged GGUF header with an AnsfError: every truncation before its padding, and a tensor of 2^32 - 1 dimensions", async () => {
    const original = new Uint8Array(readFileSync(ggufs[0]!));
    const { plans, names } = await planGguf(memoryReader(original));
    const header = original.slice(0, plans[0]!.end);
    expect(ggufSegments(header, original.length, names.length)!.names).toEqual(names);
    // The last bytes are the padding to the data's alignment (32 by default): cut there, the infos still parse.
    for (let cut = 0; cut < header.length - 32; cut += 7) {
      expect(errorCode(() => ggufSegments(header.subarray(0, cut), original.length, names.length))).toMatch(/^(TRUNCATED|CORRUPT_STREAM|BAD_GGUF)$/);
    }
    // The rank field follows the first tensor's name: its length (u64) and bytes.
    const name = new TextEncoder().encode(names[1]!);
    const at = Buffer.from(header).indexOf(Buffer.from(name)) + name.length;
    new DataView(header.buffer).setUint32(at, 0xffffffff, true);
    expect(errorCode(() => ggufSegments(header, original.length, names.length))).toBe("CORRUPT_STREAM");
  });
});

describe("sharded Hugging Face folders", () => {
  it("compresses every shard with -r and resolves tensors through model.safetensors.index.json", async () => {
    const { spawnSync } = await import("node:child_process");
    const { openModel } = await import("../src/index.js");
    const { writeSafetensors } = await import("../src/safetensors.js");
    const folder = mkdtempSync(join(tmpdir(), "ansfloat-sharded-"));
    const parsed = parseSafetensors(FIXTURE);
    const halves = [parsed.tensors.slice(0, 20), parsed.tensors.slice(20)];
    const weightMap: Record<string, string> = {};
    halves.forEach((tensors, i) => {
      const shard = `model-0000${i + 1}-of-00002.safetensors`;
      writeFileSync(join(folder, shard), writeSafetensors(tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: FIXTURE.subarray(t.begin, t.end) }))));
      for (const t of tensors) weightMap[t.name] = shard;
    });
    writeFileSync(join(folder, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const r = spawnSync(process.execPath, ["dist/src/cli.js", "-q", "-r", folder], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const model = openModel(folder);
    expect(model.names).toHaveLength(47);
    for (const t of parsed.tensors) expect(Buffer.from(model.tensor(t.name)).equals(FIXTURE.subarray(t.begin, t.end))).toBe(true);
    model.close();
    const noR = spawnSync(process.execPath, ["dist/src/cli.js", folder], { encoding: "utf8" });
    expect(noR.status).toBe(1);
    expect(noR.stderr).toBe(`ansfloat: ${folder} is a directory (use -r) [BAD_ARGUMENT]\n`);
  });

  it("reports a broken index, a missing shard and a path that is no file as AnsfErrors", async () => {
    const { openModel } = await import("../src/index.js");
    const folder = mkdtempSync(join(tmpdir(), "ansfloat-broken-"));
    const index = join(folder, "model.safetensors.index.json");
    writeFileSync(index, "{not json");
    expect(errorCode(() => openModel(folder))).toBe("BAD_SAFETENSORS");
    writeFileSync(index, JSON.stringify({ weight_map: { "a.weight": "missing.safetensors" } }));
    const model = openModel(folder);
    expect(errorCode(() => model.tensor("a.weight"))).toBe("IO_ERROR");
    model.close();
    expect(errorCode(() => openModel(join(folder, "nowhere")))).toBe("IO_ERROR");
    expect(errorCode(() => open(join(folder, "nowhere.ansf")))).toBe("IO_ERROR");
    expect(errorCode(() => open(folder))).toBe("IO_ERROR");
  });
});
