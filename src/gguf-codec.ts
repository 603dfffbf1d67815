// A GGUF file as segments: the header (metadata and tensor infos) verbatim,
// then each tensor in data order. F32, F16 and BF16 tensors become coding
// pairs; quantised blocks and the alignment padding between tensors are
// coded byte-wise (or stored, or deflated, whichever is smallest), so the
// restored file is byte-identical. The header is parsed by
// @huggingface/gguf, served from memory through its `fetch` hook, and
// loaded only when a GGUF file comes: importing it takes about 55 ms, more
// than half of what loading ansfloat takes otherwise.

import { layoutOf, type CodedDtype } from "./dtypes.js";
import { AnsfError } from "./errors.js";
import type { Reader } from "./io.js";
import type { SegmentPlan } from "./safetensors-codec.js";

export const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46]; // "GGUF"

/** GGML type ids of the float types coded as pairs. */
const CODED: Record<number, CodedDtype> = { 0: "fp32", 1: "fp16", 30: "bf16" };

export function isGguf(head: Uint8Array): boolean {
  return head.length >= 4 && GGUF_MAGIC.every((b, i) => head[i] === b);
}

/** Answers the parser's range requests from a Reader: no network, no whole-file read. */
function readerFetch(reader: Reader): typeof fetch {
  return (async (_url: unknown, init?: RequestInit) => {
    const range = /bytes=(\d+)-(\d*)/.exec(new Headers(init?.headers).get("range") ?? "");
    const start = range ? Math.min(Number(range[1]), reader.size) : 0;
    const end = range && range[2] ? Math.min(Number(range[2]) + 1, reader.size) : reader.size;
    return new Response(reader.read(start, end - start) as Uint8Array<ArrayBuffer>, { status: range ? 206 : 200, headers: { "content-length": String(end - start) } });
  }) as typeof fetch;
}

/** The segments of a GGUF file, each tensor with its name, in data order. */
export async function planGguf(reader: Reader): Promise<{ plans: SegmentPlan[]; names: string[] }> {
  const size = reader.size;
  const { gguf } = await import("@huggingface/gguf");
  let parsed: Awaited<ReturnType<typeof gguf>>;
  try {
    parsed = await gguf("https://in-memory/model.gguf", { fetch: readerFetch(reader) });
  } catch (err) {
    throw new AnsfError("BAD_GGUF", `not a readable GGUF file: ${(err as Error).message}`, { cause: err });
  }
  const dataStart = Number(parsed.tensorDataOffset);
  if (!(dataStart <= size)) throw new AnsfError("BAD_GGUF", `tensor data starts at ${dataStart}, past the end of the ${size}-byte file`);
  const tensors = parsed.tensorInfos
    .map((t) => ({ name: t.name, type: t.dtype as number, shape: t.shape.map(Number), begin: dataStart + Number(t.offset) }))
    .sort((a, b) => a.begin - b.begin);
  const plans: SegmentPlan[] = [{ begin: 0, end: dataStart, layout: layoutOf("u8"), shape: [] }];
  const names = ["(header)"];
  const bytesRun = (begin: number, end: number, name: string) => {
    if (end > begin) {
      plans.push({ begin, end, layout: layoutOf("u8"), shape: [] });
      names.push(name);
    }
  };
  tensors.forEach((t, i) => {
    const next = tensors[i + 1]?.begin ?? size;
    if (t.begin < plans[plans.length - 1]!.end || next > size || t.begin > next) {
      throw new AnsfError("BAD_GGUF", `tensor "${t.name}" at offset ${t.begin} overlaps another or lies outside the file`);
    }
    const coded = CODED[t.type];
    const elements = t.shape.reduce((a, b) => a * b, 1);
    const end = coded ? t.begin + elements * layoutOf(coded).width : next;
    if (end > next) throw new AnsfError("BAD_GGUF", `tensor "${t.name}" of ${elements} ${coded} elements overruns the next tensor`);
    if (coded) {
      // GGUF lists dimensions innermost first; safetensors and we list them outermost first.
      plans.push({ begin: t.begin, end, layout: layoutOf(coded), shape: [...t.shape].reverse() });
      names.push(t.name);
    } else {
      bytesRun(t.begin, end, t.name);
    }
    bytesRun(end, next, `(padding after ${t.name})`);
  });
  if (tensors.length === 0) bytesRun(dataStart, size, "(data)");
  return { plans, names };
}
