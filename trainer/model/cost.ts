/**
 * The third emitter of the network: runs the forward pass over shapes only,
 * checking every shape and counting floating-point operations.
 *
 * @module
 */

import type { ModelConfig } from "./config.ts";
import { flowMapNetwork } from "./network.ts";
import {
  composedAttention,
  composedGatedResidual,
  composedModulatedLayerNorm,
  composedSplit,
  type GraphOps,
} from "./ops.ts";
import { countParameters, modelLayout, size } from "./parameters.ts";

/** Cost of one forward pass. */
export interface ForwardCost {
  /** Scalar parameters. */
  readonly parameters: number;
  /** FLOPs of matrix products (linear layers and attention), `2·m·k·n` each. */
  readonly matmulFlops: number;
  /** All FLOPs: matrix products plus one per output element of every other op. */
  readonly flops: number;
  /** Output shape. */
  readonly outputShape: readonly number[];
}

/**
 * Traces the network at a batch size (default 1) and counts its FLOPs.
 * Throws if any shape in the forward pass is inconsistent.
 *
 * @example
 * ```ts
 * import { meanFlowConfig } from "./config.ts";
 * import { forwardCost } from "./cost.ts";
 * const cost = forwardCost(meanFlowConfig);
 * console.log(cost.parameters, (cost.flops / 1e6).toFixed(1), "MFLOP");
 * ```
 */
export function forwardCost(config: ModelConfig, batch = 1): ForwardCost {
  const shapes = new Map(modelLayout(config).parameters.map((p) => [p.name, p.shape]));
  let matmulFlops = 0, otherFlops = 0;
  const elementwise = (shape: readonly number[], perElement = 1) => {
    otherFlops += perElement * size(shape);
    return [...shape];
  };
  const param = (name: string) => {
    const shape = shapes.get(name);
    if (shape === undefined) throw new RangeError(`forward uses unknown parameter ${name}`);
    return shape;
  };
  const ops: GraphOps<readonly number[]> = {
    linear(module, x) {
      const [out, inFeatures] = param(`${module}.weight`);
      expect(x[x.length - 1] === inFeatures, `${module} expects width ${inFeatures}, got [${x}]`);
      const rows = size(x) / inFeatures;
      matmulFlops += 2 * rows * inFeatures * out;
      otherFlops += rows * out;
      return [...x.slice(0, -1), out];
    },
    embed: (name, ids) => [...ids, param(name)[1]],
    parameter: (name) => param(name),
    constant: (_values, shape) => shape,
    add: (a, b) => elementwise(broadcast(a, b)),
    sub: (a, b) => elementwise(broadcast(a, b)),
    mul: (a, b) => elementwise(broadcast(a, b)),
    scale: (x) => elementwise(x),
    offset: (x) => elementwise(x),
    atLeast: (x) => elementwise(x),
    reciprocal: (x) => elementwise(x),
    tanh: (x) => elementwise(x),
    gelu: (x) => elementwise(x, 8),
    sigmoid: (x) => elementwise(x),
    cos: (x) => elementwise(x),
    sin: (x) => elementwise(x),
    softmax: (x) => elementwise(x, 3),
    layerNorm(x, width) {
      expect(x[x.length - 1] === width, `layerNorm over width ${width} got [${x}]`);
      return elementwise(x, 5);
    },
    modulatedLayerNorm(x, shift, scale, width, epsilon) {
      return composedModulatedLayerNorm(ops, x, shift, scale, width, epsilon);
    },
    split: (x, axis, pieces, width) => composedSplit(ops, x, axis, pieces, width),
    gatedResidual: (x, gate, h, width) => composedGatedResidual(ops, x, gate, h, width),
    attention: (q, k, v, seq, heads, width) => composedAttention(ops, q, k, v, seq, heads, width),
    mean(x, axis) {
      otherFlops += size(x);
      return x.filter((_, i) => i !== axis);
    },
    reshape(x, shape) {
      const known = size(shape.filter((s) => s !== -1));
      const filled = shape.map((s) => (s === -1 ? size(x) / known : s));
      expect(size(filled) === size(x), `cannot reshape [${x}] to [${shape}]`);
      return filled;
    },
    transpose: (x, perm) => perm.map((axis) => x[axis]),
    matMul(a, b) {
      expect(
        a.length === 3 && b.length === 3 && a[0] === b[0] && a[2] === b[1],
        `matMul [${a}]·[${b}]`,
      );
      matmulFlops += 2 * a[0] * a[1] * a[2] * b[2];
      return [a[0], a[1], b[2]];
    },
    concat(xs, axis) {
      const total = xs.reduce((sum, x) => sum + x[axis], 0);
      return xs[0].map((s, i) => (i === axis ? total : s));
    },
    slice(x, axis, start, end) {
      expect(0 <= start && start < end && end <= x[axis], `slice [${start}, ${end}) of [${x}]`);
      return x.map((s, i) => (i === axis ? end - start : s));
    },
  };
  const image = [batch, config.channels, config.imageSize, config.imageSize];
  const outputShape = flowMapNetwork(ops, config, {
    x: image,
    t: [batch],
    r: config.kind === "two-time" ? [batch] : undefined,
    tokens: [batch, config.textLength],
  });
  expect(outputShape.join() === image.join(), `output [${outputShape}] is not [${image}]`);
  return {
    parameters: countParameters(config),
    matmulFlops,
    flops: matmulFlops + otherFlops,
    outputShape,
  };
}

function broadcast(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const da = a[a.length - rank + i] ?? 1, db = b[b.length - rank + i] ?? 1;
    expect(da === db || da === 1 || db === 1, `cannot broadcast [${a}] with [${b}]`);
    return Math.max(da, db);
  });
}

function expect(condition: boolean, message: string): void {
  if (!condition) throw new RangeError(`shape error: ${message}`);
}
