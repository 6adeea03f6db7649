/**
 * Fused transformer ops for TF.js: `gelu` (tanh form) and `layerNorm` over
 * the last axis. On a CPU backend with {@link installFusedKernels} (part of
 * `installBlasKernels`) each op is one kernel forward and one backward,
 * instead of 9–25 element-wise kernels that each stream the activations
 * through memory. On any other backend they run as the equivalent composite
 * TF.js ops, so model code can use them everywhere.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { NamedTensorMap, TensorInfo } from "@tensorflow/tfjs-core";
import {
  type CpuKernelArgs,
  float32Values,
  hasActiveKernel,
  registerCpuKernels,
} from "./tfjs-registry.ts";
import { onFirstUse } from "../src/wasm/instantiate.ts";
import { createWasmActivation } from "./wasm/activation.ts";
import { createWasmBinaryKernel } from "./wasm/elementwise.ts";
import { declareOutputsWithoutGradient, isRecordingGradients } from "./tfjs-tape.ts";
import { takeFloat32 } from "./tfjs-pool.ts";

const GELU = "FlowmapGelu";
const GELU_GRAD = "FlowmapGeluGrad";
const LAYER_NORM = "FlowmapLayerNorm";
const LAYER_NORM_GRAD = "FlowmapLayerNormGrad";

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
/** Below this many values GELU runs in JavaScript (copying into WebAssembly costs more). */
const WASM_MIN_SIZE = 256;
const GELU_CUBIC = 0.044715;

/**
 * GELU with the tanh approximation: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { gelu } from "./tfjs-fused.ts";
 * gelu(tf.tensor1d([-1, 0, 1])); // ≈ [-0.1588, 0, 0.8412]
 * ```
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (hasActiveKernel(GELU) && x.dtype === "float32") {
    // the slope only when a gradient will need it
    const attrs = { slope: isRecordingGradients() };
    const [y, slope] = tf.engine().runKernel(GELU, { x } as NamedTensorMap, attrs) as tf.Tensor[];
    slope?.dispose(); // the tape keeps its own reference when it records
    return y as T;
  }
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), GELU_CUBIC)), SQRT_2_OVER_PI);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)) as T;
  });
}

/**
 * Layer normalisation over the last axis: `(x − mean) / √(var + epsilon) · gamma + beta`,
 * with `gamma` and `beta` of shape `[lastDim]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { layerNorm } from "./tfjs-fused.ts";
 * layerNorm(tf.tensor2d([[1, 2, 3]]), tf.ones([3]), tf.zeros([3])); // ≈ [[-1.2247, 0, 1.2247]]
 * ```
 */
export function layerNorm<T extends tf.Tensor>(
  x: T,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon = 1e-5,
): T {
  const width = x.shape[x.rank - 1];
  if (x.rank < 1 || gamma.shape.join() !== `${width}` || beta.shape.join() !== `${width}`) {
    throw new Error(
      `layerNorm: gamma [${gamma.shape}] and beta [${beta.shape}] must have shape [${width}] ` +
        `(the last dim of x [${x.shape}])`,
    );
  }
  if (hasActiveKernel(LAYER_NORM) && x.dtype === "float32") {
    const inputs = { x, gamma, beta } as NamedTensorMap;
    return tf.engine().runKernel(LAYER_NORM, inputs, { epsilon }) as T;
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
    return tf.add(tf.mul(normalized, gamma), beta) as T;
  });
}

declareOutputsWithoutGradient(GELU, [1]); // the slope
tf.registerGradient({
  kernelName: GELU,
  outputsToSave: [false, true],
  gradFunc: (dy, [slope]) => ({
    x: () =>
      tf.engine().runKernel(GELU_GRAD, {
        dy: Array.isArray(dy) ? dy[0] : dy,
        slope,
      } as NamedTensorMap) as tf.Tensor,
  }),
});

tf.registerGradient({
  kernelName: LAYER_NORM,
  inputsToSave: ["x", "gamma"],
  gradFunc: (dy, [x, gamma], attrs) => {
    const inputs = { dy, x, gamma } as NamedTensorMap;
    const [dx, dGamma, dBeta] = tf.engine().runKernel(
      LAYER_NORM_GRAD,
      inputs,
      attrs as never,
    ) as tf.Tensor[];
    return { x: () => dx, gamma: () => dGamma, beta: () => dBeta };
  },
});

/**
 * Registers the fused CPU kernels behind {@link gelu} and {@link layerNorm};
 * returns a function that unregisters them.
 *
 * @example
 * ```ts
 * import { installFusedKernels } from "./tfjs-fused.ts";
 * const uninstall = installFusedKernels();
 * uninstall();
 * ```
 */
export function installFusedKernels(): () => void {
  return registerCpuKernels({
    [GELU]: geluKernel,
    [GELU_GRAD]: geluGradKernel,
    [LAYER_NORM]: layerNormKernel,
    [LAYER_NORM_GRAD]: layerNormGradKernel,
  });
}

function values(args: CpuKernelArgs, name: string): Float32Array {
  const result = float32Values(args.backend, args.inputs[name]);
  if (!result) throw new Error(`fused kernel input "${name}" must be a float32 tensor`);
  return result;
}

const wasmActivation = onFirstUse(() => createWasmActivation(takeFloat32));
const wasmProduct = onFirstUse(() => createWasmBinaryKernel(takeFloat32));

/**
 * Outputs `[gelu(x), gelu'(x)]` (the slope makes the gradient one product),
 * or `[gelu(x)]` when the attribute `slope` is false.
 */
function geluKernel(args: CpuKernelArgs): TensorInfo[] {
  const x = values(args, "x");
  const withSlope = args.attrs?.slope !== false;
  const wasm = x.length >= WASM_MIN_SIZE ? wasmActivation() : undefined;
  const shape = args.inputs.x!.shape;
  let y: Float32Array, slope: Float32Array | undefined;
  if (wasm) {
    ({ y, slope } = wasm.gelu(x, withSlope));
  } else {
    y = takeFloat32(x.length);
    slope = withSlope ? takeFloat32(x.length) : undefined;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      // 0.5·(1 + tanh(u)) = sigmoid(2u): one exp instead of a (slower) tanh.
      const s = 1 / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v)));
      y[i] = v * s;
      // d/dx [x·s] = s + 2·x·s·(1 − s)·du/dx
      if (slope) slope[i] = s + 2 * v * s * (1 - s) * SQRT_2_OVER_PI * (1 + 3 * GELU_CUBIC * v * v);
    }
  }
  const { backend } = args;
  const outputs = [backend.makeTensorInfo(shape, "float32", y)];
  if (slope) outputs.push(backend.makeTensorInfo(shape, "float32", slope));
  return outputs;
}

/** `dy · gelu'(x)` from the saved slope. */
function geluGradKernel(args: CpuKernelArgs): TensorInfo {
  const dy = values(args, "dy"), slope = values(args, "slope");
  const n = dy.length;
  const wasm = n >= WASM_MIN_SIZE ? wasmProduct() : undefined;
  let out: Float32Array;
  if (wasm) {
    out = wasm("Multiply", dy, 1, slope, 1, n, (visit) => visit(0, 0, n));
  } else {
    out = takeFloat32(n);
    for (let i = 0; i < n; i++) out[i] = dy[i] * slope[i];
  }
  return args.backend.makeTensorInfo(args.inputs.dy!.shape, "float32", out);
}

/**
 * Mean and 1/std of the `width` values of `x` from `start`.
 *
 * @example
 * ```ts
 * import { rowStats } from "./tfjs-fused.ts";
 * rowStats(Float32Array.of(1, 3), 0, 2, 0); // [2, 1]
 * ```
 */
export function rowStats(
  x: Float32Array,
  start: number,
  width: number,
  epsilon: number,
): [number, number] {
  let sum = 0;
  for (let j = 0; j < width; j++) sum += x[start + j];
  const mean = sum / width;
  let squares = 0;
  for (let j = 0; j < width; j++) {
    const d = x[start + j] - mean;
    squares += d * d;
  }
  return [mean, 1 / Math.sqrt(squares / width + epsilon)];
}

function layerNormKernel(args: CpuKernelArgs): TensorInfo {
  const x = values(args, "x");
  const gamma = values(args, "gamma");
  const beta = values(args, "beta");
  const epsilon = args.attrs?.epsilon as number;
  const width = gamma.length;
  const out = takeFloat32(x.length);
  for (let start = 0; start < x.length; start += width) {
    const [mean, rstd] = rowStats(x, start, width, epsilon);
    for (let j = 0; j < width; j++) {
      out[start + j] = (x[start + j] - mean) * rstd * gamma[j] + beta[j];
    }
  }
  return args.backend.makeTensorInfo(args.inputs.x!.shape, "float32", out);
}

function layerNormGradKernel(args: CpuKernelArgs): TensorInfo[] {
  const dy = values(args, "dy");
  const x = values(args, "x");
  const gamma = values(args, "gamma");
  const epsilon = args.attrs?.epsilon as number;
  const width = gamma.length;
  const dx = takeFloat32(x.length);
  const dGamma = new Float64Array(width);
  const dBeta = new Float64Array(width);
  for (let start = 0; start < x.length; start += width) {
    const [mean, rstd] = rowStats(x, start, width, epsilon);
    let meanG = 0, meanGX = 0;
    for (let j = 0; j < width; j++) {
      const xHat = (x[start + j] - mean) * rstd;
      const g = dy[start + j] * gamma[j];
      meanG += g;
      meanGX += g * xHat;
      dGamma[j] += dy[start + j] * xHat;
      dBeta[j] += dy[start + j];
    }
    meanG /= width;
    meanGX /= width;
    for (let j = 0; j < width; j++) {
      const xHat = (x[start + j] - mean) * rstd;
      dx[start + j] = rstd * (dy[start + j] * gamma[j] - meanG - xHat * meanGX);
    }
  }
  const { backend } = args;
  return [
    backend.makeTensorInfo(args.inputs.x!.shape, "float32", dx),
    backend.makeTensorInfo([width], "float32", Float32Array.from(dGamma)),
    backend.makeTensorInfo([width], "float32", Float32Array.from(dBeta)),
  ];
}
