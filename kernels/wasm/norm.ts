/**
 * The WebAssembly SIMD kernels of the modulated LayerNorm, the gated
 * residual and their gradients (`norm.wat`), for rows whose width is a
 * multiple of 4. Sums run in float32
 * lanes, so results agree with the JavaScript loops of `tfjs-adaln.ts`
 * (float64 sums) to about 1e-6 relative.
 *
 * @module
 */

import { instantiateEmbedded } from "../../src/wasm/instantiate.ts";
import { NORM_WASM } from "./norm_wasm.ts";
import { type Allocate, newFloat32 } from "./allocate.ts";

const PAGE = 65536;

/** The geometry of an adaLN op: `rows = B·tokens` rows of `width` values. */
export interface NormShape {
  /** Rows of `x` (samples times tokens). */
  readonly rows: number;
  /** Rows per sample (the rows one row of shift and scale modulates). */
  readonly tokens: number;
  /** Values per row, a multiple of 4. */
  readonly width: number;
  /** Added to the variance (LayerNorm only). */
  readonly epsilon: number;
}

/** The modulated LayerNorm and the gated residual on float32 arrays (outputs from `allocate`). */
export interface WasmNorm {
  /** `x + gate·h` per row (the gate row of the row's sample), into an array from `allocate`. */
  gated(x: Float32Array, gate: Float32Array, h: Float32Array, shape: NormShape): Float32Array;
  /** `[dh, dGate]` of the gated residual for the output gradient `dy`. */
  gatedBackward(
    dy: Float32Array,
    gate: Float32Array,
    h: Float32Array,
    shape: NormShape,
  ): [Float32Array, Float32Array];
  /** `LN(x)·(1 + scale) + shift` per row, into an array from `allocate`. */
  forward(
    x: Float32Array,
    shift: Float32Array,
    scale: Float32Array,
    shape: NormShape,
  ): Float32Array;
  /** `[dx, dShift, dScale]` for the output gradient `dy`. */
  backward(
    dy: Float32Array,
    x: Float32Array,
    scale: Float32Array,
    shape: NormShape,
  ): [Float32Array, Float32Array, Float32Array];
}

/**
 * Instantiates the kernel, or returns `undefined` where WebAssembly SIMD is
 * unavailable. Results are copied out of the module's memory into arrays
 * from `allocate`.
 *
 * @example
 * ```ts
 * import { createWasmNorm } from "./norm.ts";
 * const shape = { rows: 1, tokens: 1, width: 4, epsilon: 0 };
 * const zeros = new Float32Array(4);
 * createWasmNorm()?.forward(Float32Array.of(1, 2, 3, 4), zeros, zeros, shape);
 * // ≈ [-1.342, -0.447, 0.447, 1.342]
 * ```
 */
export function createWasmNorm(allocate: Allocate = newFloat32): WasmNorm | undefined {
  const exports = instantiateEmbedded(NORM_WASM);
  if (exports === undefined) return undefined;
  const memory = exports.memory as WebAssembly.Memory;
  const forward = exports.modnorm as (...args: number[]) => void;
  const backward = exports.modnorm_grad as (...args: number[]) => void;
  const gated = exports.gated as (...args: number[]) => void;
  const gatedGrad = exports.gated_grad as (...args: number[]) => void;
  /** Copies `inputs` in after room for `outputs` (zeroed) floats each; returns all offsets. */
  const place = (outputs: number[], inputs: Float32Array[]) => {
    const sizes = [...outputs, ...inputs.map((a) => a.length)];
    const offsets: number[] = [];
    let end = 0;
    for (const size of sizes) {
      offsets.push(end);
      end += 16 * Math.ceil(size / 4);
    }
    if (end > memory.buffer.byteLength) {
      memory.grow(Math.ceil((end - memory.buffer.byteLength) / PAGE));
    }
    new Uint8Array(memory.buffer, 0, offsets[outputs.length] ?? end).fill(0);
    inputs.forEach((a, i) => new Float32Array(memory.buffer, offsets[outputs.length + i]).set(a));
    return offsets;
  };
  const read = (at: number, n: number) => {
    const out = allocate(n);
    out.set(new Float32Array(memory.buffer, at, n));
    return out;
  };
  const check = ({ rows, tokens, width }: NormShape, x: Float32Array, perSample: Float32Array) => {
    if (width % 4 !== 0 || x.length !== rows * width || perSample.length * tokens !== x.length) {
      throw new RangeError(`modulated norm: bad geometry ${rows}×${width} per ${tokens} tokens`);
    }
  };
  return {
    gated(x, gate, h, shape) {
      check(shape, x, gate);
      const [outAt, xAt, gateAt, hAt] = place([x.length], [x, gate, h]);
      gated(outAt, xAt, gateAt, hAt, shape.rows, shape.tokens, shape.width);
      return read(outAt, x.length);
    },
    gatedBackward(dy, gate, h, shape) {
      check(shape, dy, gate);
      const n = dy.length, m = gate.length;
      const [dhAt, dGateAt, dyAt, gateAt, hAt] = place([n, m], [dy, gate, h]);
      gatedGrad(dhAt, dGateAt, dyAt, gateAt, hAt, shape.rows, shape.tokens, shape.width);
      return [read(dhAt, n), read(dGateAt, m)];
    },
    forward(x, shift, scale, shape) {
      check(shape, x, scale);
      const [outAt, xAt, shiftAt, scaleAt] = place([x.length], [x, shift, scale]);
      const { rows, tokens, width, epsilon } = shape;
      forward(outAt, xAt, shiftAt, scaleAt, rows, tokens, width, epsilon);
      return read(outAt, x.length);
    },
    backward(dy, x, scale, shape) {
      check(shape, x, scale);
      const n = x.length, m = scale.length;
      const [dxAt, dShiftAt, dScaleAt, dyAt, xAt, scaleAt] = place([n, m, m], [dy, x, scale]);
      const { rows, tokens, width, epsilon } = shape;
      backward(dxAt, dShiftAt, dScaleAt, dyAt, xAt, scaleAt, rows, tokens, width, epsilon);
      return [read(dxAt, n), read(dShiftAt, m), read(dScaleAt, m)];
    },
  };
}
