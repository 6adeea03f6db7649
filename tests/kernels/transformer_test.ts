// The fused transformer kernels (linear + LoRA, attention, adaptive LayerNorm,
// WebAssembly GELU, embedding gather) against their composite forms on the
// stock TF.js kernels, and their gradients against finite differences.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs"; // gradients
import "@tensorflow/tfjs-backend-cpu";
import { tryLoadBlas } from "../../kernels/blas.ts";
import { installBlasKernels, uninstallBlasKernels } from "../../kernels/tfjs-blas.ts";
import { fusedAttention } from "../../kernels/tfjs-attention.ts";
import { gelu } from "../../kernels/tfjs-fused.ts";
import { fusedGatedResidual, fusedModulatedLayerNorm } from "../../kernels/tfjs-adaln.ts";
import { linear } from "../../kernels/tfjs-linear.ts";
import { createWasmActivation } from "../../kernels/wasm/activation.ts";
import {
  composedAttention,
  composedGatedResidual,
  composedModulatedLayerNorm,
} from "../../trainer/model/ops.ts";
import { tfOps } from "../../trainer/model/tfjs.ts";

tf.env().set("PROD", true);
await tf.setBackend("cpu");

const blas = tryLoadBlas();
const ignore = blas instanceof Error;
if (ignore) console.warn(`skipping fused kernel tests: ${blas.message.split("\n")[0]}`);
/** Relative (norm-wise) tolerance of a fused kernel against the composite form. */
const TOLERANCE = 1e-5;

const seeded = (shape: number[], seed: number, scale = 1) =>
  tf.mul(tf.randomNormal(shape, 0, 1, "float32", seed), scale);

function relativeError(expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, "result sizes differ");
  let diff = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

function evaluate(run: () => tf.Tensor[]): Float32Array[] {
  return tf.tidy(() => run().map((t) => t.dataSync() as Float32Array));
}

/**
 * `fused` with the kernels installed against `composite` on the stock
 * kernels: outputs, then the gradients of `sum(out · w)` for random `w`.
 */
function assertMatchesComposite(
  label: string,
  inputs: tf.Tensor[],
  fused: (...xs: tf.Tensor[]) => tf.Tensor,
  composite: (...xs: tf.Tensor[]) => tf.Tensor,
): void {
  const weighted = (f: (...xs: tf.Tensor[]) => tf.Tensor) => (...xs: tf.Tensor[]) => {
    const y = f(...xs);
    return tf.sum(tf.mul(y, tf.randomNormal(y.shape, 0, 1, "float32", 99)));
  };
  const run = (f: (...xs: tf.Tensor[]) => tf.Tensor) => () => [
    f(...inputs),
    ...tf.grads(weighted(f))(inputs),
  ];
  uninstallBlasKernels();
  const stock = evaluate(run(composite));
  installBlasKernels(blas as Exclude<typeof blas, Error>);
  try {
    const fast = evaluate(run(fused));
    fast.forEach((values, i) => {
      const error = relativeError(stock[i], values);
      const what = i === 0 ? "output" : `gradient ${i - 1}`;
      assert.ok(error <= TOLERANCE, `${label}: ${what} relative error ${error}`);
    });
  } finally {
    uninstallBlasKernels();
  }
}

/**
 * The gradient of `sum(f(xs) · w)` along a random direction against the
 * central difference (float32, so a loose tolerance that still catches a
 * wrong or missing term).
 */
function assertFiniteDifferences(
  label: string,
  inputs: tf.Tensor[],
  f: (...xs: tf.Tensor[]) => tf.Tensor,
): void {
  installBlasKernels(blas as Exclude<typeof blas, Error>);
  try {
    tf.tidy(() => {
      const w = tf.randomNormal(f(...inputs).shape, 0, 1, "float32", 98);
      const loss = (...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), w));
      const grads = tf.grads(loss)(inputs);
      inputs.forEach((x, i) => {
        const direction = tf.randomNormal(x.shape, 0, 1, "float32", 97 + i);
        const step = 1e-2;
        const moved = (sign: number) =>
          loss(...inputs.map((y, j) => (j === i ? tf.add(y, tf.mul(direction, sign * step)) : y)))
            .dataSync()[0];
        const numeric = (moved(1) - moved(-1)) / (2 * step);
        const analytic = tf.sum(tf.mul(grads[i], direction)).dataSync()[0];
        const error = Math.abs(numeric - analytic) / Math.max(Math.abs(analytic), 1);
        assert.ok(error <= 2e-2, `${label}: input ${i}: ${analytic} vs ${numeric} (${error})`);
      });
    });
  } finally {
    uninstallBlasKernels();
  }
}

Deno.test({
  name: "fused linear layers with and without LoRA equal the composite form",
  ignore,
  fn() {
    const w = seeded([24, 16], 2, 0.3), b = seeded([24], 3);
    const a = seeded([4, 16], 4, 0.3), up = seeded([24, 4], 5, 0.3);
    // rows as a matrix, and as [batch, tokens, in]
    for (const x of [seeded([12, 16], 1), seeded([3, 4, 16], 6)]) {
      for (const scaling of [1, 0.5]) {
        const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, a: tf.Tensor, up: tf.Tensor) =>
          linear(x, w as tf.Tensor2D, b as tf.Tensor1D, {
            a: a as tf.Tensor2D,
            b: up as tf.Tensor2D,
            scaling,
          });
        const fused = f as (...xs: tf.Tensor[]) => tf.Tensor;
        const label = `LoRA rank-${x.rank} scaling ${scaling}`;
        assertMatchesComposite(label, [x, w, b, a, up], fused, fused);
        assertFiniteDifferences(label, [x, w, b, a, up], fused);
      }
      const plain = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        linear(x, w as tf.Tensor2D, b as tf.Tensor1D);
      const fused = plain as (...xs: tf.Tensor[]) => tf.Tensor;
      assertMatchesComposite(`plain rank-${x.rank}`, [x, w, b], fused, fused);
      assertFiniteDifferences(`plain rank-${x.rank}`, [x, w, b], fused);
    }
  },
});

Deno.test({
  name: "fused attention equals the composed attention of the network, and its gradients",
  ignore,
  fn() {
    // 8 positions: the softmax runs in WebAssembly; 7: in JavaScript
    for (const seq of [8, 7]) {
      const [batch, heads, width] = [3, 2, 8];
      const q = seeded([batch, seq, width], 11), k = seeded([batch, seq, width], 12);
      const v = seeded([batch, seq, width], 13);
      const ops = tfOps(new Map());
      const composite = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
        composedAttention(ops, q, k, v, seq, heads, width);
      const fused = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => {
        const out = fusedAttention(q, k, v, heads);
        assert.ok(out !== undefined, "the attention kernel is installed");
        return out;
      };
      assertMatchesComposite(`attention ${seq}`, [q, k, v], fused, composite);
      assertFiniteDifferences(`attention ${seq}`, [q, k, v], fused);
    }
    uninstallBlasKernels();
    const q = seeded([1, 4, 8], 14);
    assert.equal(fusedAttention(q, q, q, 2), undefined, "no kernel: the caller composes");
  },
});

Deno.test({
  name: "fused adaptive LayerNorm equals layerNorm·(1 + scale) + shift, and its gradients",
  ignore,
  fn() {
    // width 16 runs in WebAssembly, width 6 (not a multiple of 4) in JavaScript
    for (const width of [16, 6]) {
      const [batch, tokens] = [3, 5];
      const x = seeded([batch, tokens, width], 21, 2);
      const shift = seeded([batch, width], 22), scale = seeded([batch, width], 23, 0.5);
      const ops = tfOps(new Map());
      const composite = (x: tf.Tensor, shift: tf.Tensor, scale: tf.Tensor) =>
        composedModulatedLayerNorm(ops, x, shift, scale, width, 1e-6);
      const fused = (x: tf.Tensor, shift: tf.Tensor, scale: tf.Tensor) => {
        const out = fusedModulatedLayerNorm(x, shift, scale, 1e-6);
        assert.ok(out !== undefined, "the kernel is installed");
        return out;
      };
      assertMatchesComposite(`adaLN width ${width}`, [x, shift, scale], fused, composite);
      assertFiniteDifferences(`adaLN width ${width}`, [x, shift, scale], fused);
    }
    installBlasKernels(blas as Exclude<typeof blas, Error>);
    try {
      const x = tf.zeros([3, 5, 16]);
      assert.throws(
        () => fusedModulatedLayerNorm(x, tf.zeros([3, 16]), tf.zeros([3, 4]), 1e-6),
        /shape/,
      );
    } finally {
      uninstallBlasKernels();
    }
  },
});

Deno.test({
  name: "the fused gated residual equals x + gate·h, and its gradients",
  ignore,
  fn() {
    // width 16 runs in WebAssembly, width 6 in JavaScript
    for (const width of [16, 6]) {
      const [batch, tokens] = [3, 5];
      const x = seeded([batch, tokens, width], 24), h = seeded([batch, tokens, width], 25);
      const gate = seeded([batch, width], 26);
      const ops = tfOps(new Map());
      const composite = (x: tf.Tensor, gate: tf.Tensor, h: tf.Tensor) =>
        composedGatedResidual(ops, x, gate, h, width);
      const fused = (x: tf.Tensor, gate: tf.Tensor, h: tf.Tensor) => {
        const out = fusedGatedResidual(x, gate, h);
        assert.ok(out !== undefined, "the kernel is installed");
        return out;
      };
      assertMatchesComposite(`gated residual ${width}`, [x, gate, h], fused, composite);
      assertFiniteDifferences(`gated residual ${width}`, [x, gate, h], fused);
    }
  },
});

Deno.test({
  name: "GELU in WebAssembly equals the composite tanh form, forward and backward",
  ignore,
  fn() {
    // 2560 values: above the size where the kernel moves to WebAssembly
    const x = tf.concat([seeded([20, 64], 31, 4), tf.linspace(-30, 30, 1280).reshape([20, 64])]);
    assertMatchesComposite("gelu", [x], (x) => gelu(x), (x) => gelu(x));
    assertFiniteDifferences("gelu", [seeded([20, 64], 32, 2)], (x) => gelu(x));
  },
});

Deno.test("the WebAssembly GELU is finite and exact in the tails, NaN stays NaN", () => {
  const kernel = createWasmActivation();
  if (kernel === undefined) return; // no WebAssembly SIMD: the JavaScript loops run instead
  const x = Float32Array.of(1e30, -1e30, 25, -25, 0, NaN, 3.4e38, -3.4e38);
  const { y: out, slope } = kernel.gelu(x);
  assert.ok(slope);
  assert.deepEqual([...slope.slice(0, 5)], [1, 0, 1, 0, 0.5]);
  const alone = kernel.gelu(x, false);
  assert.deepEqual(alone, { y: out, slope: undefined }, "the same values without the slope");
  assert.deepEqual([...out.slice(0, 5)], [1e30 * (1 + 0), 0, 25, 0, 0].map(Math.fround));
  assert.ok(Number.isNaN(out[5]));
  assert.equal(out[6], Math.fround(3.4e38));
  assert.equal(out[7], 0);
  assert.ok(Number.isNaN(slope[5]));
  assert.deepEqual([...slope.slice(6)], [1, 0]);
});

Deno.test("the WebAssembly softmax gradient gives the JavaScript loop's bits", () => {
  const kernel = createWasmActivation();
  if (kernel === undefined) return; // no WebAssembly SIMD: the JavaScript loop runs instead
  const n = 24, rows = 37;
  const p = new Float32Array(rows * n).map((_, i) => Math.abs(Math.sin(i)) / n);
  const ds = new Float32Array(rows * n).map((_, i) => Math.cos(3 * i));
  const expected = ds.slice();
  for (let row = 0; row < expected.length; row += n) {
    let dot = 0;
    for (let j = 0; j < n; j++) dot += expected[row + j] * p[row + j];
    for (let j = 0; j < n; j++) expected[row + j] = p[row + j] * (expected[row + j] - dot);
  }
  kernel.softmaxGradRows(ds, p, n);
  assert.deepEqual(ds, expected);
});

Deno.test({
  name: "the embedding gather equals the stock kernel, and bad ids still fail",
  ignore,
  fn() {
    const table = seeded([9, 5], 41);
    const ids = tf.tensor2d([[0, 8, 3], [3, 3, 1]], undefined, "int32");
    uninstallBlasKernels();
    const stock = evaluate(() => [tf.gather(table, ids)]);
    installBlasKernels(blas as Exclude<typeof blas, Error>);
    try {
      const fast = evaluate(() => [tf.gather(table, ids)]);
      assert.deepEqual(fast, stock);
      assert.deepEqual(tf.gather(table, ids).shape, [2, 3, 5]);
      assert.throws(() => tf.gather(table, tf.tensor1d([9], "int32")).dataSync());
    } finally {
      uninstallBlasKernels();
    }
  },
});

Deno.test({
  name: "fused ops with extra outputs (GELU's slope, attention's probabilities) leave no tensors",
  ignore,
  fn() {
    installBlasKernels(blas as Exclude<typeof blas, Error>);
    try {
      const x = seeded([4, 8, 8], 51);
      const v = tf.variable(x, true, "transformer_test_v");
      const before = tf.memory().numTensors;
      gelu(x).dispose();
      fusedAttention(x, x, x, 2)!.dispose();
      const { value, grads } = tf.variableGrads(
        () => tf.sum(gelu(fusedAttention(v, v, v, 2)!)) as tf.Scalar,
        [v],
      );
      tf.dispose([value, ...Object.values(grads)]);
      assert.equal(tf.memory().numTensors, before);
      v.dispose();
    } finally {
      uninstallBlasKernels();
    }
  },
});
