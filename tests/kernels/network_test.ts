// The whole network with the fast kernels (BLAS, fused, WebAssembly) against
// TF.js's stock kernels: outputs and LoRA gradients, both map kinds.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs"; // gradients
import { tryLoadBlas } from "../../kernels/blas.ts";
import { installBlasKernels, uninstallBlasKernels } from "../../kernels/tfjs-blas.ts";
import { LoraAdapter } from "../../trainer/model/lora.ts";
import { TfFlowMap } from "../../trainer/model/tfjs.ts";
import { NormalStream } from "../../src/rng.ts";
import { randomInputs, randomParameters, tinyConfigs } from "../_model.ts";

tf.env().set("PROD", true);
await tf.setBackend("cpu");
const blas = tryLoadBlas();
const ignore = blas instanceof Error;
/** Norm-wise relative tolerance of the fast kernels against the stock ones. */
const TOLERANCE = 1e-4;

function relativeError(expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? diff : diff / scale; // e.g. the last block's text queries: no gradient
}

for (const config of tinyConfigs) {
  Deno.test({
    name:
      `network ${config.kind}: fast kernels give the stock kernels' outputs and LoRA gradients, ` +
      "pass after pass and after a step",
    ignore,
    fn() {
      const model = new TfFlowMap(config, randomParameters(config, 31), { trainable: false });
      const targets = [
        "to_q",
        "to_k",
        "to_v",
        "to_out.0",
        "add_q_proj",
        "ff.net.0.proj",
        "ff.net.2",
      ];
      const lora = new LoraAdapter(config, { rank: 4, alpha: 2, targets, seed: 5 });
      [...lora.b.values()].forEach((b, i) => {
        const data = new NormalStream(13, i).fill(new Float32Array(b.size)).map((v) => 0.2 * v);
        b.assign(tf.tensor(data, b.shape));
      });
      const host = randomInputs(config, 3, 7);
      const c = config;
      const run = () =>
        tf.tidy(() => {
          const inputs = {
            x: tf.tensor4d(host.x, [host.batch, c.channels, c.imageSize, c.imageSize]),
            t: tf.tensor1d(host.t),
            r: host.r && tf.tensor1d(host.r),
            tokens: tf.tensor2d(host.tokens, [host.batch, c.textLength], "int32"),
          };
          const weights = tf.randomNormal(inputs.x.shape, 0, 1, "float32", 3);
          const { value, grads } = tf.variableGrads(
            () => tf.sum(tf.mul(model.forward(inputs, lora), weights)) as tf.Scalar,
            lora.variables,
          );
          const output = model.forward(inputs, lora).dataSync() as Float32Array;
          const gradients = lora.variables.map((v) => grads[v.name].dataSync() as Float32Array);
          return [output, value.dataSync() as Float32Array, ...gradients];
        });
      const assertClose = (stock: Float32Array[], fast: Float32Array[], label: string) =>
        fast.forEach((values, i) => {
          const error = relativeError(stock[i], values);
          assert.ok(error <= TOLERANCE, `${label} result ${i}: relative error ${error}`);
        });
      try {
        uninstallBlasKernels();
        const stock = run();
        installBlasKernels(blas as Exclude<typeof blas, Error>);
        const fast = run();
        assertClose(stock, fast, "first pass");
        // outputs now land in arrays recycled from the first pass
        assert.deepEqual(run(), fast, "a second pass gives the same bits");
        // an optimiser step: new factors, merged again into the same weight arrays
        [...lora.a.values()].forEach((a, i) => a.assign(tf.mul(a, 1.5 + i)));
        const fastStep = run();
        uninstallBlasKernels();
        assertClose(run(), fastStep, "after a step");
      } finally {
        uninstallBlasKernels();
        lora.dispose();
        model.dispose();
      }
    },
  });
}
