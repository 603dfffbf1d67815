/**
 * Every failure ansfloat reports on purpose is an {@link AnsfError} with a
 * stable machine-readable `code`. Callers switch on `code`; the message is for
 * people and may change.
 */
export type AnsfErrorCode =
  | "BAD_MAGIC"
  | "UNSUPPORTED_VERSION"
  | "TRUNCATED"
  | "CORRUPT_STREAM"
  | "CHECKSUM_MISMATCH"
  | "BAD_SAFETENSORS"
  | "BAD_GGUF"
  | "BAD_ARGUMENT"
  | "BAD_FORMAT_DESCRIPTOR"
  | "TOO_LARGE"
  | "IO_ERROR"
  | "ABORTED";

export class AnsfError extends Error {
  readonly code: AnsfErrorCode;

  constructor(code: AnsfErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AnsfError";
    this.code = code;
  }
}

/** Throws `AnsfError(code, message)` unless `condition` holds. */
export function check(condition: boolean, code: AnsfErrorCode, message: string): asserts condition {
  if (!condition) throw new AnsfError(code, message);
}
