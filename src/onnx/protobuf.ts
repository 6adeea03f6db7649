/**
 * Reads an ONNX model's `metadata_props` straight from its protobuf bytes:
 * a tiny field walker in plain JavaScript (no runtime, no protobuf library),
 * so model files can be inspected on any runtime before a session exists.
 *
 * `ModelProto` field 14 is `repeated StringStringEntryProto metadata_props`,
 * and an entry holds `key` (field 1) and `value` (field 2). Every other field
 * is skipped by its wire type without being decoded.
 *
 * @module
 */

import { ModelError } from "./model_error.ts";

const METADATA_PROPS = 14;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

/**
 * The metadata properties of an ONNX model, by key. Throws a
 * {@linkcode ModelError} if the bytes are not a well-formed protobuf message.
 *
 * @example
 * ```ts
 * import { readOnnxMetadata } from "./protobuf.ts";
 * // ModelProto { metadata_props: [{ key: "kind", value: "two-time" }] }
 * const entry = [0x0a, 4, ...new TextEncoder().encode("kind"), 0x12, 8, ...new TextEncoder().encode("two-time")];
 * readOnnxMetadata(Uint8Array.of(0x72, entry.length, ...entry)); // { kind: "two-time" }
 * ```
 */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const metadata: Record<string, string> = {};
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (const field of fields(bytes, 0, bytes.length)) {
    if (field.number !== METADATA_PROPS || field.wireType !== WIRE_LENGTH_DELIMITED) continue;
    let key = "", value = "";
    for (const part of fields(bytes, field.start, field.end)) {
      if (part.wireType !== WIRE_LENGTH_DELIMITED) continue;
      const text = decoder.decode(bytes.subarray(part.start, part.end));
      if (part.number === ENTRY_KEY) key = text;
      if (part.number === ENTRY_VALUE) value = text;
    }
    metadata[key] = value;
  }
  return metadata;
}

interface Field {
  readonly number: number;
  readonly wireType: number;
  /** Payload bounds of a length-delimited field (empty for the others). */
  readonly start: number;
  readonly end: number;
}

function* fields(bytes: Uint8Array, start: number, end: number): Generator<Field> {
  let at = start;
  while (at < end) {
    const [tag, afterTag] = varint(bytes, at, end);
    const number = Math.floor(tag / 8), wireType = tag % 8;
    if (number === 0) malformed(at, "field number 0");
    at = afterTag;
    if (wireType === WIRE_VARINT) {
      at = varint(bytes, at, end)[1];
      yield { number, wireType, start: at, end: at };
    } else if (wireType === WIRE_FIXED64 || wireType === WIRE_FIXED32) {
      at += wireType === WIRE_FIXED64 ? 8 : 4;
      if (at > end) malformed(at, "truncated fixed-width field");
      yield { number, wireType, start: at, end: at };
    } else if (wireType === WIRE_LENGTH_DELIMITED) {
      const [length, payload] = varint(bytes, at, end);
      at = payload + length;
      if (at > end) malformed(payload, `field ${number} claims ${length} bytes past the end`);
      yield { number, wireType, start: payload, end: at };
    } else {
      malformed(at, `unsupported wire type ${wireType}`);
    }
  }
}

/** A varint (at most 53 bits) and the position after it. */
function varint(bytes: Uint8Array, start: number, end: number): [number, number] {
  let value = 0, scale = 1;
  for (let at = start; at < end && at - start < 10; at++) {
    const byte = bytes[at];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      if (!Number.isSafeInteger(value)) malformed(start, "varint too large");
      return [value, at + 1];
    }
    scale *= 128;
  }
  return malformed(start, "truncated varint");
}

function malformed(at: number, problem: string): never {
  throw new ModelError(`not an ONNX model: malformed protobuf at byte ${at} (${problem})`);
}
