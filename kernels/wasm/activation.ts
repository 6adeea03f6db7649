/**
 * The WebAssembly SIMD kernel of GELU (tanh form) and its gradient
 * (`activation.wat`), with a vectorised `exp` (Cephes' expf, within 2 ulp of
 * the exact value); the results agree with the JavaScript loops of
 * `tfjs-fused.ts`, which use `Math.exp`, to about 1e-6 relative.
 *
 * @module
 */

import { instantiateEmbedded } from "../../src/wasm/instantiate.ts";
import { ACTIVATION_WASM } from "./activation_wasm.ts";

const PAGE = 65536;

/** GELU and its gradient on float32 arrays. */
export interface WasmActivation {
  /** `gelu(x)` element-wise, into a new array. */
  gelu(x: Float32Array): Float32Array;
  /** `dy · gelu'(x)` element-wise, into a new array (`dy` and `x` of one length). */
  geluGrad(dy: Float32Array, x: Float32Array): Float32Array;
}

/**
 * Instantiates the kernel, or returns `undefined` where WebAssembly SIMD is
 * unavailable.
 *
 * @example
 * ```ts
 * import { createWasmActivation } from "./activation.ts";
 * const kernel = createWasmActivation();
 * kernel?.gelu(Float32Array.of(-1, 0, 1)); // ≈ [-0.1588, 0, 0.8412]
 * ```
 */
export function createWasmActivation(): WasmActivation | undefined {
  const exports = instantiateEmbedded(ACTIVATION_WASM);
  if (exports === undefined) return undefined;
  const memory = exports.memory as WebAssembly.Memory;
  const gelu = exports.gelu as (out: number, x: number, n: number) => void;
  const geluGrad = exports.gelu_grad as (out: number, dy: number, x: number, n: number) => void;
  /** Byte offsets of `count` arrays of `n` floats each, padded to 16 bytes; grows memory. */
  const layout = (n: number, count: number) => {
    const stride = 16 * Math.ceil(n / 4);
    const end = stride * count;
    if (end > memory.buffer.byteLength) {
      memory.grow(Math.ceil((end - memory.buffer.byteLength) / PAGE));
    }
    return Array.from({ length: count }, (_, i) => i * stride);
  };
  const result = (at: number, n: number) => new Float32Array(memory.buffer.slice(at, at + 4 * n));
  return {
    gelu(x) {
      const [xAt, outAt] = layout(x.length, 2);
      new Float32Array(memory.buffer, xAt, x.length).set(x);
      gelu(outAt, xAt, x.length);
      return result(outAt, x.length);
    },
    geluGrad(dy, x) {
      if (dy.length !== x.length) throw new RangeError("geluGrad: dy and x differ in length");
      const [dyAt, xAt, outAt] = layout(x.length, 3);
      new Float32Array(memory.buffer, dyAt, dy.length).set(dy);
      new Float32Array(memory.buffer, xAt, x.length).set(x);
      geluGrad(outAt, dyAt, xAt, x.length);
      return result(outAt, x.length);
    },
  };
}
