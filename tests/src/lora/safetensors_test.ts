import assert from "node:assert/strict";
import {
  encodeSafetensors,
  float32Tensor,
  parseSafetensors,
  SAFETENSORS_DTYPES,
  SAFETENSORS_MAX_HEADER_BYTES,
  SafetensorsError,
  type SafetensorsErrorCode,
  type SafetensorsTensor,
  tensorToFloat32,
} from "../../../mod.ts";

/** A file with the given header text (or object) and data section. */
function rawFile(
  header: string | object,
  data: Uint8Array = new Uint8Array(0),
  declaredLength?: bigint,
): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === "string" ? header : JSON.stringify(header),
  );
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function assertRejects(bytes: Uint8Array, code: SafetensorsErrorCode, message: RegExp): void {
  assert.throws(() => parseSafetensors(bytes), (error: unknown) => {
    assert.ok(error instanceof SafetensorsError, `expected SafetensorsError, got ${error}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

const f32Entry = (start: number, end: number, shape: number[] = [(end - start) / 4]) => ({
  dtype: "F32",
  shape,
  data_offsets: [start, end],
});

Deno.test("reads the reference implementation's file and re-encodes it byte for byte", async () => {
  const bytes = await Deno.readFile(new URL("./fixtures/reference.safetensors", import.meta.url));
  const file = parseSafetensors(bytes);
  assert.deepEqual(file.metadata, { note: 'café "quoted"\n\u0001' });
  assert.deepEqual([...file.tensors.keys()], [
    "10",
    "scalar",
    "empty",
    "weights.f32",
    "weights.f16",
    "ids",
    "bytes",
    "9",
  ]);
  const f32 = tensorToFloat32(file.tensors.get("weights.f32")!);
  assert.equal(f32[0], 1);
  assert.equal(f32[1], -2.5);
  assert.deepEqual(file.tensors.get("scalar")!.shape, []);
  assert.deepEqual(file.tensors.get("empty")!.shape, [0, 3]);
  assert.equal(file.tensors.get("empty")!.data.length, 0);
  assert.deepEqual([...new Int16Array(file.tensors.get("ids")!.data.slice().buffer)], [-1, 2, -3]);

  // numpy's float16 casts (round to nearest, ties to even) equal ours bit for bit.
  const halves = float32Tensor(f32, [2, 8], "F16");
  assert.deepEqual(halves.data, file.tensors.get("weights.f16")!.data);

  assert.deepEqual(encodeSafetensors(file.tensors, file.metadata), bytes);
});

Deno.test("encode → parse → encode is bit-exact for every dtype", () => {
  const tensors: Record<string, SafetensorsTensor> = {};
  let seed = 7;
  for (const [index, dtype] of SAFETENSORS_DTYPES.entries()) {
    const shape = [index % 3 + 1, 3];
    const bytesPer = /64$/.test(dtype) ? 8 : /32$/.test(dtype) ? 4 : /16$/.test(dtype) ? 2 : 1;
    const data = new Uint8Array(shape[0] * shape[1] * bytesPer).map(() => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed >>> 16;
    });
    tensors[`layer.${index}.${dtype.toLowerCase()}`] = { dtype, shape, data };
  }
  // A float32 NaN with a payload survives untouched.
  tensors.nan = { dtype: "F32", shape: [1], data: Uint8Array.of(0x01, 0x02, 0xc0, 0x7f) };
  const metadata = { format: "pt", "2": "integer-like key", lora_alpha: "16", ünïcode: "✓" };
  const bytes = encodeSafetensors(tensors, metadata);
  const file = parseSafetensors(bytes);
  assert.deepEqual(file.metadata, metadata);
  assert.equal(file.tensors.size, Object.keys(tensors).length);
  for (const [name, tensor] of Object.entries(tensors)) {
    const parsed = file.tensors.get(name)!;
    assert.equal(parsed.dtype, tensor.dtype);
    assert.deepEqual(parsed.shape, tensor.shape);
    assert.deepEqual(parsed.data, tensor.data, name);
  }
  assert.deepEqual(encodeSafetensors(file.tensors, file.metadata), bytes);
  assert.deepEqual(encodeSafetensors(new Map(Object.entries(tensors)), metadata), bytes);
});

Deno.test("the writer pads the header with spaces to a multiple of 8 and sorts canonically", () => {
  const bytes = encodeSafetensors(
    {
      b: float32Tensor([1], [1], "F16"),
      a: float32Tensor([1], [1], "F16"),
      c: float32Tensor([2], []),
    },
    { z: "1", a: "2" },
  );
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLength % 8, 0);
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
  assert.equal(
    header.trimEnd(),
    '{"__metadata__":{"a":"2","z":"1"},' +
      '"c":{"dtype":"F32","shape":[],"data_offsets":[0,4]},' +
      '"a":{"dtype":"F16","shape":[1],"data_offsets":[4,6]},' +
      '"b":{"dtype":"F16","shape":[1],"data_offsets":[6,8]}}',
  );
  assert.match(header, /^[^ ]*} *$/);
  assert.equal(bytes.length, 8 + headerLength + 8);
  // No metadata: no __metadata__ key at all.
  const bare = new TextDecoder().decode(encodeSafetensors({ c: float32Tensor([2], []) }));
  assert.doesNotMatch(bare, /__metadata__/);
});

Deno.test("F16 decodes to hand-computed values", () => {
  const bits = [
    0x3c00,
    0xc000,
    0x7bff,
    0x0001,
    0x03ff,
    0x0400,
    0x3555,
    0x7c00,
    0xfc00,
    0x8000,
    0x7e00,
  ];
  const expected = [
    1,
    -2,
    65504,
    2 ** -24,
    1023 * 2 ** -24,
    2 ** -14,
    1365 / 4096,
    Infinity,
    -Infinity,
    -0,
    NaN,
  ];
  const data = new Uint8Array(new Uint16Array(bits).buffer);
  const values = tensorToFloat32({ dtype: "F16", shape: [bits.length], data });
  assert.deepEqual([...values], expected);
  assert.ok(Object.is(values[9], -0));
});

Deno.test("BF16 decodes to hand-computed values", () => {
  const bits = [0x3f80, 0xc000, 0x4049, 0x0001, 0x7f7f, 0x7f80, 0xff80, 0x8000, 0x7fc0];
  const expected = [1, -2, 3.140625, 2 ** -133, 255 * 2 ** 120, Infinity, -Infinity, -0, NaN];
  const data = new Uint8Array(new Uint16Array(bits).buffer);
  assert.deepEqual([...tensorToFloat32({ dtype: "BF16", shape: [3, 3], data })], expected);
});

Deno.test("F16 and BF16 encoding rounds to nearest, ties to even", () => {
  const halfBits = (values: number[], dtype: "F16" | "BF16") => [
    ...new Uint16Array(float32Tensor(values, [values.length], dtype).data.slice().buffer),
  ];
  assert.deepEqual(
    halfBits([
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      65504,
      65519,
      65520,
      2 ** -25,
      1.5 * 2 ** -25,
      -0,
      NaN,
    ], "F16"),
    [0x3c00, 0x3c02, 0x7bff, 0x7bff, 0x7c00, 0x0000, 0x0001, 0x8000, 0x7e00],
  );
  assert.deepEqual(
    halfBits([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, 3.4e38, -1e-45, NaN], "BF16"),
    [0x3f80, 0x3f82, 0x3f81, 0x7f80, 0x8000, 0x7fc0],
  );
});

Deno.test("tensorToFloat32 refuses non-float dtypes", () => {
  assert.throws(
    () => tensorToFloat32({ dtype: "I32", shape: [1], data: new Uint8Array(4) }),
    (error: unknown) =>
      error instanceof SafetensorsError && error.code === "unsupported_dtype" &&
      /cannot decode I32/.test(error.message),
  );
});

Deno.test("rejects truncated files", () => {
  assertRejects(new Uint8Array(5), "truncated", /5 bytes, shorter than the 8-byte header length/);
  const file = rawFile({ w: f32Entry(0, 16) }, new Uint8Array(16));
  assertRejects(
    file.subarray(0, file.length - 4),
    "offsets_out_of_bounds",
    /"w".*\[0, 16\].*12-byte data section/,
  );
  assertRejects(file.subarray(0, 20), "header_out_of_bounds", /past the end of the 20-byte file/);
});

Deno.test("rejects a header length beyond the file or over the cap", () => {
  assertRejects(
    rawFile("{}", new Uint8Array(0), 1000n),
    "header_out_of_bounds",
    /header length 1000/,
  );
  assertRejects(
    rawFile("{}", new Uint8Array(0), BigInt(SAFETENSORS_MAX_HEADER_BYTES + 1)),
    "header_too_large",
    /100000001 exceeds the 100000000-byte limit/,
  );
  assertRejects(
    rawFile("{}", new Uint8Array(0), 2n ** 64n - 1n),
    "header_too_large",
    /18446744073709551615/,
  );
});

Deno.test("rejects invalid UTF-8, invalid JSON and non-object headers", () => {
  const badUtf8 = rawFile("{}");
  badUtf8[9] = 0xff;
  assertRejects(badUtf8, "invalid_utf8", /not valid UTF-8/);
  assertRejects(rawFile('{"w": '), "invalid_json", /not valid JSON/);
  assertRejects(rawFile("[1, 2]"), "not_object", /JSON object/);
  assertRejects(rawFile('"text"'), "not_object", /JSON object/);
  assertRejects(rawFile(' {"leading": "space"}'), "not_object", /starting with "\{"/);
  assertRejects(rawFile("\ufeff{}"), "not_object", /starting with "\{"/);
});

Deno.test("rejects duplicate keys, however they are spelled", () => {
  const entry = JSON.stringify(f32Entry(0, 4));
  assertRejects(
    rawFile(`{"w":${entry},"w":${entry}}`, new Uint8Array(4)),
    "duplicate_key",
    /key "w" appears twice in the header/,
  );
  assertRejects(
    rawFile(`{"w":${entry},"\\u0077":${entry}}`, new Uint8Array(4)),
    "duplicate_key",
    /key "w" appears twice/,
  );
  assertRejects(
    rawFile(
      '{"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}',
      new Uint8Array(4),
    ),
    "duplicate_key",
    /key "dtype" appears twice inside "w"/,
  );
  assertRejects(
    rawFile('{"__metadata__":{"a":"1","b":"2","a":"3"}}'),
    "duplicate_key",
    /key "a" appears twice inside "__metadata__"/,
  );
  // Keys repeated across objects, as values, or inside strings are fine.
  const fine = rawFile(
    `{"__metadata__":{"w":"w","x":"{\\"w\\": 1, \\"w\\": 2}","y":"[\\"a\\",\\"a\\"]"},"w":${entry}}`,
    new Uint8Array(4),
  );
  assert.equal(parseSafetensors(fine).metadata.x, '{"w": 1, "w": 2}');
});

Deno.test("rejects overlapping offsets, gaps and out-of-bounds offsets", () => {
  const data = new Uint8Array(16);
  assertRejects(
    rawFile({ a: f32Entry(0, 8), b: f32Entry(4, 12), c: f32Entry(12, 16) }, data),
    "offsets_overlap",
    /"b" starts at byte 4 but tensor "a" ends at byte 8: the two overlap/,
  );
  assertRejects(
    rawFile({ a: f32Entry(0, 8), b: f32Entry(0, 8) }, new Uint8Array(8)),
    "offsets_overlap",
    /starts at byte 0 but tensor "a" ends at byte 8/,
  );
  assertRejects(
    rawFile({ a: f32Entry(0, 4), b: f32Entry(8, 16) }, data),
    "offsets_gap",
    /"b" starts at byte 8 but tensor "a" ends at byte 4: the bytes between are unused/,
  );
  assertRejects(
    rawFile({ a: f32Entry(4, 16) }, data),
    "offsets_gap",
    /starts at byte 4 but the start of the data section ends at byte 0/,
  );
  assertRejects(
    rawFile({ a: f32Entry(0, 12) }, data),
    "offsets_gap",
    /data section is 16 bytes but tensor "a" ends at byte 12/,
  );
  assertRejects(rawFile({}, Uint8Array.of(1)), "offsets_gap", /1 bytes but the start/);
  assertRejects(rawFile({ a: f32Entry(0, 20) }, data), "offsets_out_of_bounds", /\[0, 20\]/);
  for (const offsets of [[8, 4], [0], [0, -4], [0, 4.5], [0, "4"], "0,4", [0, 2 ** 53]]) {
    assertRejects(
      rawFile({ a: { dtype: "F32", shape: [1], data_offsets: offsets } }, data),
      "invalid_offsets",
      /"a" data_offsets must be \[start, end\]/,
    );
  }
});

Deno.test("rejects unknown and sub-byte dtypes", () => {
  for (const dtype of ["F33", "float32", "f32", "F4", 4, null]) {
    assertRejects(
      rawFile({ a: { dtype, shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)),
      "unsupported_dtype",
      /"a" has dtype .*; supported: BOOL, U8/,
    );
  }
});

Deno.test("rejects dtype × shape that disagrees with the byte length", () => {
  assertRejects(
    rawFile({ a: { dtype: "F32", shape: [2, 3], data_offsets: [0, 16] } }, new Uint8Array(16)),
    "length_mismatch",
    /"a" is F32 \[2, 3\], which needs 24 bytes, but holds 16/,
  );
  assertRejects(
    rawFile({ a: { dtype: "F16", shape: [4], data_offsets: [0, 16] } }, new Uint8Array(16)),
    "length_mismatch",
    /needs 8 bytes, but holds 16/,
  );
  assertRejects(
    rawFile({ a: { dtype: "F32", shape: [], data_offsets: [0, 0] } }, new Uint8Array(0)),
    "length_mismatch",
    /F32 \[\], which needs 4 bytes, but holds 0/,
  );
});

Deno.test("rejects shapes that are not lists of non-negative integers", () => {
  for (const shape of [[-1], [2.5], ["2"], [null], 4, [2 ** 53], null]) {
    assertRejects(
      rawFile({ a: { dtype: "F32", shape, data_offsets: [0, 8] } }, new Uint8Array(8)),
      "invalid_shape",
      /"a" shape must be a list of non-negative integers/,
    );
  }
});

Deno.test("rejects malformed entries and metadata", () => {
  assertRejects(rawFile({ a: [0, 4] }), "invalid_entry", /"a" must be an object.*an array/);
  assertRejects(
    rawFile({ a: { dtype: "F32", shape: [1] } }, new Uint8Array(4)),
    "invalid_entry",
    /exactly the fields dtype, shape, data_offsets; has dtype, shape/,
  );
  assertRejects(
    rawFile({ a: { ...f32Entry(0, 4), extra: 1 } }, new Uint8Array(4)),
    "invalid_entry",
    /has data_offsets, dtype, extra, shape/,
  );
  for (
    const [value, described] of [[1, "number 1"], [true, "boolean"], [null, "null"], [
      ["x"],
      "an array",
    ]]
  ) {
    assertRejects(
      rawFile({ __metadata__: { format: "pt", alpha: value } }),
      "invalid_metadata",
      new RegExp(`value for "alpha" must be a string, got ${described}`),
    );
  }
  assertRejects(
    rawFile({ __metadata__: "pt" }),
    "invalid_metadata",
    /must be an object of strings/,
  );
  assertRejects(rawFile({ __metadata__: null }), "invalid_metadata", /got null/);
});

Deno.test("the writer refuses what the reader would refuse", () => {
  const cases: [() => unknown, SafetensorsErrorCode, RegExp][] = [
    [() => float32Tensor([1, 2, 3], [2, 2]), "length_mismatch", /needs 16 bytes, but holds 12/],
    [
      () => encodeSafetensors({ a: { dtype: "F32", shape: [-1], data: new Uint8Array(0) } }),
      "invalid_shape",
      /"a"/,
    ],
    [
      () =>
        encodeSafetensors({ a: { dtype: "F31" as "F32", shape: [1], data: new Uint8Array(4) } }),
      "unsupported_dtype",
      /"F31"/,
    ],
    [
      () => encodeSafetensors({ __metadata__: float32Tensor([1], [1]) }),
      "invalid_entry",
      /cannot name a tensor/,
    ],
    [
      () => encodeSafetensors({}, { alpha: 4 as unknown as string }),
      "invalid_metadata",
      /"alpha" must be a string/,
    ],
  ];
  for (const [run, code, message] of cases) {
    assert.throws(
      run,
      (error: unknown) =>
        error instanceof SafetensorsError && error.code === code && message.test(error.message),
    );
  }
});

Deno.test("parsed tensors are views into the input bytes", () => {
  const bytes = encodeSafetensors({ w: float32Tensor([1, 2], [2]) });
  const tensor = parseSafetensors(bytes).tensors.get("w")!;
  assert.equal(tensor.data.buffer, bytes.buffer);
  assert.ok(Object.isFrozen(tensor));
});

Deno.test({
  name:
    "F16 conversions agree with the runtime's Float16Array on every half and 2^18 random floats",
  ignore: typeof Float16Array === "undefined",
  fn() {
    const everyHalf = new Uint16Array(65536).map((_, i) => i);
    const decoded = tensorToFloat32({
      dtype: "F16",
      shape: [65536],
      data: new Uint8Array(everyHalf.buffer),
    });
    assert.deepEqual([...decoded], [...new Float16Array(everyHalf.buffer)]);

    const randomBits = new Uint32Array(1 << 18);
    let state = 12345;
    for (let i = 0; i < randomBits.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      // Bias exponents toward the half range so rounding paths are exercised.
      randomBits[i] = i % 2 === 0 ? state : (state & 0x8fffffff) | 0x30000000;
    }
    const floats = new Float32Array(randomBits.buffer);
    const ours = new Uint16Array(float32Tensor(floats, [floats.length], "F16").data.slice().buffer);
    const runtime = new Uint16Array(Float16Array.from(floats).buffer);
    for (let i = 0; i < floats.length; i++) {
      if (Number.isNaN(floats[i])) assert.ok((ours[i] & 0x7fff) > 0x7c00, `NaN at ${i}`);
      else if (ours[i] !== runtime[i]) assert.fail(`${floats[i]}: ${ours[i]} ≠ ${runtime[i]}`);
    }
  },
});
