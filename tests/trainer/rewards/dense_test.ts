import assert from "node:assert/strict";
import { renderPrompt } from "../../../trainer/data/dataset.ts";
import { addNoise, gaussianBlur } from "../../../trainer/data/perturb.ts";
import { allPrompts, parsePrompt } from "../../../src/shapes/prompts.ts";
import { evaluateImage } from "../../../src/shapes/verdict.ts";
import { compositionReward } from "../../../trainer/rewards/composition.ts";
import { denseCompositionScore } from "../../../trainer/rewards/dense.ts";

/** Every 7th prompt of the grammar: all categories, a few seconds of rendering. */
const PROMPTS = allPrompts().filter((_, i) => i % 7 === 0);

Deno.test("dense composition: renders of their own prompt score high, of another prompt low", () => {
  let own = 0, other = 0, pairs = 0;
  for (const [i, prompt] of PROMPTS.entries()) {
    const { image } = renderPrompt(prompt, i);
    const wrong = PROMPTS[(i + 1) % PROMPTS.length];
    const a = denseCompositionScore(image, parsePrompt(prompt));
    const b = denseCompositionScore(image, parsePrompt(wrong));
    assert.ok(a >= 0 && a <= 1 && b >= 0 && b <= 1, `${prompt}: ${a}, ${b}`);
    own += a, other += b, pairs++;
    assert.ok(a > b || evaluateImage(image, wrong).strict, `${prompt} vs ${wrong}: ${a} ≤ ${b}`);
  }
  assert.ok(own / pairs > 0.85, `mean on own prompts ${own / pairs}`);
  assert.ok(other / pairs < 0.5, `mean on other prompts ${other / pairs}`);
});

Deno.test("dense composition: each constraint moves the score (colour, shape, count, relation)", () => {
  const score = (rendered: string, asked: string, seed = 3) =>
    denseCompositionScore(renderPrompt(rendered, seed).image, parsePrompt(asked));
  const right = "a red circle left of a blue square";
  assert.ok(score(right, right) > score(right, "a red circle right of a blue square") + 0.1);
  assert.ok(score(right, right) > score(right, "a red circle left of a green square") + 0.1);
  assert.ok(score(right, right) > score(right, "a red triangle left of a blue square") + 0.1);
  assert.ok(score("two circles", "two circles") > score("two circles", "four circles") + 0.1);
  assert.ok(score("a circle", "a circle") > score("a circle", "a square") + 0.3);
});

Deno.test("dense composition: small pixel changes change the score a little, never a jump", () => {
  const prompt = "a green triangle and a red circle";
  const spec = parsePrompt(prompt);
  const { image } = renderPrompt(prompt, 11);
  const clean = denseCompositionScore(image, spec);
  let previous = clean;
  for (const sigma of [0.02, 0.04, 0.06, 0.08]) {
    const value = denseCompositionScore(addNoise(image, sigma, 5), spec);
    assert.ok(Math.abs(value - previous) < 0.1, `noise ${sigma}: ${previous} → ${value}`);
    previous = value;
  }
  const blurred = denseCompositionScore(gaussianBlur(image, 0.6), spec);
  assert.notEqual(blurred, clean, "a blur changes the score");
  assert.ok(Math.abs(blurred - clean) < 0.15, `blur: ${clean} → ${blurred}`);
});

Deno.test("dense composition is a composition reward mode", async () => {
  const reward = compositionReward({ mode: "dense" });
  assert.equal(reward.name, "composition:dense");
  const { image } = renderPrompt("a yellow square", 2);
  const [score] = await reward.score([image], ["a yellow square"]);
  assert.equal(score, Math.fround(denseCompositionScore(image, parsePrompt("a yellow square"))));
});
