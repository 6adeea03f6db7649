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
import { kernelMemory } from "./memory.ts";

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
 * unavailable. Results go into arrays from `allocate`; operands that lie in
 * the kernels' memory (`memory.ts`, where the output pool allocates) are
 * used in place, others are copied in and out.
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
  const kernels = kernelMemory();
  if (kernels === undefined) return undefined;
  const { memory, run } = kernels;
  const exports = instantiateEmbedded(NORM_WASM, { kernels: { memory } });
  if (exports === undefined) return undefined;
  const forward = exports.modnorm as (...args: number[]) => void;
  const backward = exports.modnorm_grad as (...args: number[]) => void;
  const gated = exports.gated as (...args: number[]) => void;
  const gatedGrad = exports.gated_grad as (...args: number[]) => void;
  const check = ({ rows, tokens, width }: NormShape, x: Float32Array, perSample: Float32Array) => {
    if (width % 4 !== 0 || x.length !== rows * width || perSample.length * tokens !== x.length) {
      throw new RangeError(`modulated norm: bad geometry ${rows}×${width} per ${tokens} tokens`);
    }
  };
  return {
    gated(x, gate, h, shape) {
      check(shape, x, gate);
      const out = allocate(x.length);
      run([x, gate, h], [out], ([xAt, gateAt, hAt, outAt]) => {
        gated(outAt, xAt, gateAt, hAt, shape.rows, shape.tokens, shape.width);
      });
      return out;
    },
    gatedBackward(dy, gate, h, shape) {
      check(shape, dy, gate);
      const dh = allocate(dy.length), dGate = allocate(gate.length);
      run([dy, gate, h], [dh, dGate], ([dyAt, gateAt, hAt, dhAt, dGateAt]) => {
        gatedGrad(dhAt, dGateAt, dyAt, gateAt, hAt, shape.rows, shape.tokens, shape.width);
      }, true);
      return [dh, dGate];
    },
    forward(x, shift, scale, shape) {
      check(shape, x, scale);
      const out = allocate(x.length);
      const { rows, tokens, width, epsilon } = shape;
      run([x, shift, scale], [out], ([xAt, shiftAt, scaleAt, outAt]) => {
        forward(outAt, xAt, shiftAt, scaleAt, rows, tokens, width, epsilon);
      });
      return out;
    },
    backward(dy, x, scale, shape) {
      check(shape, x, scale);
      const dx = allocate(x.length), dShift = allocate(scale.length);
      const dScale = allocate(scale.length);
      const { rows, tokens, width, epsilon } = shape;
      run(
        [dy, x, scale],
        [dx, dShift, dScale],
        ([dyAt, xAt, scaleAt, dxAt, dShiftAt, dScaleAt]) => {
          backward(dxAt, dShiftAt, dScaleAt, dyAt, xAt, scaleAt, rows, tokens, width, epsilon);
        },
        true,
      );
      return [dx, dShift, dScale];
    },
  };
}
