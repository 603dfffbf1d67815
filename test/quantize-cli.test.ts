import { beforeAll, describe, expect, it } from "vitest";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decompress, quantizeFile } from "../src/index.js";
import { FIXTURE, runCli, scratchModel } from "./cli-harness.js";

/** The CLI with its stdout as text: quantize prints reports. */
function run(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = runCli(args);
  return { ...r, stdout: r.stdout.toString() };
}

describe("ansfloat quantize", () => {
  let dir: string;
  let src: string;
  const original = readFileSync(FIXTURE);

  beforeAll(() => {
    ({ dir, src } = scratchModel("ansfloat-quantize-"));
  });

  it("writes model.FORMAT.safetensors.ansf, reports every tensor, and -d restores the quantised file", async () => {
    const r = run(["quantize", "--format", "fp8-e4m3", src]);
    expect(r.status).toBe(0);
    const out = join(dir, "model.fp8-e4m3.safetensors.ansf");
    expect(r.stdout).toMatch(/^tensor\s+elements\s+scale\s+max abs\s+RMS\s+rel RMS\s+max rel\s+bits\/w$/m);
    expect(r.stdout).toMatch(/^model\.embed_tokens\.weight\s+32768\s+1\s/m);
    expect(r.stdout).toMatch(/^\(total\)\s+260032\s/m);
    expect(r.stdout).toContain(`${src} -> ${out}: fp8-e4m3, `);
    expect(readFileSync(src).equals(original)).toBe(true);
    const { stream } = await quantizeFile(original, { format: "fp8-e4m3", threads: 1 });
    expect(readFileSync(out).equals(Buffer.from(stream))).toBe(true);
    expect(run(["-d", out]).status).toBe(0);
    expect(readFileSync(join(dir, "model.fp8-e4m3.safetensors")).equals(Buffer.from(decompress(stream)))).toBe(true);

    const again = run(["quantize", "--format", "fp8-e4m3", src]);
    expect(again.status).toBe(1);
    expect(again.stderr).toBe(`ansfloat: ${src}: ${out} already exists (use -f to overwrite) [IO_ERROR]\n`);
    expect(run(["quantize", "-q", "-f", "--format", "fp8-e4m3", src])).toEqual({ status: 0, stdout: "", stderr: "" });
  });

  it("prints the report as JSON, honours -o and --scale, and accepts a descriptor file", () => {
    const desc = join(dir, "int3.json");
    writeFileSync(desc, JSON.stringify({
      name: "int3",
      bits: 3,
      signed: "twos-complement",
      codes: [
        { code: 0, kind: "zero", sign: "positive" },
        { code: 1, kind: "int", scale: 0, extraBits: 0 },
        { code: 2, kind: "int", scale: 1, extraBits: 1 },
        { code: 3, kind: "int", scale: 2, sign: "negative" },
      ],
    }));
    const out = join(dir, "q.ansf");
    const r = run(["quantize", "--json", "--format", desc, "--scale", "auto", "-o", out, src]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.format).toBe("int3");
    expect(report.output).toBe(out);
    expect(report.tensors).toHaveLength(47);
    expect(report.total.elements).toBe(260032);
    expect(report.total.bitsPerWeight).toBeGreaterThan(0);
    expect(report.total.bitsPerWeight).toBeLessThan(3);
    for (const t of report.tensors) expect(Number.isInteger(Math.log2(t.scale))).toBe(true);
    expect(run(["-t", out]).status).toBe(0);
  });

  it("refuses bad formats and usage with one line and exit 1, leaving nothing behind", () => {
    const before = readdirSync(dir).sort();
    const bad = join(dir, "bad.json");
    writeFileSync(bad, "{ not json");
    expect(run(["quantize", "--format", bad, src]).stderr).toMatch(new RegExp(`^ansfloat: ${bad}: format descriptor is not valid JSON: .+ \\[BAD_FORMAT_DESCRIPTOR\\]\\n$`));
    const invalid = join(dir, "invalid.json");
    writeFileSync(invalid, JSON.stringify({ name: "x", bits: 4, signed: "sign-magnitude", codes: [{ code: 1, kind: "zero" }] }));
    expect(run(["quantize", "--format", invalid, src]).stderr).toBe(
      `ansfloat: ${invalid}: format "x": codes must be numbered 0..0 without gaps; code 0 is missing [BAD_FORMAT_DESCRIPTOR]\n`,
    );
    expect(run(["quantize", "--format", "fp7", src]).stderr).toMatch(/^ansfloat: unknown format "fp7": built-ins are fp32, .+ \[BAD_ARGUMENT\]\n$/);
    expect(run(["quantize", src]).stderr).toBe("ansfloat: quantize needs --format NAME or --format FILE.json [BAD_ARGUMENT]\n");
    expect(run(["quantize", "--format", "int8", "--scale", "0", src]).stderr).toBe('ansfloat: --scale takes a positive number or auto, not "0" [BAD_ARGUMENT]\n');
    const r = run(["quantize", "--format", "int8", join(dir, "bad.json")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bad\.json: .+ \[BAD_SAFETENSORS\]\n$/);
    expect(readdirSync(dir).sort()).toEqual(before.concat(["bad.json", "invalid.json"]).sort());
  });
});
