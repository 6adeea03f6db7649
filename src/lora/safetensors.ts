/**
 * A strict reader and canonical writer for the safetensors format: an 8-byte
 * little-endian header length `N`, `N` bytes of UTF-8 JSON mapping tensor
 * names to `{ dtype, shape, data_offsets }` (plus an optional `__metadata__`
 * object of strings), then the data section. Works on bytes only, so it runs
 * on any JavaScript runtime.
 *
 * The reader rejects, with a {@linkcode SafetensorsError} whose `code` names
 * the rule, anything the format does not allow: a header over
 * {@linkcode SAFETENSORS_MAX_HEADER_BYTES} or past the end of the file,
 * invalid UTF-8 or JSON, a header that is not an object, duplicate keys,
 * non-string metadata, unknown fields or dtypes, shapes that are not lists of
 * non-negative integers, byte lengths that disagree with dtype × shape, and
 * data offsets that are out of bounds, overlap or leave gaps.
 *
 * @module
 */

import {
  bfloat16BitsToNumber,
  dtypeBytes,
  dtypeRank,
  float16BitsToNumber,
  type FloatDtype,
  numberToBfloat16Bits,
  numberToFloat16Bits,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  type SafetensorsTensor,
} from "./dtype.ts";
import { findDuplicateKey } from "./json_keys.ts";
import { SafetensorsError } from "./safetensors_error.ts";
import { checkEntry, checkMetadata, checkTensor } from "./safetensors_rules.ts";

export { SAFETENSORS_DTYPES, SafetensorsError };
export type { FloatDtype, SafetensorsDtype, SafetensorsTensor };
export type { SafetensorsErrorCode } from "./safetensors_error.ts";

/**
 * Largest header the reader accepts: 100,000,000 bytes, the limit of the
 * reference implementation (a header of that size describes millions of
 * tensors; anything larger is a corrupt or hostile file).
 */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** A parsed safetensors file. Tensor `data` are views into the parsed bytes. */
export interface SafetensorsFile {
  /** The `__metadata__` strings (empty when the file has none). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors by name, in the order of their data offsets. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensor>;
}

const HEADER_LENGTH_BYTES = 8;
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * Parses and validates safetensors bytes. Tensor data are zero-copy views into
 * `bytes`; copy them (or use {@linkcode tensorToFloat32}) before reusing the
 * buffer.
 *
 * @example
 * ```ts
 * import { encodeSafetensors, float32Tensor, parseSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors({ w: float32Tensor([1, 2], [1, 2]) }, { format: "pt" });
 * const file = parseSafetensors(bytes);
 * file.metadata.format; // "pt"
 * file.tensors.get("w")?.shape; // [1, 2]
 * ```
 */
export function parseSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < HEADER_LENGTH_BYTES) {
    throw new SafetensorsError(
      "truncated",
      `file is ${bytes.length} bytes, shorter than the 8-byte header length`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      "header_too_large",
      `header length ${headerLength} exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit`,
    );
  }
  const headerEnd = HEADER_LENGTH_BYTES + Number(headerLength);
  if (headerEnd > bytes.length) {
    throw new SafetensorsError(
      "header_out_of_bounds",
      `header length ${headerLength} runs past the end of the ${bytes.length}-byte file`,
    );
  }
  const header = parseHeader(bytes.subarray(HEADER_LENGTH_BYTES, headerEnd));
  const data = bytes.subarray(headerEnd);

  let metadata: Record<string, string> = {};
  const entries: {
    name: string;
    start: number;
    end: number;
    dtype: SafetensorsDtype;
    shape: number[];
  }[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") metadata = checkMetadata(value);
    else entries.push({ name, ...checkEntry(name, value, data.length) });
  }

  entries.sort((a, b) => a.start - b.start || a.end - b.end);
  let expectedStart = 0;
  let previous = "the start of the data section";
  for (const entry of entries) {
    if (entry.start !== expectedStart) {
      const overlap = entry.start < expectedStart;
      throw new SafetensorsError(
        overlap ? "offsets_overlap" : "offsets_gap",
        `tensor "${entry.name}" starts at byte ${entry.start} but ${previous} ends at byte ` +
          `${expectedStart}: ${overlap ? "the two overlap" : "the bytes between are unused"}`,
      );
    }
    expectedStart = entry.end;
    previous = `tensor "${entry.name}"`;
  }
  if (expectedStart !== data.length) {
    throw new SafetensorsError(
      "offsets_gap",
      `the data section is ${data.length} bytes but ${previous} ends at byte ${expectedStart}: ` +
        `the remaining bytes belong to no tensor`,
    );
  }

  const tensors = new Map<string, SafetensorsTensor>();
  for (const { name, start, end, dtype, shape } of entries) {
    tensors.set(name, Object.freeze({ dtype, shape, data: data.subarray(start, end) }));
  }
  return Object.freeze({ metadata: Object.freeze(metadata), tensors });
}

/**
 * Encodes tensors as a canonical safetensors file, byte-for-byte what the
 * reference writer produces: tensors ordered by dtype (widest first, in the
 * reference enum's order) then by name, `__metadata__` (sorted keys) first when
 * given, compact JSON padded with spaces to a multiple of 8 bytes.
 *
 * @example
 * ```ts
 * import { encodeSafetensors, float32Tensor } from "./safetensors.ts";
 * const bytes = encodeSafetensors({ bias: float32Tensor([0.5, -1], [2]) });
 * bytes.length; // 8 + 64 (padded header) + 8
 * ```
 */
export function encodeSafetensors(
  tensors: Readonly<Record<string, SafetensorsTensor>> | ReadonlyMap<string, SafetensorsTensor>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const named = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  named.sort(([nameA, a], [nameB, b]) =>
    dtypeRank(b.dtype) - dtypeRank(a.dtype) || compareCodePoints(nameA, nameB)
  );

  // JSON text is built by hand: a JavaScript object would move integer-like
  // names ("0", "12") ahead of the others and break the canonical order.
  const members: string[] = [];
  const metadataKeys = Object.keys(checkMetadata(metadata)).sort(compareCodePoints);
  if (metadataKeys.length > 0) {
    const pairs = metadataKeys.map((key) =>
      `${JSON.stringify(key)}:${JSON.stringify(metadata[key])}`
    );
    members.push(`"__metadata__":{${pairs.join(",")}}`);
  }
  let offset = 0;
  for (const [name, tensor] of named) {
    if (name === "__metadata__") {
      throw new SafetensorsError("invalid_entry", `"__metadata__" cannot name a tensor`);
    }
    checkTensor(name, tensor);
    const entry = {
      dtype: tensor.dtype,
      shape: tensor.shape,
      data_offsets: [offset, offset + tensor.data.length],
    };
    members.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
    offset += tensor.data.length;
  }

  const json = utf8Encoder.encode(`{${members.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(HEADER_LENGTH_BYTES + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, HEADER_LENGTH_BYTES);
  out.fill(0x20, HEADER_LENGTH_BYTES + json.length, HEADER_LENGTH_BYTES + headerLength);
  let position = HEADER_LENGTH_BYTES + headerLength;
  for (const [, tensor] of named) {
    out.set(tensor.data, position);
    position += tensor.data.length;
  }
  return out;
}

/**
 * Decodes an `F32`, `F16` or `BF16` tensor into a new Float32Array (exact for
 * all three); any other dtype is refused with code `unsupported_dtype`.
 *
 * @example
 * ```ts
 * import { tensorToFloat32 } from "./safetensors.ts";
 * // 0x3c00 is 1.0 in IEEE half precision (little-endian bytes 00 3c).
 * tensorToFloat32({ dtype: "F16", shape: [1], data: Uint8Array.of(0x00, 0x3c) }); // [1]
 * ```
 */
export function tensorToFloat32(tensor: SafetensorsTensor): Float32Array {
  checkTensor("tensor", tensor);
  const { data, dtype } = tensor;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Float32Array(data.length / dtypeBytes(dtype));
  if (dtype === "F32") {
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (dtype === "F16") {
    for (let i = 0; i < out.length; i++) out[i] = float16BitsToNumber(view.getUint16(2 * i, true));
  } else if (dtype === "BF16") {
    for (let i = 0; i < out.length; i++) out[i] = bfloat16BitsToNumber(view.getUint16(2 * i, true));
  } else {
    throw new SafetensorsError(
      "unsupported_dtype",
      `cannot decode ${dtype} as float32: only F32, F16 and BF16 are floating-point types here`,
    );
  }
  return out;
}

/**
 * Builds a tensor from float values, stored as `F32` (exact), or `F16` /
 * `BF16` (rounded to nearest, ties to even, as numpy and PyTorch do).
 *
 * @example
 * ```ts
 * import { float32Tensor } from "./safetensors.ts";
 * const weight = float32Tensor([1, 2, 3, 4, 5, 6], [2, 3], "BF16");
 * weight.data.length; // 12
 * ```
 */
export function float32Tensor(
  values: ArrayLike<number>,
  shape: readonly number[],
  dtype: FloatDtype = "F32",
): SafetensorsTensor {
  const elementBytes = dtypeBytes(dtype);
  const data = new Uint8Array(values.length * elementBytes);
  const view = new DataView(data.buffer);
  for (let i = 0; i < values.length; i++) {
    if (dtype === "F32") view.setFloat32(4 * i, values[i], true);
    else if (dtype === "F16") view.setUint16(2 * i, numberToFloat16Bits(values[i]), true);
    else view.setUint16(2 * i, numberToBfloat16Bits(values[i]), true);
  }
  const tensor = Object.freeze({ dtype, shape: Object.freeze([...shape]), data });
  checkTensor("tensor", tensor);
  return tensor;
}

function parseHeader(headerBytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = utf8Decoder.decode(headerBytes);
  } catch {
    throw new SafetensorsError("invalid_utf8", "header is not valid UTF-8");
  }
  if (!text.startsWith("{")) {
    throw new SafetensorsError(
      "not_object",
      `header must be a JSON object starting with "{", got ${JSON.stringify(text.slice(0, 16))}`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw new SafetensorsError("invalid_json", `header is not valid JSON: ${String(error)}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new SafetensorsError("not_object", "header must be a JSON object");
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    const where = duplicate.path.length === 0
      ? "in the header"
      : `inside ${duplicate.path.map((key) => JSON.stringify(key)).join(" → ")}`;
    throw new SafetensorsError(
      "duplicate_key",
      `key ${JSON.stringify(duplicate.key)} appears twice ${where}`,
    );
  }
  return header as Record<string, unknown>;
}

/** Orders strings by Unicode code point, which is UTF-8 byte order. */
function compareCodePoints(a: string, b: string): number {
  const left = [...a], right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = left[i].codePointAt(0)! - right[i].codePointAt(0)!;
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}
