/**
 * Every failure ansfloat reports on purpose is an {@link AnsfError} with a
 * stable machine-readable `code`. Callers switch on `code`; the message is for
 * people and may change.
 */
export const ANSF_ERROR_CODES = [
  "BAD_MAGIC",
  "UNSUPPORTED_VERSION",
  "TRUNCATED",
  "CORRUPT_STREAM",
  "CHECKSUM_MISMATCH",
  "BAD_SAFETENSORS",
  "BAD_GGUF",
  "BAD_ARGUMENT",
  "BAD_FORMAT_DESCRIPTOR",
  "TOO_LARGE",
  "IO_ERROR",
  "ABORTED",
] as const;

export type AnsfErrorCode = (typeof ANSF_ERROR_CODES)[number];

export class AnsfError extends Error {
  readonly code: AnsfErrorCode;

  constructor(code: AnsfErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AnsfError";
    this.code = code;
  }
}

/** How an AnsfError crosses a thread: structured clone drops an Error's class and own properties. */
export interface AnsfErrorMessage {
  ansfError: AnsfErrorCode;
  message: string;
}

export function toMessage(err: AnsfError): AnsfErrorMessage {
  return { ansfError: err.code, message: err.message };
}

/** The AnsfError a worker reported with {@link toMessage}; anything else unchanged. */
export function revive(err: unknown): unknown {
  const code = (err as Partial<AnsfErrorMessage> | null)?.ansfError;
  if (code !== undefined && ANSF_ERROR_CODES.includes(code)) return new AnsfError(code, (err as AnsfErrorMessage).message);
  return err;
}

/** A command line's report of a failure: what it concerns, the message and, for an AnsfError, its stable code. */
export function errorLine(err: unknown, subject?: string): string {
  const code = err instanceof AnsfError ? ` [${err.code}]` : "";
  return `ansfloat: ${subject === undefined ? "" : `${subject}: `}${(err as Error).message}${code}\n`;
}
