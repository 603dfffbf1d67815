// Checks of what callers pass to the public API, for JavaScript callers
// that TypeScript's types do not reach: a wrong argument is BAD_ARGUMENT
// naming it, not a TypeError from deep inside (or, for a string where bytes
// belong, a misleading TRUNCATED or CORRUPT_STREAM).

import { parseArgs, type ParseArgsConfig } from "node:util";
import { AnsfError } from "./errors.js";

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as { constructor?: { name?: string } }).constructor?.name ?? "an object";
}

/** `value` (a stream or a file's bytes) is a Uint8Array. */
export function requireBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new AnsfError("BAD_ARGUMENT", `${what} must be a Uint8Array, not ${kindOf(value)}`);
}

/** `value` (a tensor's elements) is a typed array or a DataView. */
export function requireView(value: unknown, what: string): asserts value is ArrayBufferView {
  if (!ArrayBuffer.isView(value)) throw new AnsfError("BAD_ARGUMENT", `${what} must be a typed array, not ${kindOf(value)}`);
}

/** `value` is an options object (a call that needs one, such as for a dtype). */
export function requireOptions(value: unknown, what: string): asserts value is object {
  if (typeof value !== "object" || value === null) throw new AnsfError("BAD_ARGUMENT", `${what} must be an object, not ${kindOf(value)}`);
}

/** `value` is a file or folder path. */
export function requirePath(value: unknown, what: string): asserts value is string {
  if (typeof value !== "string") throw new AnsfError("BAD_ARGUMENT", `${what} must be a path string, not ${kindOf(value)}`);
}

/** A command line parsed by node:util's parseArgs; an unknown or malformed option is a usage error, BAD_ARGUMENT. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new AnsfError("BAD_ARGUMENT", (err as Error).message, { cause: err });
  }
}
