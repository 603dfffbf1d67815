import { AnsfError } from "../src/errors.js";

/** The AnsfError code `f` throws, or "NO_ERROR"; any other exception propagates. */
export function errorCode(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof AnsfError) return err.code;
    throw err;
  }
  return "NO_ERROR";
}
