import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { AdamW, WeightEma } from "../../trainer/optimizer.ts";

const options = {
  lr: 0.1,
  betas: [0.9, 0.999] as const,
  weightDecay: 0.01,
  eps: 1e-8,
  gradClip: 1,
};

Deno.test("AdamW: matches torch.optim.AdamW by hand, with accumulation and norm clipping", () => {
  const w = tf.variable(tf.tensor1d([1, -2]));
  const opt = new AdamW([w], options);
  // two accumulated halves of the gradient (0.3, -0.4): norm 0.5, no clipping
  opt.accumulate({ [w.name]: tf.tensor1d([0.3, -0.4]) }, 0.5);
  opt.accumulate({ [w.name]: tf.tensor1d([0.3, -0.4]) }, 0.5);
  assert.ok(Math.abs(opt.step() - 0.5) < 1e-7);
  // step 1: m̂ = g, v̂ = g², update = lr·g/(|g| + eps) = ±lr, after decay w·(1 − lr·wd)
  const expected1 = [1 * (1 - 0.001) - 0.1, -2 * (1 - 0.001) + 0.1];
  w.dataSync().forEach((v, i) => assert.ok(Math.abs(v - expected1[i]) < 1e-6));
  // step 2 with a gradient of norm 5: clipped to norm 1 (scale 1/(5 + 1e-6))
  opt.accumulate({ [w.name]: tf.tensor1d([3, 4]) }, 1);
  assert.ok(Math.abs(opt.step() - 5) < 1e-6);
  const s = 1 / (5 + 1e-6);
  const g1 = [0.3, -0.4], g2 = [3 * s, 4 * s];
  const expected2 = expected1.map((w1, i) => {
    const m = 0.9 * 0.1 * g1[i] + 0.1 * g2[i];
    const v = 0.999 * 0.001 * g1[i] ** 2 + 0.001 * g2[i] ** 2;
    return w1 * (1 - 0.001) - 0.1 * (m / (1 - 0.9 ** 2)) / (Math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8);
  });
  w.dataSync().forEach((v, i) =>
    assert.ok(Math.abs(v - expected2[i]) < 1e-6, `${v} vs ${expected2[i]}`)
  );
  assert.equal(opt.state().step, 2);
  w.dispose();
});

Deno.test("AdamW: decays only the variables `decays` selects; step(lr) overrides the rate", () => {
  const w = tf.variable(tf.tensor2d([[1, -2]])), b = tf.variable(tf.tensor1d([3]));
  const opt = new AdamW([w, b], {
    ...options,
    weightDecay: 0.5,
    gradClip: 100,
    decays: (v) => v.rank === 2,
  });
  opt.accumulate({ [w.name]: tf.tensor2d([[0.5, -0.25]]), [b.name]: tf.tensor1d([2]) }, 1);
  assert.ok(Math.abs(opt.step(0.2) - Math.sqrt(0.25 + 0.0625 + 4)) < 1e-6);
  // first step: m̂/√v̂ = sign(g), so w ← w·(1 − lr·wd) − lr·sign(g) with lr = 0.2
  const expected = [1 * 0.9 - 0.2, -2 * 0.9 + 0.2];
  w.dataSync().forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `w[${i}] = ${v}`));
  assert.ok(Math.abs(b.dataSync()[0] - (3 - 0.2)) < 1e-6, "the bias is not decayed");
  tf.dispose([w, b]);
});

Deno.test("AdamW: gradients added from other workers join the accumulator; the clip sees their total", () => {
  const w = tf.variable(tf.tensor1d([1, -2])), alone = tf.variable(tf.tensor1d([1, -2]));
  const shared = new AdamW([w], options), reference = new AdamW([alone], options);
  // halves of the gradient (3, 4), one accumulated here, one added as another worker's array
  shared.accumulate({ [w.name]: tf.tensor1d([1.5, 2]) }, 1);
  shared.add([Float32Array.of(3, 4)], 0.5);
  reference.accumulate({ [alone.name]: tf.tensor1d([3, 4]) }, 1);
  assert.equal(shared.step(), 5);
  assert.equal(reference.step(), 5);
  assert.deepEqual(w.dataSync(), alone.dataSync());
  assert.throws(() => shared.add([Float32Array.of(1)], 1), /holds 1 values, needs 2/);
  assert.throws(() => shared.add([], 1), /0 gradients for 1 variables/);
  tf.dispose([w, alone]);
});

Deno.test("EMA: every 8 steps with decay min((1 + n)/(10 + n), 0.9)", () => {
  const ema = new WeightEma([Float32Array.of(0)], { decay: 0.9, every: 8 });
  const updates: number[] = [];
  for (let n = 0; n < 100; n++) if (ema.update([Float32Array.of(1)], n)) updates.push(n);
  assert.deepEqual(updates.slice(0, 3), [7, 15, 23]);
  let expected = 0;
  for (const n of updates) expected += (1 - Math.min((1 + n) / (10 + n), 0.9)) * (1 - expected);
  assert.ok(Math.abs(ema.values[0][0] - expected) < 1e-6);
  assert.ok(Math.min((1 + 95) / (10 + 95), 0.9) === 0.9, "the cap binds late in the run");
});
