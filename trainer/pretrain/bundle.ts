/**
 * The `evaluate` and `bundle` stages: held-out composition accuracy of the
 * teacher and both students at K = 1, 2, 4 through the SDK samplers, then
 * `src/models/shapes-{meanflow,scm}/` with the ONNX model, its external
 * weights, a model card and a sample grid. Bundling checks that ONNX
 * Runtime reproduces the TF.js network on the trained weights.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import * as ort from "onnxruntime-node";
import { modelGrid, timeGrid } from "../../src/grid.ts";
import { toImages } from "../../src/image.ts";
import { SHAPES_MAX_TOKENS, SHAPES_VOCABULARY, SHAPES_VOCABULARY_VERSION } from "../../src/text.ts";
import { evaluateImage } from "../../src/shapes/verdict.ts";
import { meanFlowConfig, type ModelConfig, pathOf, scmConfig } from "../model/config.ts";
import { forwardCost } from "../model/cost.ts";
import { emitOnnx } from "../model/onnx.ts";
import { TfFlowMap } from "../model/tfjs.ts";
import type { FlowMap } from "../../src/flowmap.ts";
import { trainingExample } from "../data/dataset.ts";
import { encodePrompts, exampleSeed } from "./batches.ts";
import { writeFileAtomic } from "../checkpoint.ts";
import { type Evaluation, type StudentName, writeCard } from "./card.ts";
import {
  accuracy,
  type AccuracyRow,
  asFlowMap,
  evalPrompts,
  sampleImages,
  tilePng,
} from "./evaluate.ts";
import { loadWeights, type PretrainSettings, stageFacts, teacherConfig } from "./stages.ts";
import { integrateGuided, trajectoryNoise } from "./trajectories.ts";

/** The two bundled students. */
export const STUDENTS: Readonly<Record<StudentName, { config: ModelConfig; directory: string }>> = {
  meanflow: { config: meanFlowConfig, directory: "shapes-meanflow" },
  scm: { config: scmConfig, directory: "shapes-scm" },
};

/** Step counts evaluated and shown on the cards. */
export const EVAL_STEPS: readonly number[] = [1, 2, 4];

/** Seed of held-out prompt `i` is `EVAL_SEED + i`; the prompt subset is shuffled with it too. */
export const EVAL_SEED = 900_000;

/**
 * Shift of the bundled models' K-step grids, recorded in their metadata
 * (docs/math.md §3): 1, the uniform rectified-flow grid (TrigFlow grids are
 * angular).
 */
export const SAMPLING_SHIFT = 1;

/**
 * The sampling grid of a bundled model at K steps: what `generate` gives for
 * it ({@linkcode modelGrid}), so the card shows the images users get.
 *
 * @example
 * ```ts
 * import { scmConfig } from "../model/config.ts";
 * import { bundledGrid } from "./bundle.ts";
 * bundledGrid(scmConfig, [1.56, 1.3, 0], 4).length; // 5
 * ```
 */
export function bundledGrid(
  config: ModelConfig,
  defaultGrid: readonly number[],
  steps: number,
): readonly number[] {
  const schedule = {
    path: pathOf(config),
    shift: SAMPLING_SHIFT,
    defaultGrid,
    defaultSteps: defaultGrid.length - 1,
  };
  return modelGrid(schedule, { steps });
}

/** Midpoints tried for the default two-step grid, as fractions of the start time. */
export const MIDPOINTS: readonly number[] = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/** Training prompts (and seeds `GRID_SEED + i`) that choose the default two-step grid. */
export const GRID_PROMPTS = 256;

/** Seed of the midpoint sweep's prompts and sampler seeds (training split only). */
export const GRID_SEED = 800_000;

/**
 * The two-step grid `[t_0, fraction·t_0, 0]` of a bundled model.
 *
 * @example
 * ```ts
 * import { meanFlowConfig } from "../model/config.ts";
 * import { twoStepGrid } from "./bundle.ts";
 * twoStepGrid(meanFlowConfig, 0.6); // [1, 0.6, 0]
 * ```
 */
export function twoStepGrid(config: ModelConfig, fraction: number): readonly number[] {
  const start = timeGrid(pathOf(config), { steps: 1 })[0];
  return [start, fraction * start, 0];
}

/**
 * Picks a student's default two-step grid: the midpoint of {@link MIDPOINTS}
 * with the best strict accuracy (then partial) on {@link GRID_PROMPTS}
 * training prompts. Held-out prompts never take part in the choice.
 *
 * @example
 * ```ts ignore
 * import { chooseTwoStepGrid } from "./bundle.ts";
 * const { grid, sweep } = await chooseTwoStepGrid(map, scmConfig, 0);
 * ```
 */
export async function chooseTwoStepGrid(
  map: FlowMap<Int32Array>,
  config: ModelConfig,
  seed: number,
): Promise<{ grid: readonly number[]; sweep: AccuracyRow[] }> {
  const prompts = Array.from(
    { length: GRID_PROMPTS },
    // examples 3e9 + i: apart from the trajectories (1e9 + i) and the guidance sweep (2e9 + i)
    (_, i) => trainingExample(exampleSeed(seed, 3e9 + i)).prompt,
  );
  const sweep = await accuracy(
    map,
    prompts,
    GRID_SEED,
    MIDPOINTS.map((f) => twoStepGrid(config, f)),
  );
  const best = sweep.reduce((a, b) =>
    b.strict > a.strict || (b.strict === a.strict && b.partial > a.partial) ? b : a
  );
  return { grid: best.grid, sweep };
}

/**
 * Evaluates the guided teacher and both students on `count` held-out prompts.
 *
 * @example
 * ```ts ignore
 * import { runEvaluate } from "./bundle.ts";
 * await runEvaluate(settings, 256);
 * ```
 */
export async function runEvaluate(s: PretrainSettings, count: number): Promise<Evaluation> {
  const prompts = evalPrompts(count, EVAL_SEED);
  const seeds = prompts.map((_, i) => EVAL_SEED + i);
  const { guidance, odeSteps } = JSON.parse(await Deno.readTextFile(`${s.out}/guidance.json`));
  const teacherModel = new TfFlowMap(teacherConfig, await loadWeights(s.out, "teacher"), {
    trainable: false,
  });
  let strict = 0, partial = 0;
  for (let start = 0; start < prompts.length; start += 64) {
    const chunk = prompts.slice(start, start + 64);
    const x = integrateGuided(
      teacherModel,
      trajectoryNoise(seeds.slice(start, start + 64), 3 * 32 * 32),
      encodePrompts(chunk),
      guidance,
      timeGrid(pathOf(teacherConfig), { steps: odeSteps }),
    );
    toImages({ data: x, shape: [chunk.length, 3, 32, 32] }).forEach((image, i) => {
      const verdict = evaluateImage(image, chunk[i]);
      strict += verdict.strict ? 1 : 0;
      partial += verdict.partial;
    });
  }
  teacherModel.dispose();
  const teacher = {
    guidance,
    steps: odeSteps,
    strict: strict / prompts.length,
    partial: partial / prompts.length,
  };
  s.log(`teacher (w ${guidance}, ${odeSteps} Euler steps): strict ${teacher.strict.toFixed(3)}`);
  const students = {} as Evaluation["students"];
  const defaultGrids = {} as Evaluation["defaultGrids"];
  const gridSweeps = {} as Evaluation["gridSweeps"];
  const line = (row: AccuracyRow) =>
    `K=${row.steps} [${row.grid.map((t) => t.toFixed(3))}]: strict ${
      row.strict.toFixed(3)
    } partial ${row.partial.toFixed(3)}`;
  for (const name of Object.keys(STUDENTS) as (StudentName)[]) {
    const { config } = STUDENTS[name];
    const model = new TfFlowMap(config, await loadWeights(s.out, name), { trainable: false });
    const map = asFlowMap(model);
    const choice = await chooseTwoStepGrid(map, config, s.seed);
    for (const row of choice.sweep) s.log(`${name} ${line(row)} (${GRID_PROMPTS} train prompts)`);
    defaultGrids[name] = choice.grid;
    gridSweeps[name] = choice.sweep;
    const grids = EVAL_STEPS.map((k) =>
      timeGrid(pathOf(config), { steps: k, shift: SAMPLING_SHIFT })
    );
    if (!grids.some((grid) => grid.join() === choice.grid.join())) grids.push(choice.grid);
    grids.sort((a, b) => a.length - b.length);
    students[name] = await accuracy(map, prompts, EVAL_SEED, grids);
    model.dispose();
    for (const row of students[name]) s.log(`${name} ${line(row)} (held out)`);
  }
  const evaluation: Evaluation = {
    prompts: prompts.length,
    seed: EVAL_SEED,
    teacher,
    students,
    defaultGrids,
    gridSweeps,
  };
  await writeFileAtomic(
    `${s.out}/evaluation.json`,
    new TextEncoder().encode(JSON.stringify(evaluation, null, 2)),
  );
  return evaluation;
}

/** Prompts of the sample grids (held-out prompts, one row each). */
export const SAMPLE_ROWS = 8;

/**
 * Writes both bundles from the run's weights and `evaluation.json`.
 *
 * @example
 * ```ts ignore
 * import { runBundle } from "./bundle.ts";
 * await runBundle(settings, "src/models");
 * ```
 */
export async function runBundle(s: PretrainSettings, models: string): Promise<void> {
  const evaluation = JSON.parse(
    await Deno.readTextFile(`${s.out}/evaluation.json`),
  ) as Evaluation;
  const rowPrompts = evalPrompts(SAMPLE_ROWS, EVAL_SEED);
  for (const name of Object.keys(STUDENTS) as (StudentName)[]) {
    const { config, directory } = STUDENTS[name];
    const dir = `${models}/${directory}`;
    await Deno.mkdir(dir, { recursive: true });
    const weights = await loadWeights(s.out, name);
    const files = emitOnnx(config, weights, {
      name: "model",
      tokenizer: {
        version: SHAPES_VOCABULARY_VERSION,
        maxTokens: SHAPES_MAX_TOKENS,
        vocabulary: SHAPES_VOCABULARY,
      },
      defaultGrid: evaluation.defaultGrids[name],
      shift: SAMPLING_SHIFT,
    });
    await writeFileAtomic(`${dir}/model.onnx`, files.model);
    await writeFileAtomic(`${dir}/${files.externalDataFile}`, files.externalData);

    const model = new TfFlowMap(config, weights, { trainable: false });
    const map = asFlowMap(model);
    const rows = [];
    for (const prompt of rowPrompts) {
      const seed = EVAL_SEED + rowPrompts.indexOf(prompt);
      const row = [];
      for (const k of EVAL_STEPS) {
        const grid = bundledGrid(config, evaluation.defaultGrids[name], k);
        row.push(...await sampleImages(map, [prompt], [seed], grid));
      }
      rows.push(row);
    }
    await writeFileAtomic(`${dir}/samples.png`, await tilePng(rows));
    const parity = await onnxParity(model, files.model, files.externalData);
    model.dispose();
    s.log(`${name}: ONNX Runtime vs TF.js max |diff| ${parity.toExponential(2)}`);
    if (!(parity <= 1e-4)) throw new Error(`${name}: ONNX parity ${parity} exceeds 1e-4`);
    await writeCard(`${dir}/card.md`, {
      name,
      config,
      directory,
      cost: forwardCost(config),
      evaluation,
      rows: evaluation.students[name],
      defaultGrid: evaluation.defaultGrids[name],
      gridSweep: evaluation.gridSweeps[name],
      samplePrompts: rowPrompts,
      facts: await stageFacts(s.out, name),
      teacherFacts: await stageFacts(s.out, "teacher"),
      parity,
      bytes: files.model.length + files.externalData.length,
      guidance: JSON.parse(await Deno.readTextFile(`${s.out}/guidance.json`)),
    });
    s.log(`${name}: wrote ${dir}`);
  }
}

/**
 * Largest difference between ONNX Runtime and TF.js outputs of a model on a
 * fixed batch (mixed times, real prompts, seeded noise).
 *
 * @example
 * ```ts ignore
 * import { onnxParity } from "./bundle.ts";
 * const diff = await onnxParity(model, files.model, files.externalData);
 * ```
 */
export async function onnxParity(
  model: TfFlowMap,
  onnxModel: Uint8Array,
  externalData: Uint8Array,
): Promise<number> {
  const c = model.config;
  const prompts = evalPrompts(4, 1);
  const x = trajectoryNoise([1, 2, 3, 4], 3 * 32 * 32);
  const tokens = encodePrompts(prompts);
  const tMax = timeGrid(pathOf(c), { steps: 1 })[0];
  const t = Float32Array.of(tMax, 0.7 * tMax, 0.4 * tMax, 0.1 * tMax);
  const r = Float32Array.of(0, 0.3 * tMax, 0.4 * tMax, 0);
  const session = await ort.InferenceSession.create(onnxModel, {
    externalData: [{ path: "model.bin", data: externalData }],
  });
  const feeds: Record<string, ort.Tensor> = {
    x: new ort.Tensor("float32", x, [4, 3, 32, 32]),
    t: new ort.Tensor("float32", t, [4]),
    tokens: new ort.Tensor("int32", tokens, [4, c.textLength]),
  };
  if (c.kind === "two-time") feeds.r = new ort.Tensor("float32", r, [4]);
  const out = (await session.run(feeds))[session.outputNames[0]].data as Float32Array;
  await session.release();
  const expected = tf.tidy(() =>
    model.forward({
      x: tf.tensor4d(x, [4, 3, 32, 32]),
      t: tf.tensor1d(t),
      r: c.kind === "two-time" ? tf.tensor1d(r) : undefined,
      tokens: tf.tensor2d(tokens, [4, c.textLength], "int32"),
    }).dataSync() as Float32Array
  );
  let worst = 0;
  for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - expected[i]));
  return worst;
}
