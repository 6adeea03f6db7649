import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs"; // gradients
import "@tensorflow/tfjs-backend-cpu";
import { BLAS_LIB_ENV, BlasUnavailableError, loadBlas, tryLoadBlas } from "../../kernels/blas.ts";
import { installBlasKernels, uninstallBlasKernels } from "../../kernels/tfjs-blas.ts";
import { gelu, layerNorm } from "../../kernels/tfjs-fused.ts";

tf.env().set("PROD", true);
await tf.setBackend("cpu");

const blas = tryLoadBlas();
const ignore = blas instanceof Error;
if (ignore) console.warn(`skipping BLAS kernel tests: ${blas.message.split("\n")[0]}`);
const TOLERANCE = 1e-5;

/** max|a − b| / max|a|: relative error of `actual` against `expected`, norm-wise. */
function relativeError(expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, "result sizes differ");
  let diff = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

type Run = () => tf.Tensor | tf.Tensor[];

function evaluate(run: Run): { shapes: number[][]; values: Float32Array[] } {
  return tf.tidy(() => {
    const out = [run()].flat();
    return {
      shapes: out.map((t) => t.shape),
      values: out.map((t) => t.dataSync() as Float32Array),
    };
  });
}

/** Runs `run` with stock kernels and with the BLAS kernels; asserts equal shapes and values. */
function assertSameAsStock(label: string, run: Run, reference: Run = run): void {
  uninstallBlasKernels();
  const stock = evaluate(reference);
  installBlasKernels(blas as Exclude<typeof blas, Error>);
  try {
    const fast = evaluate(run);
    assert.deepEqual(fast.shapes, stock.shapes, `${label}: shapes`);
    fast.values.forEach((values, i) => {
      const error = relativeError(stock.values[i], values);
      assert.ok(error <= TOLERANCE, `${label}: output ${i} relative error ${error}`);
    });
  } finally {
    uninstallBlasKernels();
  }
}

const seeded = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);

function swapLastTwo(t: tf.Tensor): tf.Tensor {
  const perm = [...t.shape.keys()];
  [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1], perm[t.rank - 2]];
  return tf.transpose(t, perm);
}

Deno.test({
  name: "BLAS matMul equals stock over shapes and transposes (forward and gradients)",
  ignore,
  fn() {
    const sizes = [[1, 1, 1], [1, 37, 1], [1, 13, 17], [17, 1, 5], [5, 33, 1], [31, 17, 63]];
    sizes.push([64, 64, 64], [128, 3, 129], [1, 200, 300], [300, 200, 1], [3, 0, 4], [0, 5, 2]);
    let seed = 1;
    for (const [m, k, n] of sizes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const a = seeded(transA ? [k, m] : [m, k], seed++);
          const b = seeded(transB ? [n, k] : [k, n], seed++);
          const dy = seeded([m, n], seed++);
          const label = `${m}×${k}×${n} tA=${transA} tB=${transB}`;
          assertSameAsStock(label, () => tf.matMul(a, b, transA, transB));
          const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, transA, transB));
          assertSameAsStock(`${label} grads`, () => grads([a, b], dy));
        }
      }
    }
  },
});

Deno.test({
  name: "BLAS matMul handles batches and broadcast batch dimensions",
  ignore,
  fn() {
    const cases: [number[], number[]][] = [
      [[3, 5, 7], [3, 7, 4]],
      [[4, 5, 7], [1, 7, 4]],
      [[1, 5, 7], [4, 7, 4]],
      [[2, 3, 5, 7], [7, 4]],
      [[5, 7], [2, 3, 7, 4]],
      [[2, 3, 6, 1], [3, 1, 9]],
    ];
    cases.forEach(([aShape, bShape], i) => {
      const a = seeded(aShape, 10 + i), b = seeded(bShape, 20 + i);
      for (const transB of [false, true]) {
        const bt = transB ? swapLastTwo(b) : b;
        assertSameAsStock(
          `[${aShape}]·[${bShape}] tB=${transB}`,
          () => tf.matMul(a, bt, false, transB),
        );
      }
    });
    // Batch dims that broadcast against each other ([2,1] with [3]); stock TF.js mis-indexes
    // these, so the reference tiles both operands to the full batch shape first.
    const a = seeded([2, 1, 5, 7], 30), b = seeded([3, 7, 4], 31);
    assertSameAsStock(
      "[2,1,5,7]·[3,7,4]",
      () => tf.matMul(a, b),
      () => tf.matMul(tf.tile(a, [1, 3, 1, 1]), tf.tile(tf.expandDims(b, 0), [2, 1, 1, 1])),
    );
  },
});

Deno.test({
  name: "BLAS fused matMul equals stock for bias shapes and every activation",
  ignore,
  fn() {
    const a = seeded([9, 11], 40), b = seeded([11, 6], 41);
    const biases = [seeded([6], 42), seeded([1, 6], 43), seeded([9, 6], 44), seeded([9, 1], 45)];
    const activations = [
      "linear",
      "relu",
      "relu6",
      "leakyrelu",
      "sigmoid",
      "elu",
      "prelu",
    ] as const;
    const preluActivationWeights = seeded([6], 46);
    for (const bias of biases) {
      for (const activation of activations) {
        assertSameAsStock(`bias [${bias.shape}] ${activation}`, () =>
          tf.fused.matMul({
            a: tf.mul(a, 3),
            b,
            bias,
            activation,
            preluActivationWeights,
            leakyreluAlpha: 0.3,
          }));
      }
    }
    const grads = tf.grads((x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) =>
      tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias, transposeB: true })
    );
    const w = seeded([6, 11], 47);
    assertSameAsStock("fused linear grads", () => grads([a, w, biases[0]], seeded([9, 6], 48)));
  },
});

Deno.test({
  name: "fast element-wise, reduction and layout kernels equal stock",
  ignore,
  fn() {
    const pairs: [number[], number[]][] = [
      [[4, 5], [4, 5]],
      [[4, 5], [5]],
      [[4, 5], [4, 1]],
      [[2, 1, 3], [4, 1]],
      [[], [3, 2]],
      [[3, 1, 5], [1, 4, 1]],
      [[64, 4, 8, 1], [64, 4, 8, 8]],
      // large enough for the WebAssembly path (kernels/wasm/elementwise.ts)
      [[256, 32], [32]],
      [[8, 16, 40], [8, 1, 40]],
      [[4100], [4100]],
    ];
    const binary = [tf.add, tf.sub, tf.mul, tf.div, tf.squaredDifference, tf.maximum, tf.minimum];
    pairs.forEach(([aShape, bShape], i) => {
      const a = seeded(aShape, 50 + i), b = tf.add(seeded(bShape, 60 + i), 3);
      binary.forEach((op, j) =>
        assertSameAsStock(`binary ${j} [${aShape}] [${bShape}]`, () => op(a, b))
      );
    });
    const x = seeded([6, 7, 8], 70);
    const unary = [tf.exp, tf.tanh, tf.sigmoid, tf.square, tf.neg];
    unary.forEach((op, j) => assertSameAsStock(`unary ${j}`, () => op(x)));
    assertSameAsStock("sqrt, rsqrt", () => [tf.sqrt(tf.abs(x)), tf.rsqrt(tf.abs(x))]);
    for (const perm of [[0, 2, 1], [2, 0, 1], [1, 0, 2], [2, 1, 0]]) {
      assertSameAsStock(`transpose ${perm}`, () => tf.transpose(x, perm));
    }
    assertSameAsStock(
      "transpose 5-d",
      () => tf.transpose(seeded([3, 4, 1, 5, 2], 71), [2, 0, 3, 1, 4]),
    );
    for (const axis of [undefined, 0, 1, 2, -1, [0, 1], [1, 2], [0, 2]]) {
      for (const keepDims of [false, true]) {
        assertSameAsStock(`reduce axis ${axis} keep ${keepDims}`, () => [
          tf.sum(x, axis, keepDims),
          tf.mean(x, axis, keepDims),
          tf.max(x, axis, keepDims),
        ]);
      }
    }
    assertSameAsStock("softmax", () => tf.softmax(tf.mul(x, 4)));
    assertSameAsStock("int32 falls back to stock", () => [
      tf.add(tf.tensor1d([1, 2], "int32"), tf.tensor1d([3, 4], "int32")),
      tf.sum(tf.tensor2d([[1, 2], [3, 4]], undefined, "int32"), 0),
      tf.matMul(
        tf.tensor2d([[1, 2]], undefined, "int32"),
        tf.tensor2d([[3], [4]], undefined, "int32"),
      ),
    ]);
  },
});

Deno.test({
  name: "fused gelu and layerNorm equal their composite form, forward and backward",
  ignore,
  fn() {
    const x = tf.mul(seeded([10, 16], 80), 2);
    const gamma = seeded([16], 81) as tf.Tensor1D, beta = seeded([16], 82) as tf.Tensor1D;
    const dy = seeded([10, 16], 83);
    const both = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      gelu(layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D));
    assertSameAsStock("forward", () => both(x, gamma, beta));
    assertSameAsStock("gradients", () => tf.grads(both)([x, gamma, beta], dy));
    assert.throws(
      () => layerNorm(x, seeded([3], 84) as tf.Tensor1D, beta),
      /must have shape \[16\]/,
    );
  },
});

Deno.test({
  name: "gradients of a small network are equal with and without BLAS",
  ignore,
  fn() {
    const w1 = tf.variable(seeded([24, 32], 90)), b1 = tf.variable(seeded([32], 91));
    const gamma = tf.variable(tf.ones([32])), beta = tf.variable(tf.zeros([32]));
    const w2 = tf.variable(seeded([32, 10], 92)), b2 = tf.variable(seeded([10], 93));
    const input = seeded([3, 8, 24], 94);
    const labels = tf.oneHot(
      tf.tensor1d(
        [1, 4, 7, 2, 9, 0, 3, 3, 5, 6, 8, 1, 2, 2, 0, 7, 4, 4, 1, 9, 6, 5, 3, 8],
        "int32",
      ),
      10,
    );
    const loss = () => {
      const flat = tf.reshape(input, [24, 24]) as tf.Tensor2D;
      const h = tf.fused.matMul({ a: flat, b: w1 as tf.Tensor2D, bias: b1, activation: "relu" });
      const normed = gelu(layerNorm(h, gamma as tf.Tensor1D, beta as tf.Tensor1D));
      const attn = tf.matMul(tf.softmax(tf.matMul(normed, normed, false, true)), normed);
      const logits = tf.fused.matMul({ a: attn, b: w2 as tf.Tensor2D, bias: b2 });
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    };
    assertSameAsStock("network gradients", () => {
      const { value, grads } = tf.variableGrads(loss);
      return [value, ...Object.values(grads)];
    });
  },
});

Deno.test({
  name: "installing and uninstalling restores the stock kernels",
  ignore,
  fn() {
    const stock = tf.getKernel("BatchMatMul", "cpu").kernelFunc;
    const installed = installBlasKernels(blas as Exclude<typeof blas, Error>);
    assert.notEqual(tf.getKernel("BatchMatMul", "cpu").kernelFunc, stock);
    assert.ok(installed.kernelNames.includes("_FusedMatMul"));
    installBlasKernels(blas as Exclude<typeof blas, Error>); // re-install replaces, not stacks
    uninstallBlasKernels();
    assert.equal(tf.getKernel("BatchMatMul", "cpu").kernelFunc, stock);
    assert.equal(tf.getKernel("FlowmapGelu", "cpu"), undefined);
  },
});

Deno.test({
  name: "sgemm rejects operands too short for their shape instead of reading past them",
  ignore,
  fn() {
    const lib = loadBlas();
    const c = new Float32Array(4);
    lib.sgemm(
      false,
      false,
      2,
      2,
      1,
      1,
      Float32Array.of(1, 2),
      1,
      Float32Array.of(3, 4),
      2,
      0,
      c,
      2,
    );
    assert.deepEqual([...c], [3, 4, 6, 8]);
    assert.throws(
      () =>
        lib.sgemm(
          false,
          false,
          2,
          2,
          2,
          1,
          new Float32Array(3),
          2,
          new Float32Array(4),
          2,
          0,
          c,
          2,
        ),
      /A holds 3 floats, needs 4/,
    );
    assert.throws(
      () =>
        lib.sgemm(false, true, 2, 2, 2, 1, new Float32Array(4), 1, new Float32Array(4), 2, 0, c, 2),
      /leading dimension of A is 1, needs at least 2/,
    );
  },
});

Deno.test({
  name:
    "layout kernels (Slice, SplitV, Concat, PadV2, UnsortedSegmentSum) equal stock, with gradients",
  ignore,
  fn() {
    const x = seeded([3, 5, 4, 6], 11);
    const boxes: [number[], number[]][] = [
      [[0, 0, 0, 0], [3, 5, 4, 6]],
      [[1, 0, 0, 0], [1, 5, 4, 6]],
      [[0, 2, 1, 0], [3, 2, 3, 6]],
      [[0, 0, 0, 2], [3, 5, 4, 3]],
      [[2, 4, 3, 5], [1, 1, 1, 1]],
      [[0, 1, 0, 0], [-1, 3, -1, -1]],
      [[0, 0, 0, 0], [0, 5, 4, 6]],
    ];
    for (const [begin, size] of boxes) {
      assertSameAsStock(`slice ${begin} ${size}`, () => tf.slice(x, begin, size));
    }
    for (const [axis, parts] of [[0, 3], [1, 5], [2, 2], [3, 3], [-1, 2]]) {
      assertSameAsStock(`split ${parts} axis ${axis}`, () => tf.split(x, parts, axis));
    }
    assertSameAsStock("split sizes", () => tf.split(x, [1, -1, 2], 1));
    assertSameAsStock("pad", () => tf.pad(x, [[0, 1], [2, 0], [1, 1], [0, 3]], 0.5));
    const dy = seeded([3, 2, 3, 6], 12);
    const sliceGrad = tf.grad((v: tf.Tensor) => tf.slice(v, [0, 2, 1, 0], [3, 2, 3, 6]));
    assertSameAsStock("slice grad", () => sliceGrad(x, dy));
    const a = seeded([2, 8, 16], 13), b = seeded([2, 64, 16], 14), dc = seeded([2, 72, 16], 15);
    const concatGrads = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.concat([p, q], 1));
    assertSameAsStock("concat grads", () => concatGrads([a, b], dc));
    for (const axis of [0, 1, 2, -1]) {
      const parts = [[3, 5, 4, 6], [3, 5, 4, 6], [3, 5, 4, 6]].map((shape, i) => {
        shape[axis < 0 ? 3 : axis] = i + 1;
        return seeded(shape, 20 + i);
      });
      assertSameAsStock(`concat axis ${axis}`, () => tf.concat(parts, axis));
    }
    assertSameAsStock("concat of one", () => tf.concat([x], 2));
    const table = seeded([23, 16], 16),
      ids = tf.tensor2d([[0, 3, 3, 22], [5, 0, 22, 7]], [2, 4], "int32");
    const gatherGrad = tf.grad((v: tf.Tensor) => tf.gather(v, ids));
    assertSameAsStock("gather grad", () => gatherGrad(table, seeded([2, 4, 16], 17)));
    const segmentIds = tf.tensor1d([2, 0, 2, 9], "int32");
    assertSameAsStock(
      "segment sum",
      () => tf.unsortedSegmentSum(seeded([4, 3, 2], 18), segmentIds, 4),
    );
  },
});

Deno.test("a missing BLAS library is a clear error naming the override variable", () => {
  const missing = "/nonexistent/libopenblas-missing.so";
  assert.throws(() => loadBlas({ library: missing }), (error: unknown) => {
    assert.ok(error instanceof BlasUnavailableError);
    assert.match(error.message, /no BLAS library could be loaded/);
    assert.match(error.message, new RegExp(BLAS_LIB_ENV));
    assert.match(error.message, /libopenblas-missing\.so/);
    return true;
  });
  assert.ok(tryLoadBlas({ library: missing }) instanceof BlasUnavailableError);
});
