// The tape patches: saved tensors as shared handles (the same gradients
// without a single Identity kernel, nothing left behind, nested gradients
// unchanged), and stand-ins instead of zeros for outputs without a gradient.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import type { NamedTensorMap } from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs"; // gradients
import "@tensorflow/tfjs-backend-cpu";
import { profileCpuKernels } from "../../kernels/tfjs-profile.ts";
import { float32Values, registerCpuKernels } from "../../kernels/tfjs-registry.ts";
import {
  declareOutputsWithoutGradient,
  installTapePatches,
  isRecordingGradients,
  uninstallTapePatches,
} from "../../kernels/tfjs-tape.ts";

tf.env().set("PROD", true);
await tf.setBackend("cpu");

/** Gradients of a small network-like function, with its Identity kernel count and leaks. */
function gradients(): { values: Float32Array[]; identities: number; leaked: number } {
  const before = tf.memory().numTensors;
  let values: Float32Array[] = [];
  const profile = profileCpuKernels(() => {
    values = tf.tidy(() => {
      const x = tf.randomNormal([6, 5], 0, 1, "float32", 1);
      const w = tf.randomNormal([5, 4], 0, 1, "float32", 2);
      const f = (x: tf.Tensor, w: tf.Tensor) =>
        tf.sum(tf.mul(tf.sigmoid(tf.matMul(x, w)), tf.exp(tf.matMul(x, w))));
      return tf.grads(f)([x, w]).map((g) => g.dataSync() as Float32Array);
    });
  });
  const identities = profile.find((k) => k.kernelName === "Identity")?.calls ?? 0;
  return { values, identities, leaked: tf.memory().numTensors - before };
}

Deno.test("sharing saved tensors gives the same gradients with no Identity copies or leaks", () => {
  const cloned = gradients();
  assert.ok(cloned.identities > 0, "TF.js clones what it saves");
  installTapePatches();
  try {
    const shared = gradients();
    assert.deepEqual(shared.values, cloned.values);
    assert.equal(shared.identities, 0);
    assert.equal(shared.leaked, 0);
  } finally {
    uninstallTapePatches();
  }
  assert.equal(gradients().identities, cloned.identities, "uninstalled: clones again");
});

Deno.test("second derivatives are unchanged with shared saved tensors", () => {
  const second = () =>
    tf.tidy(() => {
      const cube = (x: tf.Tensor) => tf.sum(tf.mul(tf.mul(x, x), tf.sin(x)));
      const slope = (x: tf.Tensor) => tf.sum(tf.grad(cube)(x));
      return tf.grad(slope)(tf.tensor1d([0.5, -1, 2])).dataSync() as Float32Array;
    });
  const expected = second();
  installTapePatches();
  try {
    assert.deepEqual(second(), expected);
  } finally {
    uninstallTapePatches();
  }
});

// x² with its slope 2x as a second output saved for the gradient, like GELU
const SQUARE = "TapeTestSquareWithSlope";
registerCpuKernels({
  [SQUARE]: ({ inputs, backend }) => {
    const x = float32Values(backend, inputs.x)!;
    const shape = inputs.x!.shape;
    return [
      backend.makeTensorInfo(shape, "float32", x.map((v) => v * v)),
      backend.makeTensorInfo(shape, "float32", x.map((v) => 2 * v)),
    ];
  },
});
declareOutputsWithoutGradient(SQUARE, [1]);
const slopeGradients: tf.Tensor[] = [];
tf.registerGradient({
  kernelName: SQUARE,
  outputsToSave: [false, true],
  gradFunc: (dy, [slope]) => {
    slopeGradients.push((dy as tf.Tensor[])[1]);
    return { x: () => tf.mul((dy as tf.Tensor[])[0], slope) };
  },
});

Deno.test("an output declared without gradient gets a stand-in, not a new zero tensor", () => {
  const run = () =>
    tf.tidy(() => {
      const x = tf.tensor1d([1, -2, 3]);
      let slope: tf.Tensor | undefined;
      const grad = tf.grad((x: tf.Tensor) => {
        assert.ok(isRecordingGradients());
        const [y, s] = tf.engine().runKernel(SQUARE, { x } as NamedTensorMap) as tf.Tensor[];
        slope = s;
        return tf.sum(y);
      })(x);
      return { grad: [...grad.dataSync()], standIn: slopeGradients.pop() === slope };
    });
  assert.equal(isRecordingGradients(), false);
  assert.deepEqual(run(), { grad: [2, -4, 6], standIn: false }, "TF.js: zeros");
  installTapePatches();
  try {
    assert.deepEqual(run(), { grad: [2, -4, 6], standIn: true });
  } finally {
    uninstallTapePatches();
  }
});
