import { describe, expect, it, beforeAll } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compress } from "../src/index.js";
import { CLI, FIXTURE, runCli as run, scratchModel } from "./cli-harness.js";


describe("ansfloat CLI", () => {
  let dir: string;
  let src: string;
  const original = readFileSync(FIXTURE);

  beforeAll(() => {
    ({ dir, src } = scratchModel("ansfloat-cli-"));
  });

  it("compresses to FILE.ansf, keeps the source, and refuses to overwrite without -f", () => {
    const first = run([src]);
    expect(first.status).toBe(0);
    expect(first.stderr).toMatch(/model\.safetensors: 525192 -> \d+ bytes \(1\.5\d+x, 10\.\d+ bits\/weight\)/);
    expect(readFileSync(src).equals(original)).toBe(true);
    const packed = readFileSync(`${src}.ansf`);
    expect(Buffer.from(compress(original)).equals(packed)).toBe(true);

    const again = run([src]);
    expect(again.status).toBe(1);
    expect(again.stderr).toBe(`ansfloat: ${src}: ${src}.ansf already exists (use -f to overwrite) [IO_ERROR]\n`);
    expect(run(["-q", "-f", src]).status).toBe(0);
  });

  it("decompresses byte-identically with -d and -o, and to stdout with -c", () => {
    const out = join(dir, "restored.safetensors");
    const r = run(["-d", `${src}.ansf`, "-o", out]);
    expect(r.status).toBe(0);
    expect(readFileSync(out).equals(original)).toBe(true);
    const piped = run(["-d", "-c", `${src}.ansf`]);
    expect(piped.status).toBe(0);
    expect(piped.stdout.equals(original)).toBe(true);
    const existing = run(["-d", `${src}.ansf`]);
    expect(existing.status).toBe(1);
    expect(existing.stderr).toContain("already exists");
  });

  it("tests integrity with -t and reports corruption naming the file", () => {
    expect(run(["-t", `${src}.ansf`]).stderr).toMatch(/: OK \(525192 bytes/);
    const bad = readFileSync(`${src}.ansf`);
    bad[bad.length >> 1]! ^= 0x10;
    const badPath = join(dir, "bad.safetensors.ansf");
    writeFileSync(badPath, bad);
    const r = run(["-t", badPath]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^ansfloat: ${badPath}: .+ \\[(CHECKSUM_MISMATCH|CORRUPT_STREAM)\\]\\n$`));
    expect(r.stderr).not.toContain("    at ");
  });

  it("leaves no partial output when decompression fails", () => {
    const badPath = join(dir, "bad.safetensors.ansf");
    const before = readdirSync(dir).sort();
    const r = run(["-d", badPath]);
    expect(r.status).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it("writes devices in place: /dev/null stays a device, a full device fails with exit 1", () => {
    // A temporary file renamed over -o /dev/full once replaced the device with the output, and a failed write was taken for success.
    const toNull = run(["-q", "-o", "/dev/null", src]);
    expect(toNull.status).toBe(0);
    expect(statSync("/dev/null").isCharacterDevice()).toBe(true);
    if (existsSync("/dev/full")) {
      const toFull = run(["-f", "-o", "/dev/full", src]);
      expect(toFull.status).toBe(1);
      expect(toFull.stderr).toMatch(/^ansfloat: .*cannot write \/dev\/full: ENOSPC.*\[IO_ERROR\]\n$/);
      expect(statSync("/dev/full").isCharacterDevice()).toBe(true);
    }
    const toFolder = run(["-f", "-o", dir, src]);
    expect(toFolder.status).toBe(1);
    expect(toFolder.stderr).toBe(`ansfloat: ${src}: ${dir} is a directory [IO_ERROR]\n`);
  });

  it("never writes over its own input, and --rm keeps the source unless the result is a file of its own", () => {
    // -f -o INPUT INPUT replaced the source with its compressed form, and with --rm then deleted that too.
    const own = join(dir, "own.safetensors");
    copyFileSync(FIXTURE, own);
    for (const args of [["-f", "-o", own, own], ["--rm", "-f", "-o", own, own]]) {
      const r = run(args);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`ansfloat: ${own}: ${own} is the input file [IO_ERROR]\n`);
      expect(readFileSync(own).equals(original)).toBe(true);
    }
    // Into /dev/null nothing is kept, so the source stays; into a file, --rm removes it.
    expect(run(["-q", "--rm", "-o", "/dev/null", own]).status).toBe(0);
    expect(readFileSync(own).equals(original)).toBe(true);
    expect(run(["-q", "--rm", own]).status).toBe(0);
    expect(existsSync(own)).toBe(false);
    expect(Buffer.from(run(["-d", "-c", `${own}.ansf`]).stdout).equals(original)).toBe(true);
  });

  it("reads a named pipe whole, as standard input, and --rm leaves the pipe", async () => {
    // A pipe given by name was refused as "not a regular file"; zstd reads it.
    const { spawn } = await import("node:child_process");
    const fifo = join(dir, "piped.safetensors");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const feed = (path: string) => {
      const writer = spawn("sh", ["-c", 'cat "$0" > "$1"', path, fifo]);
      return new Promise<number | null>((resolve) => writer.once("exit", resolve));
    };
    let fed = feed(FIXTURE);
    const piped = run(["-q", "--rm", "-o", join(dir, "piped.ansf"), fifo]);
    expect([piped.status, piped.stderr, await fed]).toEqual([0, "", 0]);
    expect(readFileSync(join(dir, "piped.ansf")).equals(Buffer.from(compress(original)))).toBe(true);
    expect(statSync(fifo).isFIFO()).toBe(true);
    fed = feed(join(dir, "piped.ansf"));
    const back = run(["-d", "-c", fifo]);
    expect([back.status, await fed]).toEqual([0, 0]);
    expect(back.stdout.equals(original)).toBe(true);
  });

  it("removes its partial output when interrupted (SIGINT, SIGTERM) and exits 130 or 143", async () => {
    // A partial temporary file was left behind by an interrupted run.
    const { spawn } = await import("node:child_process");
    const big = join(dir, "big.bin");
    // 96 MiB of bf16-like words: long enough to interrupt mid-write.
    const words = new Uint16Array(48 << 20);
    for (let i = 0; i < words.length; i++) words[i] = 0x3c00 + ((i * 2654435761) >>> 22);
    writeFileSync(big, words);
    for (const [signal, status] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      const child = spawn(process.execPath, [CLI, "-q", "-f", "-T", "1", "--raw", "--dtype", "bf16", big]);
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      const partial = () => readdirSync(dir).filter((f) => f.endsWith(".tmp"));
      for (let waited = 0; partial().length === 0 && waited < 20000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      expect(partial().length).toBe(1);
      child.kill(signal);
      expect(await exited).toBe(status);
      expect(partial()).toEqual([]);
      expect(existsSync(`${big}.ansf`)).toBe(false);
    }
  });

  it("-r takes each file under a folder once: links to files yes, links to folders and dangling links no", () => {
    // A link back up the tree listed the same file again at every depth (and a dangling link stopped the whole run).
    const tree = mkdtempSync(join(tmpdir(), "ansfloat-tree-"));
    mkdirSync(join(tree, "sub"));
    copyFileSync(FIXTURE, join(tree, "a.safetensors"));
    copyFileSync(FIXTURE, join(tree, "sub", "c.safetensors"));
    symlinkSync(join(tree, "a.safetensors"), join(tree, "linked.safetensors"));
    symlinkSync(join(tree, "nowhere"), join(tree, "dangling.safetensors"));
    symlinkSync(tree, join(tree, "sub", "loop"));
    const r = run(["-q", "-r", tree]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const coded = readdirSync(tree, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ansf") && !f.includes("loop")).sort();
    expect(coded).toEqual(["a.safetensors.ansf", "linked.safetensors.ansf", join("sub", "c.safetensors.ansf")]);
  });

  it("lists tensors as a table and as JSON", () => {
    const table = run(["-l", `${src}.ansf`]);
    expect(table.status).toBe(0);
    const text = table.stdout.toString();
    expect(text).toMatch(/^tensor\s+dtype\s+shape\s+k\s+context\s+ratio\s+bits\/w\s+bound$/m);
    expect(text).toMatch(/^model\.embed_tokens\.weight\s+bf16\s+\[512,64\]\s+\d\s+(-|(row|lane)x[2-8])\s+\d/m);
    const json = JSON.parse(run(["-l", "--json", `${src}.ansf`]).stdout.toString());
    expect(json.source).toBe("safetensors");
    expect(json.segments).toHaveLength(48);
    expect(json.segments[0].name).toBe("(header)");
    for (const c of json.segments.flatMap((s: { chunks: { mode: string; context: string; groups: number }[] }) => s.chunks)) {
      expect(c.context === "none").toBe(c.mode !== "context");
      expect(c.groups > 1).toBe(c.mode === "context");
    }
    expect(json.bytes).toBe(525192);
  });

  it("prints compression statistics as JSON", () => {
    const r = run(["--json", "-c", src]);
    expect(r.status).toBe(0);
    // -c sends the stream to stdout, so the statistics go to stderr.
    expect(r.stdout.equals(Buffer.from(compress(original)))).toBe(true);
    const stats = JSON.parse(r.stderr);
    expect(stats.bytes).toBe(525192);
    expect(stats.ratio).toBeGreaterThan(1.5);
  });

  it("compresses a raw array with --raw --dtype", () => {
    const raw = join(dir, "weights.bin");
    writeFileSync(raw, original.subarray(original.length - 65536));
    expect(run(["--raw", "--dtype", "bf16", raw]).status).toBe(0);
    expect(run(["-d", "-c", `${raw}.ansf`]).stdout.equals(original.subarray(original.length - 65536))).toBe(true);
  });

  it("rejects bad usage with exit 1 and one line", () => {
    // Usage errors end with their code, as every other error line does.
    expect(run([]).stderr).toBe("ansfloat: no input file (try --help) [BAD_ARGUMENT]\n");
    expect(run(["-o", "x.ansf", src, src]).stderr).toBe("ansfloat: -o takes one input file [BAD_ARGUMENT]\n");
    expect(run(["--bogus", src]).stderr).toMatch(/^ansfloat: Unknown option '--bogus'.* \[BAD_ARGUMENT\]\n$/);
    expect(run([dir]).stderr).toBe(`ansfloat: ${dir} is a directory (use -r) [BAD_ARGUMENT]\n`);
    const noSuffix = run(["-d", src]);
    expect(noSuffix.status).toBe(1);
    expect(noSuffix.stderr).toContain("unknown suffix");
    const missing = run([join(dir, "nope.safetensors")]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/nope\.safetensors: .*no such file/i);
    expect(run(["--help"]).stdout.toString()).toContain("Usage: ansfloat");
  });
});

describe("ansfloat CLI streams, threads and GGUF", () => {
  const dir = mkdtempSync(join(tmpdir(), "ansfloat-cli2-"));
  const original = readFileSync(FIXTURE);

  it("reads standard input and writes standard output with -", () => {
    const packed = spawnSync(process.execPath, [CLI, "-q", "-"], { input: original });
    expect(packed.status).toBe(0);
    expect(Buffer.from(packed.stdout).equals(Buffer.from(compress(original)))).toBe(true);
    const restored = spawnSync(process.execPath, [CLI, "-d", "-q", "-"], { input: packed.stdout });
    expect(restored.status).toBe(0);
    expect(Buffer.from(restored.stdout).equals(original)).toBe(true);
  });

  it("writes the same bytes with -T 1 and -T 2", () => {
    const one = run(["-c", "-T", "1", FIXTURE]).stdout;
    const two = run(["-c", "-T", "2", FIXTURE]).stdout;
    expect(one.equals(two)).toBe(true);
    expect(run(["-T", "0", FIXTURE]).stderr).toContain("-T takes a positive whole number");
  });

  const gguf = "../shared/data/llm/stories260K.bf16.gguf";
  it.skipIf(!existsSync(gguf))("round-trips a GGUF file byte for byte", () => {
    const src = join(dir, "model.gguf");
    copyFileSync(gguf, src);
    const r = run([src]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/model\.gguf: 524736 -> \d+ bytes \(1\.[45]\d+x/);
    expect(run(["-d", "-c", `${src}.ansf`]).stdout.equals(readFileSync(gguf))).toBe(true);
  });

  it("runs the hardware model through hw-sim", () => {
    const packed = join(dir, "m.ansf");
    writeFileSync(packed, compress(original));
    const r = run(["hw-sim", packed, "--json"]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout.toString());
    expect(report.bit_exact).toBe(true);
    expect(report.symbols).toBe(260032);
  });
});
