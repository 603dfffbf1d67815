// Where bytes come from and go to when a file is processed in pieces:
// positional reads from a file (or a buffer already in memory), and writes
// to a Node stream that respect its back-pressure.

import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { Writable } from "node:stream";
import { AnsfError } from "./errors.js";

/** Random access to the bytes of an input. */
export interface Reader {
  readonly size: number;
  /** Exactly `length` bytes from `position`, in a buffer of their own, or in the first `length` bytes of `into`. */
  read(position: number, length: number, into?: Uint8Array): Uint8Array;
  /** The open file behind a file reader: a worker thread can read its own pieces from it (readFully). */
  readonly file?: OpenFile | undefined;
  close(): void;
}

/** A file descriptor (valid in every thread of the process) and the path it was opened from, for messages. */
export interface OpenFile {
  fd: number;
  path: string;
}

/** Fills `into` with the bytes of `file` from `position`; a file that ends first is TRUNCATED. */
export function readFully(file: OpenFile, position: number, into: Uint8Array): Uint8Array {
  for (let done = 0; done < into.length; ) {
    let got: number;
    try {
      got = readSync(file.fd, into, done, into.length - done, position + done);
    } catch (err) {
      throw new AnsfError("IO_ERROR", `cannot read ${file.path}: ${(err as Error).message}`, { cause: err });
    }
    if (got === 0) throw new AnsfError("TRUNCATED", `${file.path} ends at ${position + done}, before ${position + into.length}`);
    done += got;
  }
  return into;
}

/** Refuses a read outside [0, size): positions worked out from a damaged stream may lie before its start as well as past its end. */
function checkRange(what: string, size: number, position: number, length: number): void {
  if (position < 0 || length < 0) throw new AnsfError("TRUNCATED", `${what} has no bytes [${position}, ${position + length})`);
  if (position + length > size) throw new AnsfError("TRUNCATED", `${what} ends at ${size}, before ${position + length}`);
}

export function memoryReader(bytes: Uint8Array): Reader {
  return {
    size: bytes.length,
    read(position, length, into) {
      checkRange("input", bytes.length, position, length);
      if (into) {
        into.set(bytes.subarray(position, position + length));
        return into.subarray(0, length);
      }
      // A copy even for a Buffer (whose slice() is a view): callers may transfer it.
      return Uint8Array.prototype.slice.call(bytes, position, position + length);
    },
    close() {},
  };
}

/** A file opened for reading, and its size; failing to open it (missing, a folder, no permission) is IO_ERROR. */
function openForReading(path: string): { file: OpenFile; size: number } {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error("not a regular file");
    return { file: { fd, path }, size: stat.size };
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    throw new AnsfError("IO_ERROR", `cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export function fileReader(path: string): Reader {
  const opened = openForReading(path);
  let file: OpenFile | undefined = opened.file;
  const size = opened.size;
  return {
    size,
    read(position, length, into) {
      if (!file) throw new AnsfError("BAD_ARGUMENT", `${path} is closed`);
      checkRange(path, size, position, length);
      return readFully(file, position, into ? into.subarray(0, length) : new Uint8Array(length));
    },
    get file() {
      return file;
    },
    close() {
      if (file) closeSync(file.fd);
      file = undefined;
    },
  };
}

/**
 * Writes `data`, waiting while the stream is over its high-water mark.
 * `written`, if given, runs once the stream is done with `data` (then its
 * buffer may be used again), not if the write fails.
 */
export async function writeAll(out: Writable, data: Uint8Array, written?: () => void): Promise<void> {
  if (out.write(data, written && ((err) => err || written()))) {
    // A stream that wrote at once (a file on stdout) calls back on the next
    // tick; a caller looping on promises alone would never let it run.
    if (written) await new Promise((resolve) => process.nextTick(resolve));
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const onDrain = () => {
      out.off("error", onError);
      resolve();
    };
    const onError = (err: Error) => {
      out.off("drain", onDrain);
      reject(new AnsfError("IO_ERROR", `write failed: ${err.message}`, { cause: err }));
    };
    out.once("drain", onDrain);
    out.once("error", onError);
  });
}

/** A Writable that gathers what is written, for streaming writers whose result is wanted in memory. */
export class MemorySink extends Writable {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  constructor() {
    super({ highWaterMark: 64 << 20 });
  }

  override _write(chunk: Uint8Array, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    // A copy: writers use a buffer again once its write has called back (stream.ts pools them).
    this.parts.push(Uint8Array.prototype.slice.call(chunk));
    this.length += chunk.length;
    done();
  }

  /** Everything written, as one buffer. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
