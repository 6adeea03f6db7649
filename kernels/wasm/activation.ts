/**
 * The WebAssembly SIMD kernel of GELU (tanh form) and its slope
 * (`activation.wat`), with a vectorised `exp` (Cephes' expf, within 2 ulp of
 * the exact value); the results agree with the JavaScript loops of
 * `tfjs-fused.ts`, which use `Math.exp`, to about 1e-6 relative. The slope
 * `gelu'(x)` comes with the forward pass, so the gradient is `dy · slope`.
 * The same `exp` serves a row softmax (attention probabilities).
 *
 * @module
 */

import { instantiateEmbedded } from "../../src/wasm/instantiate.ts";
import { ACTIVATION_WASM } from "./activation_wasm.ts";
import { type Allocate, newFloat32 } from "./allocate.ts";
import { kernelMemory } from "./memory.ts";

/** GELU with its slope, and a row softmax, on float32 arrays (outputs from `allocate`). */
export interface WasmActivation {
  /**
   * `gelu(x)` element-wise, and unless `withSlope` is false the slope
   * `gelu'(x)` the gradient needs (exactly 0 or 1 for `|x| ≥ 20`), into
   * arrays from `allocate`.
   */
  gelu(x: Float32Array, withSlope?: boolean): { y: Float32Array; slope?: Float32Array };
  /** Softmax over each row of `n` values of `x` (`n` a multiple of 4), in place. */
  softmaxRows(x: Float32Array, n: number): void;
  /**
   * The gradient of a row softmax in place: `ds ← p·(ds − rowsum(ds·p))` per
   * row of `n` values (a multiple of 4) of `ds`, with the probabilities `p`;
   * in float64, the same bits as a JavaScript loop over the row.
   */
  softmaxGradRows(ds: Float32Array, p: Float32Array, n: number): void;
}

/**
 * Instantiates the kernel, or returns `undefined` where WebAssembly SIMD is
 * unavailable. Results go into arrays from `allocate`; operands that lie in
 * the kernels' memory (`memory.ts`, where the output pool allocates) are
 * used in place, others are copied in and out.
 *
 * @example
 * ```ts
 * import { createWasmActivation } from "./activation.ts";
 * const kernel = createWasmActivation();
 * kernel?.gelu(Float32Array.of(-1, 0, 1)).y; // ≈ [-0.1588, 0, 0.8412]
 * ```
 */
export function createWasmActivation(allocate: Allocate = newFloat32): WasmActivation | undefined {
  const kernels = kernelMemory();
  if (kernels === undefined) return undefined;
  const { memory, run } = kernels;
  const exports = instantiateEmbedded(ACTIVATION_WASM, { kernels: { memory } });
  if (exports === undefined) return undefined;
  const gelu = exports.gelu as (...args: number[]) => void;
  const softmax = exports.softmax as (x: number, rows: number, n: number) => void;
  const softmaxGrad = exports.softmax_grad as (
    ds: number,
    p: number,
    rows: number,
    n: number,
  ) => void;
  return {
    gelu(x, withSlope = true) {
      const y = allocate(x.length), slope = withSlope ? allocate(x.length) : undefined;
      run([x], slope ? [y, slope] : [y], ([xAt, yAt, slopeAt = 0]) => {
        gelu(yAt, slopeAt, withSlope ? 1 : 0, xAt, x.length);
      });
      return { y, slope };
    },
    softmaxRows(x, n) {
      if (n % 4 !== 0 || x.length % n !== 0) throw new RangeError(`softmaxRows: bad row ${n}`);
      run([x], [x], ([at]) => softmax(at, x.length / n, n));
    },
    softmaxGradRows(ds, p, n) {
      if (n % 4 !== 0 || ds.length % n !== 0 || p.length !== ds.length) {
        throw new RangeError(`softmaxGradRows: bad rows of ${n}`);
      }
      run([ds, p], [ds], ([dsAt, pAt]) => softmaxGrad(dsAt, pAt, ds.length / n, n));
    },
  };
}
