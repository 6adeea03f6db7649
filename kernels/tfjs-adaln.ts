/**
 * The adaLN-Zero pieces of a DiT block as fused TF.js CPU kernels:
 * the modulated LayerNorm `LN(x)·(1 + scale) + shift` and the gated residual
 * `x + gate·h`, with per-sample `shift`, `scale`, `gate: [B, D]` broadcast
 * over the tokens of `x, h: [B, T, D]`. Each is one kernel forward and one
 * backward instead of 3–5 broadcasting element-wise kernels (and their
 * reductions) each way. The ops return `undefined` when the kernels are not
 * installed on the active backend; the caller then composes them from
 * primitive ops (`trainer/model/ops.ts`).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { NamedTensorMap, TensorInfo } from "@tensorflow/tfjs-core";
import { rowStats } from "./tfjs-fused.ts";
import { onFirstUse } from "../src/wasm/instantiate.ts";
import { createWasmNorm, type NormShape, type WasmNorm } from "./wasm/norm.ts";
import {
  type CpuKernelArgs,
  float32Values,
  hasActiveKernel,
  registerCpuKernels,
} from "./tfjs-registry.ts";
import { takeFloat32 } from "./tfjs-pool.ts";

const MODULATED_NORM = "FlowmapModulatedNorm";
const MODULATED_NORM_GRAD = "FlowmapModulatedNormGrad";
const GATED_RESIDUAL = "FlowmapGatedResidual";
const GATED_RESIDUAL_GRAD = "FlowmapGatedResidualGrad";

/** Throws unless `x: [B, T, D]` and every per-sample tensor is `[B, D]`. */
function checkPerSample(what: string, x: tf.Tensor, perSample: tf.Tensor[]): void {
  const [batch, , width] = x.shape;
  const expected = `${batch},${width}`;
  if (x.rank !== 3 || perSample.some((t) => t.shape.join() !== expected)) {
    throw new RangeError(
      `${what}: x [${x.shape}] needs per-sample tensors of shape [${expected}], got ` +
        perSample.map((t) => `[${t.shape}]`).join(", "),
    );
  }
}

/**
 * Adaptive LayerNorm (adaLN) in one kernel: `LN(x)·(1 + scale) + shift` for
 * `x: [B, T, D]` normalised over D without affine terms, and per-sample
 * `shift`, `scale: [B, D]`; `undefined` when the kernel is not installed on
 * the active backend (the caller then composes it from `layerNorm` and
 * element-wise ops).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { fusedModulatedLayerNorm } from "./tfjs-adaln.ts";
 * const y = fusedModulatedLayerNorm(tf.ones([2, 3, 4]), tf.zeros([2, 4]), tf.zeros([2, 4]), 1e-6);
 * ```
 */
export function fusedModulatedLayerNorm(
  x: tf.Tensor,
  shift: tf.Tensor,
  scale: tf.Tensor,
  epsilon: number,
): tf.Tensor | undefined {
  if (!hasActiveKernel(MODULATED_NORM) || x.dtype !== "float32") return undefined;
  checkPerSample("modulated layerNorm", x, [shift, scale]);
  return tf.engine().runKernel(MODULATED_NORM, { x, shift, scale } as NamedTensorMap, {
    epsilon,
  }) as tf.Tensor;
}

tf.registerGradient({
  kernelName: MODULATED_NORM,
  inputsToSave: ["x", "scale"],
  gradFunc: (dy, [x, scale], attrs) => {
    const inputs = { dy, x, scale } as NamedTensorMap;
    const [dx, dShift, dScale] = tf.engine().runKernel(
      MODULATED_NORM_GRAD,
      inputs,
      attrs as never,
    ) as tf.Tensor[];
    return { x: () => dx, shift: () => dShift, scale: () => dScale };
  },
});

/**
 * The gated residual `x + gate·h` of adaLN-Zero in one kernel, `undefined`
 * when it is not installed on the active backend.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { fusedGatedResidual } from "./tfjs-adaln.ts";
 * const y = fusedGatedResidual(tf.ones([2, 3, 4]), tf.zeros([2, 4]), tf.ones([2, 3, 4]));
 * ```
 */
export function fusedGatedResidual(
  x: tf.Tensor,
  gate: tf.Tensor,
  h: tf.Tensor,
): tf.Tensor | undefined {
  if (!hasActiveKernel(GATED_RESIDUAL) || x.dtype !== "float32") return undefined;
  checkPerSample("gated residual", x, [gate]);
  if (h.shape.join() !== x.shape.join()) {
    throw new RangeError(`gated residual: h [${h.shape}] must have the shape of x [${x.shape}]`);
  }
  return tf.engine().runKernel(GATED_RESIDUAL, { x, gate, h } as NamedTensorMap) as tf.Tensor;
}

tf.registerGradient({
  kernelName: GATED_RESIDUAL,
  inputsToSave: ["gate", "h"],
  gradFunc: (dy, [gate, h]) => {
    const inputs = { dy, gate, h } as NamedTensorMap;
    const [dh, dGate] = tf.engine().runKernel(GATED_RESIDUAL_GRAD, inputs) as tf.Tensor[];
    return { x: () => (dy as tf.Tensor).clone(), gate: () => dGate, h: () => dh };
  },
});

/**
 * Registers the CPU kernels behind {@link fusedModulatedLayerNorm} and
 * {@link fusedGatedResidual}; returns a function that unregisters them.
 *
 * @example
 * ```ts
 * import { installAdaLnKernels } from "./tfjs-adaln.ts";
 * installAdaLnKernels()();
 * ```
 */
export function installAdaLnKernels(): () => void {
  return registerCpuKernels({
    [MODULATED_NORM]: modulatedNormKernel,
    [MODULATED_NORM_GRAD]: modulatedNormGradKernel,
    [GATED_RESIDUAL]: gatedResidualKernel,
    [GATED_RESIDUAL_GRAD]: gatedResidualGradKernel,
  });
}

function values(args: CpuKernelArgs, name: string): Float32Array {
  const result = float32Values(args.backend, args.inputs[name]);
  if (!result) throw new Error(`adaLN kernel input "${name}" must be a float32 tensor`);
  return result;
}

function gatedResidualKernel(args: CpuKernelArgs): TensorInfo {
  const x = values(args, "x"), gate = values(args, "gate"), h = values(args, "h");
  const [, tokens, width] = args.inputs.x!.shape;
  const wasm = wasmFor(args, "x");
  if (wasm) {
    const out = wasm.kernel.gated(x, gate, h, wasm.shape);
    return args.backend.makeTensorInfo(args.inputs.x!.shape, "float32", out);
  }
  const out = takeFloat32(x.length);
  for (let start = 0, row = 0; start < x.length; start += width, row++) {
    const at = Math.floor(row / tokens) * width;
    for (let j = 0; j < width; j++) out[start + j] = x[start + j] + gate[at + j] * h[start + j];
  }
  return args.backend.makeTensorInfo(args.inputs.x!.shape, "float32", out);
}

/** `dh = gate·dy`, `dGate = Σ_tokens dy·h`. */
function gatedResidualGradKernel(args: CpuKernelArgs): TensorInfo[] {
  const dy = values(args, "dy"), gate = values(args, "gate"), h = values(args, "h");
  const [, tokens, width] = args.inputs.dy!.shape;
  const { backend } = args;
  const wasm = wasmFor(args, "dy");
  const [dh, dGate] = wasm
    ? wasm.kernel.gatedBackward(dy, gate, h, wasm.shape)
    : gatedResidualGrad(dy, gate, h, tokens, width);
  return [
    backend.makeTensorInfo(args.inputs.dy!.shape, "float32", dh),
    backend.makeTensorInfo(args.inputs.gate!.shape, "float32", dGate),
  ];
}

function gatedResidualGrad(
  dy: Float32Array,
  gate: Float32Array,
  h: Float32Array,
  tokens: number,
  width: number,
): [Float32Array, Float32Array] {
  const dh = takeFloat32(dy.length), dGate = takeFloat32(gate.length);
  const sums = new Float64Array(width);
  for (let start = 0, row = 0; start < dy.length; start += width, row++) {
    const at = Math.floor(row / tokens) * width;
    for (let j = 0; j < width; j++) {
      dh[start + j] = gate[at + j] * dy[start + j];
      sums[j] += dy[start + j] * h[start + j];
    }
    if ((row + 1) % tokens === 0) {
      dGate.set(sums, at);
      sums.fill(0);
    }
  }
  return [dh, dGate];
}

const wasmNorm = onFirstUse(() => createWasmNorm(takeFloat32));

/** The WebAssembly kernel when the rows suit it (width a multiple of 4), with the geometry. */
function wasmFor(
  args: CpuKernelArgs,
  input = "x",
): { kernel: WasmNorm; shape: NormShape } | undefined {
  const [batch, tokens, width] = args.inputs[input]!.shape;
  const kernel = width % 4 === 0 ? wasmNorm() : undefined;
  const epsilon = (args.attrs?.epsilon as number | undefined) ?? 0;
  return kernel && { kernel, shape: { rows: batch * tokens, tokens, width, epsilon } };
}

function modulatedNormKernel(args: CpuKernelArgs): TensorInfo {
  const x = values(args, "x"), shift = values(args, "shift"), scale = values(args, "scale");
  const epsilon = args.attrs?.epsilon as number;
  const [, tokens, width] = args.inputs.x!.shape;
  const wasm = wasmFor(args);
  if (wasm) {
    const out = wasm.kernel.forward(x, shift, scale, wasm.shape);
    return args.backend.makeTensorInfo(args.inputs.x!.shape, "float32", out);
  }
  const out = takeFloat32(x.length);
  for (let start = 0, row = 0; start < x.length; start += width, row++) {
    const [mean, rstd] = rowStats(x, start, width, epsilon);
    const at = Math.floor(row / tokens) * width;
    for (let j = 0; j < width; j++) {
      out[start + j] = (x[start + j] - mean) * rstd * (1 + scale[at + j]) + shift[at + j];
    }
  }
  return args.backend.makeTensorInfo(args.inputs.x!.shape, "float32", out);
}

function modulatedNormGradKernel(args: CpuKernelArgs): TensorInfo[] {
  const dy = values(args, "dy"), x = values(args, "x"), scale = values(args, "scale");
  const epsilon = args.attrs?.epsilon as number;
  const [, tokens, width] = args.inputs.x!.shape;
  const { backend } = args;
  const perSample = args.inputs.scale!.shape;
  const wasm = wasmFor(args);
  const [dx, dShift, dScale] = wasm
    ? wasm.kernel.backward(dy, x, scale, wasm.shape)
    : modulatedNormGrad(dy, x, scale, tokens, width, epsilon);
  return [
    backend.makeTensorInfo(args.inputs.x!.shape, "float32", dx),
    backend.makeTensorInfo(perSample, "float32", dShift),
    backend.makeTensorInfo(perSample, "float32", dScale),
  ];
}

function modulatedNormGrad(
  dy: Float32Array,
  x: Float32Array,
  scale: Float32Array,
  tokens: number,
  width: number,
  epsilon: number,
): [Float32Array, Float32Array, Float32Array] {
  const dx = takeFloat32(x.length);
  const dShift = takeFloat32(scale.length), dScale = takeFloat32(scale.length);
  const rowShift = new Float64Array(width), rowScale = new Float64Array(width);
  for (let start = 0, row = 0; start < x.length; start += width, row++) {
    const [mean, rstd] = rowStats(x, start, width, epsilon);
    const at = Math.floor(row / tokens) * width;
    let meanG = 0, meanGX = 0;
    for (let j = 0; j < width; j++) {
      const xHat = (x[start + j] - mean) * rstd;
      const g = dy[start + j] * (1 + scale[at + j]);
      meanG += g;
      meanGX += g * xHat;
      rowScale[j] += dy[start + j] * xHat;
      rowShift[j] += dy[start + j];
    }
    meanG /= width;
    meanGX /= width;
    for (let j = 0; j < width; j++) {
      const xHat = (x[start + j] - mean) * rstd;
      dx[start + j] = rstd * (dy[start + j] * (1 + scale[at + j]) - meanG - xHat * meanGX);
    }
    if ((row + 1) % tokens === 0) {
      for (let j = 0; j < width; j++) {
        dShift[at + j] = rowShift[j];
        dScale[at + j] = rowScale[j];
      }
      rowShift.fill(0);
      rowScale.fill(0);
    }
  }
  return [dx, dShift, dScale];
}
