// Saved tensors as shared handles: the same gradients without a single
// Identity kernel, no tensor left behind, and nested gradients unchanged.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs"; // gradients
import "@tensorflow/tfjs-backend-cpu";
import { profileCpuKernels } from "../../kernels/tfjs-profile.ts";
import {
  installSavedTensorSharing,
  uninstallSavedTensorSharing,
} from "../../kernels/tfjs-saved.ts";

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
  installSavedTensorSharing();
  try {
    const shared = gradients();
    assert.deepEqual(shared.values, cloned.values);
    assert.equal(shared.identities, 0);
    assert.equal(shared.leaked, 0);
  } finally {
    uninstallSavedTensorSharing();
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
  installSavedTensorSharing();
  try {
    assert.deepEqual(second(), expected);
  } finally {
    uninstallSavedTensorSharing();
  }
});
