/**
 * The per-entry rules of the safetensors format, shared by the reader and
 * the writer: metadata of strings, entries with exactly dtype, shape and
 * data_offsets, known dtypes, shapes of non-negative integers, in-bounds
 * offsets, and byte lengths equal to dtype size × element count.
 *
 * @module
 */

import {
  dtypeBytes,
  isSafetensorsDtype,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  type SafetensorsTensor,
} from "./dtype.ts";
import { SafetensorsError } from "./safetensors_error.ts";

const ENTRY_FIELDS = ["data_offsets", "dtype", "shape"];

/** The `__metadata__` value as a string record, or a `invalid_metadata` error. */
export function checkMetadata(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SafetensorsError(
      "invalid_metadata",
      `__metadata__ must be an object of strings, got ${describe(value)}`,
    );
  }
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== "string") {
      throw new SafetensorsError(
        "invalid_metadata",
        `__metadata__ value for ${JSON.stringify(key)} must be a string, got ${describe(item)}`,
      );
    }
  }
  return { ...value } as Record<string, string>;
}

/** One header entry, checked against the format and the data section's length. */
export function checkEntry(
  name: string,
  value: unknown,
  dataLength: number,
): { start: number; end: number; dtype: SafetensorsDtype; shape: number[] } {
  const label = `tensor ${JSON.stringify(name)}`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SafetensorsError(
      "invalid_entry",
      `${label} must be an object {dtype, shape, data_offsets}, got ${describe(value)}`,
    );
  }
  const fields = Object.keys(value).sort();
  if (fields.join() !== ENTRY_FIELDS.join()) {
    throw new SafetensorsError(
      "invalid_entry",
      `${label} must have exactly the fields dtype, shape, data_offsets; has ${
        fields.join(", ") || "none"
      }`,
    );
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  checkDtype(label, dtype);
  checkShape(label, shape);
  if (
    !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) ||
    offsets[0] > offsets[1]
  ) {
    throw new SafetensorsError(
      "invalid_offsets",
      `${label} data_offsets must be [start, end] with integers 0 ≤ start ≤ end, got ${
        JSON.stringify(offsets)
      }`,
    );
  }
  const [start, end] = offsets as number[];
  if (end > dataLength) {
    throw new SafetensorsError(
      "offsets_out_of_bounds",
      `${label} data_offsets [${start}, ${end}] run past the ${dataLength}-byte data section ` +
        `(truncated file?)`,
    );
  }
  checkByteLength(label, dtype, shape, end - start);
  return { start, end, dtype, shape: Object.freeze([...shape]) as number[] };
}

/** A tensor to encode or decode: known dtype, valid shape, matching byte length. */
export function checkTensor(name: string, tensor: SafetensorsTensor): void {
  const label = `tensor ${JSON.stringify(name)}`;
  checkDtype(label, tensor.dtype);
  checkShape(label, tensor.shape);
  if (!(tensor.data instanceof Uint8Array)) {
    throw new SafetensorsError("invalid_entry", `${label} data must be a Uint8Array`);
  }
  checkByteLength(label, tensor.dtype, tensor.shape, tensor.data.length);
}

function checkDtype(label: string, dtype: unknown): asserts dtype is SafetensorsDtype {
  if (!isSafetensorsDtype(dtype)) {
    throw new SafetensorsError(
      "unsupported_dtype",
      `${label} has dtype ${JSON.stringify(dtype)}; supported: ${SAFETENSORS_DTYPES.join(", ")}`,
    );
  }
}

function checkShape(label: string, shape: unknown): asserts shape is readonly number[] {
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    throw new SafetensorsError(
      "invalid_shape",
      `${label} shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`,
    );
  }
}

function checkByteLength(
  label: string,
  dtype: SafetensorsDtype,
  shape: readonly number[],
  byteLength: number,
): void {
  const expected = shape.reduce((product, size) => product * size, 1) * dtypeBytes(dtype);
  if (expected !== byteLength) {
    throw new SafetensorsError(
      "length_mismatch",
      `${label} is ${dtype} [${shape.join(", ")}], which needs ${expected} bytes, ` +
        `but holds ${byteLength}`,
    );
  }
}

function isIndex(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  return value === null ? "null" : `${typeof value} ${JSON.stringify(value)}`;
}
