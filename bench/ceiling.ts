// What two threads can give at all, at this moment: the same synchronous
// decode, encode or compress loop run on one thread, then on two at once
// (the calling thread and a worker, sharing nothing), as aggregate throughput.
// On a shared or noisy machine the codec's own memory traffic and other
// processes cap this well below 2x; a thread-scaling result is only as good
// as this ceiling measured beside it.

import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { compress, decode, encode } from "../src/index.js";

interface Job {
  /** Decode or encode a bf16 tensor, or compress a whole safetensors file. */
  op: "decode" | "encode" | "compress";
  tensor: Uint8Array;
  ms: number;
}

/**
 * Calls before timing: the tensor loops are Wasm and warm at once; a file's
 * many small tensors run the encoder's JavaScript search, which V8 goes on
 * optimising for about ten calls of the CNN file.
 */
const WARM_CALLS = { decode: 3, encode: 3, compress: 12 };

/** Bytes of original data per millisecond over `ms` of back-to-back calls (after a warm-up). */
function rate({ op, tensor, ms }: Job): number {
  const packed = op === "decode" ? encode(tensor, { dtype: "bf16" }) : tensor;
  const out = new Uint8Array(tensor.length);
  const once = op === "decode" ? () => decode(packed, { out }) : op === "encode" ? () => encode(tensor, { dtype: "bf16" }) : () => compress(tensor);
  for (let i = 0; i < WARM_CALLS[op]; i++) once();
  let calls = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    once();
    calls++;
  }
  return (calls * tensor.length) / (performance.now() - start);
}

/** Aggregate MB/s of `op` on one thread and on two independent threads. */
export async function ceiling(op: Job["op"], tensor: Uint8Array, ms = 1500): Promise<{ one: number; two: number }> {
  const one = rate({ op, tensor, ms });
  const worker = new Worker(new URL(import.meta.url), { workerData: { op, tensor, ms } satisfies Job });
  const other = new Promise<number>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  // Both loops run at once for all but the worker's start-up (tens of milliseconds).
  const mine = rate({ op, tensor, ms });
  const two = mine + (await other);
  await worker.terminate();
  return { one: one / 1e3, two: two / 1e3 };
}

if (!isMainThread && parentPort) parentPort.postMessage(rate(workerData as Job));
