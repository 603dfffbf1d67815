import { expect } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The CLI runs as users run it: the compiled bin (npm install builds dist/).
export const CLI = "dist/src/cli.js";
export const FIXTURE = "fixtures/stories260K.bf16.safetensors";

/** Runs the CLI: exit status, stdout as bytes (streams) and stderr as text. */
export function runCli(args: string[]): { status: number; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "buffer" });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** A fresh scratch folder holding a copy of the fixture as model.safetensors; checks the CLI is built. */
export function scratchModel(prefix: string): { dir: string; src: string } {
  expect(existsSync(CLI), "dist/src/cli.js missing: run npm install (or npm run build)").toBe(true);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const src = join(dir, "model.safetensors");
  copyFileSync(FIXTURE, src);
  return { dir, src };
}
