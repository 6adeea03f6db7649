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

const PAGE = 65536;

/** GELU with its slope, and a row softmax, on float32 arrays (outputs from `allocate`). */
export interface WasmActivation {
  /**
   * `gelu(x)` element-wise, and the slope `gelu'(x)` the gradient needs
   * (exactly 0 or 1 for `|x| ≥ 20`), into arrays from `allocate`.
   */
  gelu(x: Float32Array): { y: Float32Array; slope: Float32Array };
  /** Softmax over each row of `n` values of `x` (`n` a multiple of 4), in place. */
  softmaxRows(x: Float32Array, n: number): void;
}

/**
 * Instantiates the kernel, or returns `undefined` where WebAssembly SIMD is
 * unavailable. Results are copied out of the module's memory into arrays
 * from `allocate`.
 *
 * @example
 * ```ts
 * import { createWasmActivation } from "./activation.ts";
 * const kernel = createWasmActivation();
 * kernel?.gelu(Float32Array.of(-1, 0, 1)).y; // ≈ [-0.1588, 0, 0.8412]
 * ```
 */
export function createWasmActivation(allocate: Allocate = newFloat32): WasmActivation | undefined {
  const exports = instantiateEmbedded(ACTIVATION_WASM);
  if (exports === undefined) return undefined;
  const memory = exports.memory as WebAssembly.Memory;
  const gelu = exports.gelu as (out: number, slope: number, x: number, n: number) => void;
  const softmax = exports.softmax as (x: number, rows: number, n: number) => void;
  /** Byte offsets of `count` arrays of `n` floats each, padded to 16 bytes; grows memory. */
  const layout = (n: number, count: number) => {
    const stride = 16 * Math.ceil(n / 4);
    const end = stride * count;
    if (end > memory.buffer.byteLength) {
      memory.grow(Math.ceil((end - memory.buffer.byteLength) / PAGE));
    }
    return Array.from({ length: count }, (_, i) => i * stride);
  };
  const result = (at: number, n: number) => {
    const out = allocate(n);
    out.set(new Float32Array(memory.buffer, at, n));
    return out;
  };
  return {
    gelu(x) {
      const [xAt, outAt, slopeAt] = layout(x.length, 3);
      new Float32Array(memory.buffer, xAt, x.length).set(x);
      gelu(outAt, slopeAt, xAt, x.length);
      return { y: result(outAt, x.length), slope: result(slopeAt, x.length) };
    },
    softmaxRows(x, n) {
      if (n % 4 !== 0 || x.length % n !== 0) throw new RangeError(`softmaxRows: bad row ${n}`);
      const [xAt] = layout(x.length, 1);
      const view = new Float32Array(memory.buffer, xAt, x.length);
      view.set(x);
      softmax(xAt, x.length / n, n);
      x.set(view);
    },
  };
}
