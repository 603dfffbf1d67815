import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { AnsfError } from "../src/errors.js";
import {
  dtypeBits,
  parseSafetensors,
  parseSafetensorsHeader,
  writeSafetensors,
  type SafetensorsDtype,
  type SafetensorsFile,
} from "../src/safetensors.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/stories260K.bf16.safetensors", import.meta.url));
const SHARED = fileURLToPath(new URL("../../shared/data/", import.meta.url));

/** The code of the AnsfError `fn` throws; fails the test on success or on any other error. */
function errorOf(fn: () => unknown): AnsfError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AnsfError);
    return err as AnsfError;
  }
  throw new Error("expected an AnsfError, but nothing was thrown");
}
const codeOf = (fn: () => unknown) => errorOf(fn).code;

/** A raw file: u64 LE length, the header text as given, then `dataBytes` zero bytes. */
function raw(header: string | object, dataBytes = 0): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

/** The tensors of a parsed file with their data, ready for writeSafetensors. */
function tensorsOf(file: Uint8Array, parsed: SafetensorsFile) {
  return parsed.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: file.subarray(t.begin, t.end) }));
}

/** Everything a parse says, with offsets made relative to the data region so layouts can be compared. */
function summary(parsed: SafetensorsFile) {
  return {
    metadata: parsed.metadata,
    tensors: parsed.tensors.map((t) => [t.name, t.dtype, t.shape, t.begin - parsed.dataStart, t.end - parsed.dataStart]),
  };
}

const bytesEqual = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

describe("dtypeBits", () => {
  it("gives bits per element, sub-byte types included", () => {
    expect(dtypeBits("F4")).toBe(4);
    expect(dtypeBits("F6_E2M3")).toBe(6);
    expect(dtypeBits("F6_E3M2")).toBe(6);
    expect(dtypeBits("BOOL")).toBe(8);
    expect(dtypeBits("F8_E8M0")).toBe(8);
    expect(dtypeBits("BF16")).toBe(16);
    expect(dtypeBits("F32")).toBe(32);
    expect(dtypeBits("C64")).toBe(64);
    expect(codeOf(() => dtypeBits("toString" as SafetensorsDtype))).toBe("BAD_ARGUMENT");
  });
});

describe("the stories260K fixture", () => {
  const file = new Uint8Array(readFileSync(FIXTURE));
  const parsed = parseSafetensors(file);

  it("has 47 tensors and 260,032 parameters, in data order", () => {
    expect(parsed.tensors).toHaveLength(47);
    const params = parsed.tensors.reduce((sum, t) => sum + t.shape.reduce((p, d) => p * d, 1), 0);
    expect(params).toBe(260_032);
    expect(parsed.headerLength).toBe(5120);
    expect(parsed.dataStart).toBe(5128);
    expect(parsed.tensors[0]).toEqual({ name: "model.embed_tokens.weight", dtype: "BF16", shape: [512, 64], begin: 5128, end: 5128 + 65536 });
    const q = parsed.tensors.find((t) => t.name === "model.layers.0.self_attn.q_proj.weight");
    expect(q?.shape).toEqual([64, 64]);
    const last = parsed.tensors[46]!;
    expect(last).toMatchObject({ name: "model.norm.weight", shape: [64], end: file.length });
    expect(parsed.tensors.every((t) => t.dtype === "BF16")).toBe(true);
    expect(parsed.metadata).toMatchObject({ dim: "64", n_layers: "5", vocab_size: "512" });
  });

  it("parses from the header prefix alone, given the file size", () => {
    const head = file.slice(0, parsed.dataStart);
    expect(parseSafetensorsHeader(head, file.length)).toEqual(parsed);
    expect(codeOf(() => parseSafetensorsHeader(head.subarray(0, 100), file.length))).toBe("BAD_ARGUMENT");
    expect(codeOf(() => parseSafetensorsHeader(head, file.length - 1))).toBe("TRUNCATED");
    expect(codeOf(() => parseSafetensorsHeader(head, file.length + 2))).toBe("BAD_SAFETENSORS");
  });

  it("survives write and re-parse with identical tensors, data and metadata", () => {
    // Not byte-identical: the fixture's header puts __metadata__ last, while
    // writeSafetensors puts it first, as the reference writer does. The rest
    // of the layout is the same (compact JSON, data order, space padding), so
    // the header has the same length and the data region is identical.
    const written = writeSafetensors(tensorsOf(file, parsed), parsed.metadata ?? undefined);
    expect(written.length).toBe(file.length);
    const again = parseSafetensors(written);
    expect(summary(again)).toEqual(summary(parsed));
    expect(bytesEqual(written.subarray(again.dataStart), file.subarray(parsed.dataStart))).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(written.subarray(8, again.dataStart)))).toEqual(
      JSON.parse(new TextDecoder().decode(file.subarray(8, parsed.dataStart))),
    );
  });
});

describe("shared real-model data", () => {
  const present = existsSync(SHARED);
  const files = present
    ? (readdirSync(SHARED, { recursive: true }) as string[]).filter((f) => f.endsWith(".safetensors")).sort()
    : [];

  it.skipIf(!present)(`parses and rewrites every *.safetensors under ${SHARED}${present ? "" : " (skipped: directory absent)"}`, () => {
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const file = new Uint8Array(readFileSync(SHARED + f));
      const parsed = parseSafetensors(file);
      expect(parsed.tensors.length, f).toBeGreaterThan(0);
      expect(parsed.tensors.at(-1)!.end, f).toBe(file.length);
      const written = writeSafetensors(tensorsOf(file, parsed), parsed.metadata ?? undefined);
      const again = parseSafetensors(written);
      expect(summary(again), f).toEqual(summary(parsed));
      expect(bytesEqual(written.subarray(again.dataStart), file.subarray(parsed.dataStart)), f).toBe(true);
      // Without __metadata__ nothing differs in layout, so the bytes must match exactly.
      if (parsed.metadata === null) expect(bytesEqual(written, file), f).toBe(true);
    }
  });
});

describe("writeSafetensors", () => {
  it("round-trips every kind of tensor, odd names included", () => {
    const tensors = [
      { name: "w", dtype: "F32" as const, shape: [2, 3], data: Uint8Array.from({ length: 24 }, (_, i) => i) },
      { name: "0", dtype: "BF16" as const, shape: [1], data: new Uint8Array([1, 2]) },
      { name: "__proto__", dtype: "F4" as const, shape: [3], data: new Uint8Array([0xab, 0x0c]) }, // 12 bits -> 2 bytes
      { name: "toString", dtype: "F6_E3M2" as const, shape: [5], data: new Uint8Array(4) }, // 30 bits -> 4 bytes
      { name: "empty", dtype: "I64" as const, shape: [4, 0], data: new Uint8Array(0) },
      { name: "scalar", dtype: "U8" as const, shape: [], data: new Uint8Array([7]) },
      { name: 'quote " and \\ and é ✓', dtype: "BOOL" as const, shape: [2], data: new Uint8Array([0, 1]) },
    ];
    const meta = { format: "pt", "": "empty key", w: "a value that is also a tensor name" };
    const file = writeSafetensors(tensors, meta);
    const parsed = parseSafetensors(file);
    expect(parsed.headerLength % 8).toBe(0);
    expect(parsed.metadata).toEqual(meta);
    expect(parsed.tensors.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
    let at = parsed.dataStart;
    parsed.tensors.forEach((t, i) => {
      expect(t).toMatchObject({ dtype: tensors[i]!.dtype, shape: tensors[i]!.shape, begin: at });
      expect(bytesEqual(file.subarray(t.begin, t.end), tensors[i]!.data)).toBe(true);
      at = t.end;
    });
    expect(at).toBe(file.length);
    // Header key order is the given order too ("0" is not hoisted as an object would).
    const text = new TextDecoder().decode(file.subarray(8, parsed.dataStart));
    expect(text.indexOf('"__metadata__"')).toBe(1);
    expect(text.indexOf('"w"')).toBeLessThan(text.indexOf('"0"'));
    expect(text.endsWith("}") || /} +$/.test(text)).toBe(true);
  });

  it("writes an empty file with an empty data region", () => {
    const file = writeSafetensors([]);
    expect(Array.from(file)).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 32, 32, 32, 32, 32, 32]);
    expect(parseSafetensors(file)).toEqual({ headerLength: 8, dataStart: 16, metadata: null, tensors: [] });
  });

  it("refuses bad arguments", () => {
    const t = { name: "a", dtype: "U8" as const, shape: [2], data: new Uint8Array(2) };
    expect(codeOf(() => writeSafetensors([t, t]))).toBe("BAD_ARGUMENT");
    expect(codeOf(() => writeSafetensors([{ ...t, name: "__metadata__" }]))).toBe("BAD_ARGUMENT");
    expect(codeOf(() => writeSafetensors([{ ...t, shape: [3] }]))).toBe("BAD_ARGUMENT");
    expect(codeOf(() => writeSafetensors([{ ...t, shape: [-2] }]))).toBe("BAD_ARGUMENT");
    expect(codeOf(() => writeSafetensors([{ ...t, dtype: "F128" as SafetensorsDtype }]))).toBe("BAD_ARGUMENT");
    expect(codeOf(() => writeSafetensors([t], { n: 5 as unknown as string }))).toBe("BAD_ARGUMENT");
  });
});

describe("bad input", () => {
  const x = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });
  const bad = (header: string | object, dataBytes = 0) => codeOf(() => parseSafetensors(raw(header, dataBytes)));
  const message = (header: string | object, dataBytes = 0) => errorOf(() => parseSafetensors(raw(header, dataBytes))).message;

  it("accepts the minimal valid files these cases are variations of", () => {
    expect(parseSafetensors(raw({ a: x("F32", [2], [0, 8]) }, 8)).tensors).toHaveLength(1);
    expect(parseSafetensors(raw({}, 0)).tensors).toEqual([]);
    expect(parseSafetensors(raw(' \n{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}  ')).tensors[0]).toMatchObject({ shape: [0] });
  });

  it("truncated length prefix", () => {
    expect(codeOf(() => parseSafetensors(new Uint8Array(0)))).toBe("TRUNCATED");
    expect(codeOf(() => parseSafetensors(new Uint8Array([8, 0, 0])))).toBe("TRUNCATED");
  });

  it("header longer than the file, or over 100 MB", () => {
    const file = raw({}, 0);
    expect(codeOf(() => parseSafetensors(file.subarray(0, file.length - 1)))).toBe("TRUNCATED");
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 100_000_001n, true);
    expect(codeOf(() => parseSafetensors(huge))).toBe("BAD_SAFETENSORS");
    new DataView(huge.buffer).setBigUint64(0, 0xffff_ffff_ffff_ffffn, true);
    expect(codeOf(() => parseSafetensors(huge))).toBe("BAD_SAFETENSORS");
  });

  it("header that is not UTF-8 JSON", () => {
    expect(bad("hello")).toBe("BAD_SAFETENSORS");
    expect(bad("")).toBe("BAD_SAFETENSORS");
    expect(bad('{"a":')).toBe("BAD_SAFETENSORS");
    expect(bad("\ufeff{}")).toBe("BAD_SAFETENSORS"); // a byte-order mark is not JSON whitespace
    expect(bad("{}\0\0")).toBe("BAD_SAFETENSORS"); // padding must be spaces
    const invalid = raw("{}");
    invalid[9] = 0xff;
    expect(codeOf(() => parseSafetensors(invalid))).toBe("BAD_SAFETENSORS");
    expect(message("hello").split("\n")).toHaveLength(1);
  });

  it("top level that is not an object", () => {
    expect(bad("[]")).toBe("BAD_SAFETENSORS");
    expect(bad("null")).toBe("BAD_SAFETENSORS");
    expect(bad('"x"')).toBe("BAD_SAFETENSORS");
    expect(message("[]")).toBe("header is JSON an array, not an object");
  });

  it("malformed tensor entries", () => {
    expect(bad({ a: 5 })).toBe("BAD_SAFETENSORS");
    expect(bad({ a: [] })).toBe("BAD_SAFETENSORS");
    expect(bad({ a: { dtype: "U8", shape: [0] } })).toBe("BAD_SAFETENSORS");
    expect(bad({ a: { ...x("U8", [0], [0, 0]), extra: 1 } })).toBe("BAD_SAFETENSORS");
    expect(bad({ a: x("U8", [-1], [0, 0]) })).toBe("BAD_SAFETENSORS");
    expect(bad({ a: x("U8", [1.5], [0, 0]) })).toBe("BAD_SAFETENSORS");
    expect(bad({ a: x("U8", ["2"], [0, 2]) }, 2)).toBe("BAD_SAFETENSORS");
    expect(bad({ a: x("U8", 2, [0, 2]) }, 2)).toBe("BAD_SAFETENSORS");
    expect(bad({ a: x("U8", [2], [0, 2, 4]) }, 2)).toBe("BAD_SAFETENSORS");
    expect(bad({ a: x("U8", [2], [-2, 0]) }, 2)).toBe("BAD_SAFETENSORS");
    expect(bad({ a: x("U8", [2], [0, 2 ** 53]) }, 2)).toBe("BAD_SAFETENSORS");
    expect(bad({ a: x("U8", [2], "0-2") }, 2)).toBe("BAD_SAFETENSORS");
    expect(message({ a: { dtype: "U8", shape: [0] } })).toBe('tensor "a" must have exactly dtype, shape and data_offsets, not dtype, shape');
  });

  it("unknown dtype", () => {
    expect(bad({ a: x("F128", [1], [0, 16]) }, 16)).toBe("BAD_SAFETENSORS");
    expect(bad({ a: x("toString", [1], [0, 1]) }, 1)).toBe("BAD_SAFETENSORS");
    expect(bad({ a: x("f32", [1], [0, 4]) }, 4)).toBe("BAD_SAFETENSORS");
    expect(message({ a: x("F128", [1], [0, 16]) }, 16)).toBe('tensor "a": unknown dtype "F128"');
  });

  it("shape and byte count that disagree", () => {
    expect(bad({ a: x("F32", [2], [0, 6]) }, 6)).toBe("BAD_SAFETENSORS");
    expect(message({ a: x("F32", [2], [0, 6]) }, 6)).toBe('tensor "a": F32 [2] takes 8 bytes but data_offsets [0, 6] span 6');
    // Sub-byte dtypes round up to whole bytes: 3 x F4 = 12 bits = 2 bytes.
    expect(bad({ a: x("F4", [3], [0, 1]) }, 1)).toBe("BAD_SAFETENSORS");
    expect(parseSafetensors(raw({ a: x("F4", [3], [0, 2]) }, 2)).tensors).toHaveLength(1);
    // A product past 2^64 must be refused, not wrapped or rounded into agreement.
    expect(bad({ a: x("U8", [2 ** 53 - 1, 2 ** 53 - 1, 0x10000], [0, 0]) })).toBe("BAD_SAFETENSORS");
  });

  it("reversed offsets", () => {
    expect(bad({ a: x("U8", [2], [10, 8]) }, 10)).toBe("BAD_SAFETENSORS");
    expect(message({ a: x("U8", [2], [10, 8]) }, 10)).toBe('tensor "a": data_offsets [10, 8] are reversed');
  });

  it("overlapping tensors", () => {
    const header = { a: x("U8", [4], [0, 4]), b: x("U8", [4], [2, 6]) };
    expect(bad(header, 6)).toBe("BAD_SAFETENSORS");
    expect(message(header, 6)).toBe('tensor "b": data_offsets [2, 6] overlap tensor "a", which ends at 4');
    expect(bad({ a: x("U8", [4], [0, 4]), b: x("U8", [4], [0, 4]) }, 4)).toBe("BAD_SAFETENSORS");
    // An empty tensor inside another still overlaps it.
    expect(bad({ a: x("U8", [4], [0, 4]), e: x("U8", [0], [2, 2]) }, 4)).toBe("BAD_SAFETENSORS");
    // ...but empty tensors at the boundaries are fine.
    expect(parseSafetensors(raw({ a: x("U8", [4], [0, 4]), e: x("U8", [0], [4, 4]), f: x("U8", [0], [0, 0]) }, 4)).tensors.map((t) => t.name)).toEqual(["f", "a", "e"]);
  });

  it("holes and trailing bytes", () => {
    const header = { a: x("U8", [4], [0, 4]), b: x("U8", [4], [6, 10]) };
    expect(bad(header, 10)).toBe("BAD_SAFETENSORS");
    expect(message(header, 10)).toBe('data bytes [4, 6) before tensor "b" belong to no tensor');
    expect(bad({ a: x("U8", [4], [2, 6]) }, 6)).toBe("BAD_SAFETENSORS");
    expect(bad({ a: x("U8", [4], [0, 4]) }, 5)).toBe("BAD_SAFETENSORS");
    expect(bad({}, 1)).toBe("BAD_SAFETENSORS");
  });

  it("offsets past the end of the file: TRUNCATED, since a consistent header over a short file is exactly a cut-off file", () => {
    expect(bad({ a: x("U8", [4], [0, 4]) }, 3)).toBe("TRUNCATED");
    expect(bad({ a: x("U8", [2 ** 40], [0, 2 ** 40]) }, 0)).toBe("TRUNCATED");
    expect(message({ a: x("U8", [4], [0, 4]) }, 3)).toBe("tensors need 4 data bytes but the file holds only 3");
  });

  it("duplicate names, found although JSON.parse would keep only the last", () => {
    const t = '{"dtype":"U8","shape":[2],"data_offsets":[0,2]}';
    expect(bad(`{"a":${t},"a":${t}}`, 2)).toBe("BAD_SAFETENSORS");
    expect(message(`{"a":${t},"a":${t}}`, 2)).toBe('duplicate tensor name "a"');
    // The same name spelled with an escape is still the same name.
    expect(message(`{"a":${t},"\\u0061":${t}}`, 2)).toBe('duplicate tensor name "a"');
    expect(bad(`{"__metadata__":{},"__metadata__":{},"a":${t}}`, 2)).toBe("BAD_SAFETENSORS");
    expect(message(`{"a":{"dtype":"U8","dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, 2)).toBe('duplicate key "dtype" in "a"');
    expect(message(`{"__metadata__":{"k":"1","k":"2"}}`)).toBe('duplicate key "k" in "__metadata__"');
    // Keys equal to values or to keys of other objects are not duplicates.
    const ok = `{"__metadata__":{"a":"a","b\\"":"a"},"a":${t},"b\\"":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}}`;
    expect(parseSafetensors(raw(ok, 2)).tensors.map((x) => x.name)).toEqual(["a", 'b"']);
  });

  it("bad __metadata__", () => {
    expect(bad({ __metadata__: { n: 5 } })).toBe("BAD_SAFETENSORS");
    expect(message({ __metadata__: { n: 5 } })).toBe('__metadata__ value of "n" is a number, not a string');
    expect(bad({ __metadata__: ["a"] })).toBe("BAD_SAFETENSORS");
    expect(bad({ __metadata__: null })).toBe("BAD_SAFETENSORS");
    expect(bad({ __metadata__: "pt" })).toBe("BAD_SAFETENSORS");
    expect(bad({ __metadata__: { n: { deep: "x" } } })).toBe("BAD_SAFETENSORS");
  });

  const small = writeSafetensors(
    [
      { name: "a", dtype: "BF16", shape: [2, 3], data: Uint8Array.from({ length: 12 }, (_, i) => i + 1) },
      { name: "b", dtype: "U8", shape: [0], data: new Uint8Array(0) },
      { name: "c", dtype: "F4", shape: [5], data: new Uint8Array([0x12, 0x34, 0x05]) },
    ],
    { k: "v" },
  );

  it("every truncation of a small file is TRUNCATED", () => {
    expect(parseSafetensors(small).tensors).toHaveLength(3);
    for (let len = 0; len < small.length; len++) {
      expect(codeOf(() => parseSafetensors(small.subarray(0, len))), `prefix of ${len} bytes`).toBe("TRUNCATED");
    }
  });

  it("any single damaged header byte parses or fails with BAD_SAFETENSORS / TRUNCATED, never anything else", () => {
    const { dataStart } = parseSafetensors(small);
    for (let at = 0; at < dataStart; at++) {
      for (const value of [0x00, 0x20, 0x22, 0x2c, 0x30, 0x39, 0x3a, 0x5b, 0x5c, 0x5d, 0x7b, 0x7d, 0xff, small[at]! ^ 1]) {
        const damaged = small.slice();
        damaged[at] = value;
        try {
          parseSafetensors(damaged);
        } catch (err) {
          expect(err, `byte ${at} = ${value}`).toBeInstanceOf(AnsfError);
          expect(["BAD_SAFETENSORS", "TRUNCATED"], `byte ${at} = ${value}`).toContain((err as AnsfError).code);
        }
      }
    }
  });
});
