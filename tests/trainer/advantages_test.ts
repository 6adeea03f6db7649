import assert from "node:assert/strict";
import { computeAdvantages, STD_EPSILON } from "../../trainer/advantages.ts";

const close = (actual: ArrayLike<number>, expected: number[], tolerance = 1e-5) =>
  expected.forEach((e, i) =>
    assert.ok(Math.abs(actual[i] - e) <= tolerance, `[${i}] ${actual[i]} vs ${e}`)
  );

const prompts = ["p", "p", "q", "q"];

Deno.test("advantages: group normalises within each prompt's group (population std)", () => {
  const rewards = Float32Array.of(1, 0, 0.5, 0.25);
  const [a, b] = computeAdvantages({ rewards, prompts, stochasticSteps: 2 }, {
    mode: "group",
    sum: false,
    clip: 5,
  });
  const g = 0.5 / (0.5 + STD_EPSILON), h = 0.125 / (0.125 + STD_EPSILON);
  close(a, [g, -g, h, -h]);
  assert.equal(a, b, "every transition shares the final advantage");
});

Deno.test("advantages: per-prompt-global-std divides by the std of the whole batch", () => {
  const rewards = Float32Array.of(1, 0, 0.5, 0.25);
  const mean = 0.4375;
  const std = Math.sqrt([1, 0, 0.5, 0.25].reduce((s, r) => s + (r - mean) ** 2, 0) / 4);
  const [a] = computeAdvantages({ rewards, prompts, stochasticSteps: 1 }, {
    mode: "per-prompt-global-std",
    sum: false,
    clip: 5,
  });
  const d = std + STD_EPSILON;
  close(a, [0.5 / d, -0.5 / d, 0.125 / d, -0.125 / d]);
});

Deno.test("advantages: clipped to ±A_max; a constant group gets 0", () => {
  const rewards = new Float32Array(100);
  rewards[0] = 1;
  const [a] = computeAdvantages({
    rewards,
    prompts: Array(100).fill("p"),
    stochasticSteps: 1,
  }, { mode: "group", sum: false, clip: 5 });
  assert.equal(a[0], 5); // (1 − 0.01) / 0.0995 ≈ 9.95 before the clamp
  close([a[1]], [-0.01 / (Math.sqrt(0.0099) + STD_EPSILON)]);
  const [flat] = computeAdvantages({
    rewards: Float32Array.of(0.3, 0.3),
    prompts: ["p", "p"],
    stochasticSteps: 1,
  }, { mode: "group", sum: false, clip: 5 });
  close(flat, [0, 0]);
});

Deno.test("advantages: step-aware shifts per-step advantages by one; sum adds them", () => {
  // P = 3: endpoint-estimate rewards at x_1 and x_2, then the final images
  const stepRewards = [Float32Array.of(0, 1, 0, 0), Float32Array.of(1, 0, 1, 0)];
  const rewards = Float32Array.of(1, 1, 0, 1);
  const inputs = { rewards, prompts, stepRewards, stochasticSteps: 3 };
  const g = 0.5 / (0.5 + STD_EPSILON);
  const [a0, a1, a2] = computeAdvantages(inputs, { mode: "step-aware", sum: false, clip: 5 });
  close(a0, [-g, g, 0, 0]); // transition 0 → reward of the estimate at x_1
  close(a1, [g, -g, g, -g]); // transition 1 → x_2
  close(a2, [0, 0, -g, g]); // last stochastic transition → final image
  const summed = computeAdvantages(inputs, { mode: "step-aware", sum: true, clip: 5 });
  close(summed[0], [0, 0, 0, 0]);
  close(summed[0], Array.from(summed[2]));
  assert.throws(
    () =>
      computeAdvantages({ rewards, prompts, stochasticSteps: 3 }, {
        mode: "step-aware",
        sum: false,
        clip: 5,
      }),
    /need 2 arrays/,
  );
});
