/**
 * A small pre-LayerNorm vision transformer (patch tokens in, patch tokens
 * out) built from TF.js ops, used to measure a realistic training step:
 * fused linear layers, LayerNorm, multi-head softmax attention, GELU (tanh
 * form), residuals, MSE loss and Adam. LayerNorm and GELU are the fused ops
 * of `kernels/tfjs-fused.ts`: single kernels when installed, composite TF.js
 * ops otherwise (the stock baseline).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { gelu, layerNorm } from "../../kernels/tfjs-fused.ts";

/** Shape of the benchmark transformer. */
export interface TransformerConfig {
  /** Tokens per sample (e.g. 64 = an 8×8 grid of patches). */
  tokens: number;
  /** Values per input token (e.g. 48 = a 4×4 RGB patch). */
  patchDim: number;
  /** Model width. */
  width: number;
  /** Attention heads (must divide `width`). */
  heads: number;
  /** Transformer blocks. */
  depth: number;
  /** MLP hidden width as a multiple of `width`. */
  mlpRatio: number;
}

/** About 1M parameters: 64 tokens of 48 values, width 128, 4 heads, 5 blocks. */
export const SMALL_TRANSFORMER: TransformerConfig = {
  tokens: 64,
  patchDim: 48,
  width: 128,
  heads: 4,
  depth: 5,
  mlpRatio: 4,
};

/** A built transformer: its trainable variables and its forward pass. */
export interface Transformer {
  /** The configuration it was built with. */
  config: TransformerConfig;
  /** All trainable variables. */
  variables: tf.Variable[];
  /** Number of trainable parameters. */
  parameterCount: number;
  /** Maps `[batch, tokens, patchDim]` to a tensor of the same shape. */
  apply(x: tf.Tensor3D): tf.Tensor3D;
}

/**
 * Builds the transformer with deterministic initial weights.
 *
 * @example
 * ```ts ignore
 * import { buildTransformer, SMALL_TRANSFORMER } from "./transformer.ts";
 * const model = buildTransformer(SMALL_TRANSFORMER, 1);
 * model.parameterCount; // ≈ 1.0M
 * ```
 */
export function buildTransformer(config: TransformerConfig, seed: number): Transformer {
  const { tokens, patchDim, width, heads, depth, mlpRatio } = config;
  if (width % heads !== 0) throw new Error(`width ${width} is not divisible by heads ${heads}`);
  let nextSeed = seed;
  const variables: tf.Variable[] = [];
  const weight = (rows: number, cols: number) => {
    const v = tf.variable(
      tf.randomNormal([rows, cols], 0, 1 / Math.sqrt(rows), "float32", nextSeed++),
    );
    variables.push(v);
    return v;
  };
  const filled = (size: number, value: number) => {
    const v = tf.variable(tf.fill([size], value));
    variables.push(v);
    return v;
  };
  const linear = (inputs: number, outputs: number) => ({
    w: weight(inputs, outputs),
    b: filled(outputs, 0),
  });
  const normParams = () => ({ gamma: filled(width, 1), beta: filled(width, 0) });

  const embed = linear(patchDim, width);
  const position = weight(tokens, width);
  const blocks = Array.from({ length: depth }, () => ({
    norm1: normParams(),
    qkv: linear(width, 3 * width),
    proj: linear(width, width),
    norm2: normParams(),
    fc1: linear(width, mlpRatio * width),
    fc2: linear(mlpRatio * width, width),
  }));
  const finalNorm = normParams();
  const head = linear(width, patchDim);

  const dense = (x: tf.Tensor2D, l: { w: tf.Variable; b: tf.Variable }): tf.Tensor2D =>
    tf.fused.matMul({ a: x, b: l.w as tf.Tensor2D, bias: l.b }) as tf.Tensor2D;
  const norm = (x: tf.Tensor2D, l: { gamma: tf.Variable; beta: tf.Variable }) =>
    layerNorm(x, l.gamma as tf.Tensor1D, l.beta as tf.Tensor1D);
  const headDim = width / heads;
  const attention = (x: tf.Tensor2D, batch: number) => {
    const qkv = tf.transpose(tf.reshape(x, [batch, tokens, 3, heads, headDim]), [2, 0, 3, 1, 4]);
    const [q, k, v] = tf.unstack(qkv) as tf.Tensor4D[];
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(headDim));
    const mixed = tf.matMul(tf.softmax(scores), v);
    return tf.reshape(tf.transpose(mixed, [0, 2, 1, 3]), [batch * tokens, width]) as tf.Tensor2D;
  };

  return {
    config,
    variables,
    parameterCount: variables.reduce((total, v) => total + v.size, 0),
    apply(input) {
      const batch = input.shape[0];
      const flat = tf.reshape(input, [batch * tokens, patchDim]) as tf.Tensor2D;
      const embedded = tf.add(tf.reshape(dense(flat, embed), [batch, tokens, width]), position);
      let h = tf.reshape(embedded, [batch * tokens, width]) as tf.Tensor2D;
      for (const block of blocks) {
        h = tf.add(h, dense(attention(dense(norm(h, block.norm1), block.qkv), batch), block.proj));
        h = tf.add(h, dense(gelu(dense(norm(h, block.norm2), block.fc1)), block.fc2));
      }
      return tf.reshape(dense(norm(h, finalNorm), head), [batch, tokens, patchDim]) as tf.Tensor3D;
    },
  };
}

/**
 * Returns a function that runs one Adam training step on an MSE regression
 * of `target` from `input` and returns the loss.
 *
 * @example
 * ```ts ignore
 * const step = trainingStep(model, x, y);
 * const loss = step();
 * ```
 */
export function trainingStep(
  model: Transformer,
  input: tf.Tensor3D,
  target: tf.Tensor3D,
): () => number {
  const optimizer = tf.train.adam(1e-3);
  return () => {
    const loss = optimizer.minimize(
      () => tf.mean(tf.squaredDifference(model.apply(input), target)) as tf.Scalar,
      true,
      model.variables,
    );
    const value = loss!.dataSync()[0];
    loss!.dispose();
    return value;
  };
}
