/**
 * safetensors element types: byte sizes, the reference writer's ordering, and
 * exact float16 / bfloat16 ↔ float32 conversions (round to nearest, ties to
 * even) that work on runtimes without `Float16Array`.
 *
 * @module
 */

/**
 * The byte-sized element types of the safetensors format, in the order of the
 * reference implementation's `Dtype` enum (its writer sorts tensors by this
 * order, descending, then by name). Sub-byte types (`F4`, `F6_E2M3`,
 * `F6_E3M2`) are not supported.
 */
export const SAFETENSORS_DTYPES = [
  "BOOL",
  "U8",
  "I8",
  "F8_E5M2",
  "F8_E4M3",
  "F8_E8M0",
  "F8_E4M3FNUZ",
  "F8_E5M2FNUZ",
  "I16",
  "U16",
  "F16",
  "BF16",
  "I32",
  "U32",
  "F32",
  "C64",
  "F64",
  "I64",
  "U64",
] as const;

/** A safetensors element type this library reads and writes. */
export type SafetensorsDtype = typeof SAFETENSORS_DTYPES[number];

/** The element types that decode to (and encode from) float32 values. */
export type FloatDtype = "F32" | "F16" | "BF16";

const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  F8_E4M3FNUZ: 1,
  F8_E5M2FNUZ: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  C64: 8,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** Bytes per element of `dtype`. */
export function dtypeBytes(dtype: SafetensorsDtype): number {
  return DTYPE_BYTES[dtype];
}

/** Whether `value` names a supported dtype. */
export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === "string" && Object.hasOwn(DTYPE_BYTES, value);
}

/** Position of `dtype` in the reference `Dtype` enum (its sort key). */
export function dtypeRank(dtype: SafetensorsDtype): number {
  return SAFETENSORS_DTYPES.indexOf(dtype);
}

const scratch = new DataView(new ArrayBuffer(4));

/** The float32 value of IEEE binary16 bits. */
export function float16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** The float32 value of bfloat16 bits (the upper half of a float32). */
export function bfloat16BitsToNumber(bits: number): number {
  scratch.setUint32(0, (bits & 0xffff) << 16);
  return scratch.getFloat32(0);
}

/** IEEE binary16 bits of `value` rounded to float32, then to half, ties to even. */
export function numberToFloat16Bits(value: number): number {
  scratch.setFloat32(0, value);
  const bits = scratch.getUint32(0);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200 | (mantissa >>> 13));
  const halfExponent = exponent - 112; // rebias 127 → 15
  if (halfExponent >= 31) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    // Subnormal half: value / 2^-24, from the 24-bit significand.
    return sign | roundShiftEven(mantissa | 0x800000, 14 - halfExponent);
  }
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | ((halfExponent << 10) + roundShiftEven(mantissa, 13));
}

/** bfloat16 bits of `value` rounded to float32, then to bfloat16, ties to even. */
export function numberToBfloat16Bits(value: number): number {
  scratch.setFloat32(0, value);
  const bits = scratch.getUint32(0);
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40; // keep NaN quiet
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}

/** `value / 2^shift` rounded to the nearest integer, ties to even. */
function roundShiftEven(value: number, shift: number): number {
  const kept = value >>> shift;
  const dropped = value - kept * 2 ** shift;
  const half = 2 ** (shift - 1);
  return dropped > half || (dropped === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** One tensor: its element type, shape (row-major) and little-endian bytes. */
export interface SafetensorsTensor {
  /** Element type. */
  readonly dtype: SafetensorsDtype;
  /** Dimensions, outermost first; `[]` is a scalar. */
  readonly shape: readonly number[];
  /** Raw little-endian element bytes; `product(shape) × dtype size` long. */
  readonly data: Uint8Array;
}
