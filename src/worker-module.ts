// Where a worker thread's module is, for code that runs both compiled
// (dist/src/**/*.js, the package and the CLI) and as TypeScript sources
// (tests under vitest, whose transform does not reach worker threads). For
// a .ts module the thread gets a small loader hook that strips types with
// the TypeScript compiler already in devDependencies (transpile only, per
// file), so workers always run the same sources as the thread that starts
// them, never a stale build.

import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

/** The URL of module `name` beside `base` (the caller's import.meta.url), and the execArgv a worker needs to load it. */
export function workerModule(base: string, name: string): { url: URL; execArgv: string[] } {
  const ts = base.endsWith(".ts");
  return { url: new URL(`./${name}${ts ? ".ts" : ".js"}`, base), execArgv: ts ? ["--import", tsHookRegistration()] : [] };
}

/** A data: URL module that registers a resolve/load hook running .ts files through ts.transpileModule. */
function tsHookRegistration(): string {
  const typescript = pathToFileURL(createRequire(import.meta.url).resolve("typescript")).href;
  const hooks = `
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
let ts;
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    // Sources import each other as ./x.js (NodeNext); under the sources that file is x.ts.
    if (err && err.code === "ERR_MODULE_NOT_FOUND" && specifier.endsWith(".js")) return next(specifier.slice(0, -3) + ".ts", context);
    throw err;
  }
}
export async function load(url, context, next) {
  if (!url.endsWith(".ts")) return next(url, context);
  ts ??= (await import(${JSON.stringify(typescript)})).default;
  const file = fileURLToPath(url);
  const source = await readFile(file, "utf8");
  const out = ts.transpileModule(source, { fileName: file, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  return { format: "module", source: out.outputText, shortCircuit: true };
}`;
  const register = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  return `data:text/javascript,${encodeURIComponent(register)}`;
}
