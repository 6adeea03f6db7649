/**
 * `deno task bench-steer`: held-out strict composition accuracy against NFE
 * per image for plain sampling (K = 1, 2, 4), Best-of-N (N = 2, 4, 8, 16) and
 * posterior steering (M = 2…16), on both bundled models. The steering reward
 * is the SDK's `compositionReward()` (partial credit); the metric is strict
 * accuracy from the same evaluator. Strength and inner schedule of posterior
 * steering are tuned on training prompts first; held-out prompts play no part.
 *
 * Writes the "Reward steering" section of docs/benchmarks.md, an accuracy /
 * NFE plot and a sample grid per model under docs/.
 *
 * @example
 * ```sh
 * npx -y deno@2.9.6 task bench-steer --prompts 256
 * ```
 *
 * @module
 */

import {
  compositionReward,
  encodeImage,
  generate,
  generateSteered,
  type Image,
  loadModel,
  type Model,
  type SteeringOptions,
} from "../mod.ts";
import { parseFlags, runCommand } from "../cli/command.ts";
import { writeDocsSection } from "./bench/docs_section.ts";
import { evaluateImage } from "../src/shapes/verdict.ts";
import { splitPrompts } from "../trainer/data/splits.ts";
import { heldOutPrompts } from "../trainer/eval/evaluate.ts";
import { imageGrid, linePlot } from "../trainer/eval/pictures.ts";

const HELP = `Usage: deno task bench-steer [--prompts P] [--tune T] [--out docs]

  --prompts P   held-out prompts (default 256), seed 900000 + i for prompt i
  --tune T      training prompts for tuning strength and inner schedule (default 64)
  --out DIR     where benchmarks.md and the PNGs go (default docs)`;

const MODELS = ["shapes-meanflow", "shapes-scm"] as const;
const SEED = 900_000, TUNE_SEED = 700_000, CHUNK = 32;
const STRENGTHS = [5, 20, 100];
const INNERS = [[0.5], [0.25]];

interface Row {
  readonly model: string;
  readonly method: string;
  readonly setting: string;
  readonly nfe: number;
  readonly rewardCalls: number;
  readonly strict: number;
  readonly partial: number;
  readonly msPerImage: number;
  readonly images: Image[];
}

type Run = (model: Model, prompts: readonly string[], seed: number) => Promise<{
  images: Image[];
  nfe: number;
  rewardCalls: number;
}>;

const plain = (steps: number): Run => async (model, prompts, seed) => ({
  images: await generate(model, { prompts, seed, steps }),
  nfe: steps,
  rewardCalls: 0,
});

const steered = (steering: Omit<SteeringOptions, "reward">): Run => (model, prompts, seed) =>
  generateSteered(model, { prompts, seed, steering: { reward: compositionReward(), ...steering } });

async function measure(
  model: Model,
  run: Run,
  prompts: readonly string[],
  seed: number,
): Promise<Omit<Row, "model" | "method" | "setting">> {
  const images: Image[] = [];
  let nfe = 0, rewardCalls = 0;
  const start = performance.now();
  for (let at = 0; at < prompts.length; at += CHUNK) {
    const result = await run(model, prompts.slice(at, at + CHUNK), seed + at);
    images.push(...result.images);
    nfe = result.nfe;
    rewardCalls = result.rewardCalls;
  }
  const msPerImage = (performance.now() - start) / prompts.length;
  const verdicts = images.map((image, i) => evaluateImage(image, prompts[i]));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    nfe,
    rewardCalls,
    strict: mean(verdicts.map((v) => Number(v.strict))),
    partial: mean(verdicts.map((v) => v.partial)),
    msPerImage,
    images,
  };
}

async function tune(model: Model, prompts: readonly string[]) {
  let best = { strength: STRENGTHS[0], inner: INNERS[0], strict: -1 };
  const lines: string[] = [];
  for (const inner of INNERS) {
    for (const strength of STRENGTHS) {
      const run = steered({
        method: "posterior",
        particles: 6,
        strength,
        inner: { fractions: inner },
      });
      const { strict } = await measure(model, run, prompts, TUNE_SEED);
      lines.push(`strength ${strength}, inner [${inner}]: ${pct(strict)}`);
      if (strict > best.strict) best = { strength, inner, strict };
    }
  }
  return { ...best, lines };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)} %`;
}

async function benchModel(
  name: string,
  prompts: readonly string[],
  tunePrompts: readonly string[],
) {
  await using model = await loadModel(`src/models/${name}/model.onnx`);
  const tuned = await tune(model, tunePrompts);
  console.error(`${name}: tuned strength ${tuned.strength}, inner [${tuned.inner}]`);
  const rows: Row[] = [];
  const add = async (method: string, setting: string, run: Run) => {
    const row = { model: name, method, setting, ...await measure(model, run, prompts, SEED) };
    console.error(
      `${name} ${method} ${setting}: NFE ${row.nfe}, strict ${pct(row.strict)}, ` +
        `${row.msPerImage.toFixed(1)} ms/image`,
    );
    rows.push(row);
  };
  for (const k of [1, 2, 4]) await add("plain", `K = ${k}`, plain(k));
  for (const n of [2, 4, 8, 16]) {
    await add("best-of-N", `N = ${n}`, steered({ method: "best-of-n", particles: n }));
  }
  // M = 2, 4, 8, 16 and the M whose NFE equals best-of-N's at N = 4, 8, 16:
  // per outer step a two-time map spends 2 + M NFE, a one-time map 1 + M
  const offset = model.info.kind === "two-time" ? 2 : 1;
  const ms = [...new Set([2, 4, 8, 16, ...[4, 8, 16].map((n) => n - offset)])].sort((a, b) =>
    a - b
  );
  for (const m of ms) {
    await add(
      "posterior",
      `M = ${m}`,
      steered({
        method: "posterior",
        particles: m,
        strength: tuned.strength,
        inner: { fractions: tuned.inner },
      }),
    );
  }
  return { name, rows, tuned };
}

function table(rows: readonly Row[]): string {
  const lines = [
    "| model | method | setting | NFE / image | reward calls / image | strict | partial | ms / image |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.model} | ${r.method} | ${r.setting} | ${r.nfe} | ${r.rewardCalls} | ${
        pct(r.strict)
      } | ` +
        `${pct(r.partial)} | ${r.msPerImage.toFixed(1)} |`,
    );
  }
  return lines.join("\n");
}

/** Budgets where both methods were measured at the same NFE, and who won. */
function equalBudgets(rows: readonly Row[]): string[] {
  const out: string[] = [];
  for (const p of rows.filter((r) => r.method === "posterior")) {
    const b = rows.find((r) => r.method === "best-of-N" && r.nfe === p.nfe);
    if (!b) continue;
    const verdict = p.strict > b.strict
      ? "posterior wins"
      : p.strict < b.strict
      ? "best-of-N wins"
      : "tie";
    out.push(
      `NFE ${p.nfe}: posterior (${p.setting}) ${pct(p.strict)} vs best-of-N (${b.setting}) ` +
        `${pct(b.strict)}: ${verdict}`,
    );
  }
  return out;
}

interface Options {
  readonly prompts: string;
  readonly tune: string;
  readonly out: string;
}

function parse(args: string[]): Options | "help" {
  const values = parseFlags(args, {
    prompts: { type: "string", default: "256" },
    tune: { type: "string", default: "64" },
    out: { type: "string", default: "docs" },
    help: { type: "boolean" },
  });
  return values.help ? "help" : values;
}

async function main(values: Options): Promise<void> {
  const count = Number(values.prompts), tuneCount = Number(values.tune);
  if (
    !(Number.isSafeInteger(count) && count > 0 && Number.isSafeInteger(tuneCount) && tuneCount > 0)
  ) {
    throw new RangeError("--prompts and --tune must be positive integers");
  }
  const prompts = heldOutPrompts(count);
  const pool = splitPrompts("train");
  const tunePrompts = Array.from(
    { length: tuneCount },
    (_, i) => pool[Math.floor((i * pool.length) / tuneCount)],
  );
  await Deno.mkdir(values.out, { recursive: true });
  const parts: string[] = [];
  for (const name of MODELS) {
    const { rows, tuned } = await benchModel(name, prompts, tunePrompts);
    const colours = { plain: [40, 90, 200], "best-of-N": [220, 120, 20], posterior: [30, 150, 60] };
    const plot = linePlot(
      (["plain", "best-of-N", "posterior"] as const).map((method) => ({
        points: rows.filter((r) => r.method === method).map((r) => [r.nfe, r.strict] as const),
        color: colours[method] as [number, number, number],
      })),
    );
    await Deno.writeFile(`${values.out}/steering-accuracy-${name}.png`, await encodeImage(plot));
    const pick = (method: string, setting: string) =>
      rows.find((r) => r.method === method && r.setting === setting)!.images.slice(0, 8);
    const grid = imageGrid([
      pick("plain", "K = 2"),
      pick("best-of-N", "N = 8"),
      pick("posterior", `M = ${8 - (name === "shapes-scm" ? 1 : 2)}`),
    ], 3);
    await Deno.writeFile(`${values.out}/steering-samples-${name}.png`, await encodeImage(grid));
    parts.push(
      `### ${name}\n\n` +
        `Tuned on ${tuneCount} training prompts (posterior, M = 6, strict accuracy): ` +
        `${
          tuned.lines.join("; ")
        }. Chosen: strength ${tuned.strength}, inner fractions [${tuned.inner}].\n\n` +
        `${table(rows)}\n\nEqual NFE: ${equalBudgets(rows).join("; ") || "none"}.\n\n` +
        `![strict accuracy against NFE per image (blue plain, orange best-of-N, green posterior)](steering-accuracy-${name}.png)\n\n` +
        `![rows: plain K = 2, best-of-N N = 8, posterior at best-of-8's NFE; first ${
          Math.min(8, count)
        } held-out prompts](steering-samples-${name}.png)`,
    );
  }
  const section = `## Reward steering\n\n` +
    "`deno task bench-steer --prompts " + count + " --tune " + tuneCount + "` " +
    `(${count} held-out prompts, seed ${SEED} + i; reward \`compositionReward()\` (partial credit); ` +
    `metric: strict accuracy; best-of-N and posterior on the model's default K = 2 grid; ` +
    `ms / image is wall time on the shared 2-core machine, batches of ${CHUNK} prompts).\n\n` +
    parts.join("\n\n");
  await writeDocsSection(`${values.out}/benchmarks.md`, "bench-steer", section);
}

if (import.meta.main) {
  Deno.exit(await runCommand("bench-steer", Deno.args, { help: HELP, parse, run: main }));
}
