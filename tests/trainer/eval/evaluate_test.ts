import assert from "node:assert/strict";
import type { Image } from "../../../src/image.ts";
import { splitPrompts } from "../../../trainer/data/splits.ts";
import { heldOutPrompts, withinPromptDiversity } from "../../../trainer/eval/evaluate.ts";
import { imageGrid, linePlot } from "../../../trainer/eval/pictures.ts";
import { markdownTable } from "../../../trainer/eval/table.ts";
import { main } from "../../../trainer/train.ts";

const solid = (value: number): Image => ({
  width: 2,
  height: 2,
  channels: 3,
  data: new Uint8Array(12).fill(value),
});

Deno.test("eval: held-out prompts come from the eval split only, spread over it", () => {
  const prompts = heldOutPrompts(16);
  const pool = new Set(splitPrompts("eval"));
  assert.equal(prompts.length, 16);
  assert.ok(prompts.every((p) => pool.has(p)));
  assert.equal(new Set(prompts).size, 16);
});

Deno.test("eval: within-prompt diversity averages pairwise distances per prompt", () => {
  // prompt 1: identical seeds (0); prompt 2: 0 vs 255 vs 0 → pairs 1, 0, 1 → 2/3
  const images = [solid(9), solid(9), solid(9), solid(0), solid(255), solid(0)];
  assert.ok(Math.abs(withinPromptDiversity(images, 3) - (0 + 2 / 3) / 2) < 1e-12);
  assert.equal(withinPromptDiversity(images, 1), 0);
});

Deno.test("eval: the table lists every K with base, trained and the difference", () => {
  const s = (strict: number) => ({ strict, partial: 0.5, jpegKb: 1.25, diversity: 0.1 });
  const md = markdownTable({
    iteration: 40,
    prompts: 32,
    seedsPerPrompt: 2,
    rows: [{ steps: 1, base: s(0.25), trained: s(0.5) }, {
      steps: 2,
      base: s(0.5),
      trained: s(0.25),
    }],
  });
  assert.match(md, /after 40 iterations: 32 prompts × 2 seeds/);
  assert.match(md, /\| 1 \| 25\.0 \| 50\.0 \| \+25\.0 \|/);
  assert.match(md, /\| 2 \| 50\.0 \| 25\.0 \| -25\.0 \|/);
});

Deno.test("eval pictures: grid geometry and a plot that draws its series", () => {
  const grid = imageGrid([[solid(200), solid(200)], [solid(10)]], 3, 1);
  assert.equal(grid.width, 2 * 6 + 3);
  assert.equal(grid.height, 2 * 6 + 3);
  assert.equal(grid.data[(1 * grid.width + 1) * 3], 200);
  assert.equal(grid.data[((1 + 6 + 1) * grid.width + 1) * 3], 10);
  const plot = linePlot([{ points: [[0, 0], [1, 1]], color: [200, 0, 0] }], 100, 80);
  assert.equal(plot.data.length, 100 * 80 * 3);
  let red = 0;
  for (let i = 0; i < plot.data.length; i += 3) {
    if (plot.data[i] === 200 && plot.data[i + 1] === 0) red++;
  }
  assert.ok(red > 50, `${red} red pixels`);
});

Deno.test("train CLI: --help, missing and bad arguments give one-line errors", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (message: string) => errors.push(message);
  try {
    assert.equal(await main(["--nope"]), 2);
    assert.equal(await main([]), 2);
    assert.equal(await main(["--config", "x.json", "--resume"]), 2);
    assert.equal(await main(["--config", "trainer/configs/missing.json"]), 1);
  } finally {
    console.error = original;
  }
  assert.match(errors[0], /^train: Unknown option '--nope'/);
  assert.equal(errors[1], "train: --config <file.json> is required (see --help)");
  assert.equal(errors[2], "train: --resume needs --out <run directory>");
  assert.match(errors[3], /^train: cannot read config trainer\/configs\/missing\.json/);
  assert.ok(errors.every((e) => !e.includes("\n")));
});
