/**
 * Measures the shapes world: renderer and evaluator throughput, the
 * evaluator's strict accuracy on ground truth, random noise and wrong
 * prompts, and a robustness table against Gaussian blur and pixel noise.
 * Prints markdown.
 *
 * @module
 */

import { UniformStream } from "../src/rng.ts";
import { createImage, type RgbImage } from "../src/shapes/image.ts";
import { addNoise, gaussianBlur } from "../trainer/data/perturb.ts";
import {
  allPrompts,
  canonicalKey,
  CATEGORIES,
  parsePrompt,
  type PromptSpec,
} from "../src/shapes/prompts.ts";
import { renderScene } from "../src/shapes/render.ts";
import { sampleScene } from "../src/shapes/scene.ts";
import { evaluateImage } from "../src/shapes/verdict.ts";
import { parseFlags, runCommand } from "../cli/command.ts";

const HELP = `Usage: deno run -A scripts/shapes-report.ts [options]

Prints a markdown report of the shapes world's renderer and pixel evaluator.

Options:
  --seeds <n>   layouts per prompt for the accuracy rows (default 2)
  --every <k>   robustness table uses every k-th prompt (default 2)
  --blur <list> blur sigmas in pixels (default 0,0.5,0.75,1,1.25,1.5,2)
  --noise <list> noise sigmas, fraction of full range (default 0,0.05,0.1,0.15,0.2,0.3)
  -h, --help    show this help`;

interface Options {
  readonly seeds: number;
  readonly every: number;
  readonly blurs: number[];
  readonly noises: number[];
}

function parseCommand(args: string[]): Options | "help" {
  const values = parseFlags(args, {
    seeds: { type: "string", default: "2" },
    every: { type: "string", default: "2" },
    blur: { type: "string", default: "0,0.5,0.75,1,1.25,1.5,2" },
    noise: { type: "string", default: "0,0.05,0.1,0.15,0.2,0.3" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) return "help";
  const seeds = Number(values.seeds), every = Number(values.every);
  const blurs = values.blur.split(",").map(Number), noises = values.noise.split(",").map(Number);
  if (
    ![seeds, every].every((v) => Number.isInteger(v) && v >= 1) ||
    [...blurs, ...noises].some((v) => !(v >= 0))
  ) {
    throw new Error("--seeds and --every must be integers ≥ 1, --blur and --noise numbers ≥ 0");
  }
  return { seeds, every, blurs, noises };
}

function run({ seeds, every, blurs, noises }: Options): void {
  const prompts = allPrompts();
  const specs = prompts.map(parsePrompt);
  const keys = specs.map(canonicalKey);

  // throughput: each stage runs once over all prompts to warm the JIT, then the best of 3 timed runs
  const rate = (work: () => void): number => {
    work();
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t = performance.now();
      work();
      best = Math.min(best, performance.now() - t);
    }
    return specs.length / (best / 1000);
  };
  const layouts = specs.map((spec, i) => sampleScene(spec, i));
  const rendered = layouts.map(renderScene);
  const sampleRate = rate(() => specs.forEach((spec, i) => sampleScene(spec, i + 1)));
  const renderRate = rate(() => layouts.forEach((scene) => renderScene(scene)));
  const evalRate = rate(() => specs.forEach((spec, i) => evaluateImage(rendered[i], spec)));

  // accuracy rows
  type Tally = { strict: number; partial: number; n: number };
  const tally = (): Tally => ({ strict: 0, partial: 0, n: 0 });
  const add = (row: Tally, image: RgbImage, spec: PromptSpec) => {
    const v = evaluateImage(image, spec);
    row.strict += Number(v.strict), row.partial += v.partial, row.n += 1;
  };
  const truth = tally(), noise = tally(), wrong = tally();
  for (const [i, spec] of specs.entries()) {
    const rng = new UniformStream(i, 99);
    for (let s = 0; s < seeds; s++) add(truth, renderScene(sampleScene(spec, 1000 * s + i)), spec);
    const random = createImage(32, 32);
    for (let k = 0; k < random.data.length; k++) random.data[k] = rng.nextInt(256);
    add(noise, random, spec);
    const others = prompts.filter((_, j) =>
      specs[j].category === spec.category && keys[j] !== keys[i]
    );
    add(wrong, renderScene(sampleScene(parsePrompt(others[rng.nextInt(others.length)]), i)), spec);
  }

  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const row = (name: string, r: Tally) =>
    `| ${name} | ${r.n} | ${pct(r.strict / r.n)} | ${pct(r.partial / r.n)} |`;
  console.log(`# Shapes world report

${prompts.length} prompts, 32×32 images, ${navigator.hardwareConcurrency} logical CPUs, one thread.

| stage | images/s |
| --- | ---: |
| scene sampling (layout) | ${sampleRate.toFixed(0)} |
| rendering | ${renderRate.toFixed(0)} |
| evaluation (detect + verdict) | ${evalRate.toFixed(0)} |

| evaluator on | images | strict | partial |
| --- | ---: | ---: | ---: |
${row(`ground truth (${seeds} layouts per prompt)`, truth)}
${row("uniform random noise", noise)}
${row("image of another prompt of the same category", wrong)}
`);

  // robustness table: strict accuracy (partial in parentheses) per corruption and category
  const subset = specs.filter((_, i) => i % every === 0);
  const header = `| corruption | all | ${CATEGORIES.join(" | ")} |`;
  console.log(
    `## Robustness (1 in ${every} prompts, ${subset.length} images per row; strict %, partial % in parentheses)

${header}
| --- | ---: | ${CATEGORIES.map(() => "---:").join(" | ")} |`,
  );
  const settings = [...blurs.map((b) => [b, 0]), ...noises.filter((n) => n > 0).map((n) => [0, n])];
  for (const [blur, sigma] of settings) {
    const all = tally();
    const per = new Map(CATEGORIES.map((c) => [c, tally()]));
    for (const [i, spec] of subset.entries()) {
      const clean = renderScene(sampleScene(spec, 7 + i));
      const image = addNoise(gaussianBlur(clean, blur), sigma, i);
      add(all, image, spec);
      add(per.get(spec.category)!, image, spec);
    }
    const cell = (r: Tally) =>
      `${(100 * r.strict / r.n).toFixed(1)} (${(100 * r.partial / r.n).toFixed(0)})`;
    const name = sigma > 0
      ? `noise σ = ${sigma} (${(255 * sigma).toFixed(0)} levels)`
      : `blur σ = ${blur} px`;
    console.log(
      `| ${name} | ${cell(all)} | ${CATEGORIES.map((c) => cell(per.get(c)!)).join(" | ")} |`,
    );
  }
}

if (import.meta.main) {
  Deno.exit(await runCommand("shapes-report", Deno.args, { help: HELP, parse: parseCommand, run }));
}
