// Worker thread: the software (Wasm) decoder, decoding the chunks the
// verifier asks for while the main thread runs the hardware model.

import { parentPort, workerData } from "node:worker_threads";
import { decodeChunk } from "../chunk.js";
import { layoutById } from "../dtypes.js";
import { AnsfError } from "../errors.js";
import { Core } from "../wasm.js";
import type { WorkerReply, WorkerRequest } from "./wasm-side.js";

// The module arrives compiled: the worker instantiates it, it does not compile again.
const core = new Core((workerData as { module: WebAssembly.Module }).module);
const streams = new Map<number, Uint8Array>();
const port = parentPort!;

port.on("message", (request: WorkerRequest) => {
  if (request.type === "open") {
    streams.set(request.session, new Uint8Array(request.stream));
    return;
  }
  if (request.type === "close") {
    streams.delete(request.session);
    return;
  }
  const stream = streams.get(request.session)!;
  for (const c of request.chunks) {
    const layout = layoutById(c.layout);
    const out = new Uint8Array(c.n * layout.width);
    let reply: WorkerReply;
    try {
      decodeChunk(core, stream.subarray(c.offset, c.offset + c.length), layout, c.n, out, c.version);
      reply = { session: request.session, id: c.id, bytes: out };
    } catch (err) {
      const code = err instanceof AnsfError ? err.code : "INTERNAL";
      reply = { session: request.session, id: c.id, error: { code, message: (err as Error).message } };
    }
    port.postMessage(reply, reply.bytes ? [reply.bytes.buffer as ArrayBuffer] : []);
  }
});
