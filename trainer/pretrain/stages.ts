/**
 * The pretraining stages: teacher → trajectories → meanflow, scm → evaluate
 * → bundle. Each reads its inputs from and writes its outputs to the run
 * directory, so stages can run (and be resumed) separately.
 *
 * @module
 */

import { timeGrid } from "../../src/grid.ts";
import { trainingExample } from "../data/dataset.ts";
import { evaluateImage } from "../../src/shapes/verdict.ts";
import { meanFlowConfig, type ModelConfig, pathOf, scmConfig } from "../model/config.ts";
import { initParameters, modelLayout, type ParameterTable } from "../model/parameters.ts";
import { TfFlowMap } from "../model/tfjs.ts";
import { toImages } from "../../src/image.ts";
import { encodePrompts, exampleSeed, meanFlowBatch, scmBatch, teacherBatch } from "./batches.ts";
import { loadCheckpoint, saveCheckpoint, tableOf, writeFileAtomic } from "../checkpoint.ts";
import {
  addChunk,
  integrateGuided,
  type TrajectoryBank,
  trajectoryChunk,
  trajectoryNoise,
} from "./trajectories.ts";
import { train, type TrainResult } from "./train.ts";
import { exists } from "../../cli/files.ts";

/** Settings shared by all stages (the CLI's flags). */
export interface PretrainSettings {
  /** Run directory. */
  readonly out: string;
  /** Run seed (data, noise, initialisation). */
  readonly seed: number;
  /** Continue stages from their checkpoints. */
  readonly resume: boolean;
  /** Batch size of the training stages. */
  readonly batch: number;
  /** Peak learning rate of the training stages (`undefined`: the stage default). */
  readonly lr?: number;
  /** Wall-clock budget per training stage, minutes (`undefined`: the stage default). */
  readonly minutes?: number;
  /** Step budget per training stage. */
  readonly steps: number;
  /** Teacher prompt dropout (classifier-free guidance). */
  readonly dropout: number;
  /** Mean of the teacher's logit-normal time distribution (positive: noisier). */
  readonly timeMean: number;
  /** Number of teacher trajectories. */
  readonly trajectories: number;
  /** Euler steps of the teacher ODE. */
  readonly odeSteps: number;
  /** Guidance scales to sweep (the best on training prompts is used). */
  readonly guidance: readonly number[];
  /** Progress output. */
  readonly log: (line: string) => void;
}

/** Default minutes per training stage (the issue allows at most 90 per model). */
export const STAGE_MINUTES = { teacher: 60, meanflow: 25, scm: 25 } as const;

/** Default peak learning rate per training stage. */
export const STAGE_LR = { teacher: 1.2e-3, meanflow: 2e-4, scm: 2e-4 } as const;

/** The teacher: the two-time network trained by flow matching at `r = t`. */
export const teacherConfig: ModelConfig = meanFlowConfig;

/**
 * Trains the flow-matching teacher; writes `teacher.safetensors` (EMA weights).
 *
 * @example
 * ```ts ignore
 * import { runTeacher } from "./stages.ts";
 * await runTeacher(settings);
 * ```
 */
export async function runTeacher(s: PretrainSettings): Promise<TrainResult> {
  const lr = s.lr ?? STAGE_LR.teacher;
  const result = await train({
    name: "teacher",
    dir: s.out,
    config: teacherConfig,
    init: teacherInit(teacherConfig, s.seed),
    batch: (step) => teacherBatch(s.seed, step, s.batch, s.dropout, s.timeMean),
    lr,
    warmup: 50,
    emaDecay: 0.999,
    maxSteps: s.steps,
    minutes: s.minutes ?? STAGE_MINUTES.teacher,
    resume: s.resume,
    log: s.log,
  });
  await saveWeights(`${s.out}/teacher.safetensors`, teacherConfig, result, s.batch, {
    lr: String(lr),
    timeMean: String(s.timeMean),
  });
  return result;
}

/**
 * The teacher's initial weights: `initParameters`, with the image position
 * embedding set to DiT's fixed 2-D sine–cosine table (then trained). With
 * the default N(0, 0.02²) table the position signal is so weak next to the
 * patch embedding that the network stays nearly permutation-equivariant over
 * patches for hundreds of steps: a first 35-minute teacher painted the
 * prompt's colours as scattered patch-sized blobs with no shapes.
 *
 * @example
 * ```ts
 * import { meanFlowConfig } from "../model/config.ts";
 * import { teacherInit } from "./stages.ts";
 * teacherInit(meanFlowConfig, 0).get("pos_embed")?.data[32]; // cos(0 · omega_0) = 1
 * ```
 */
export function teacherInit(config: ModelConfig, seed: number): ParameterTable {
  const table = new Map(initParameters(config, seed));
  const grid = config.imageSize / config.patchSize, d = config.hiddenDim;
  const quarter = d / 4;
  const data = new Float32Array(grid * grid * d);
  for (let row = 0; row < grid; row++) {
    for (let col = 0; col < grid; col++) {
      const base = (row * grid + col) * d;
      for (let i = 0; i < quarter; i++) {
        const omega = 1 / 10000 ** (i / quarter);
        data[base + i] = Math.sin(col * omega);
        data[base + quarter + i] = Math.cos(col * omega);
        data[base + 2 * quarter + i] = Math.sin(row * omega);
        data[base + 3 * quarter + i] = Math.cos(row * omega);
      }
    }
  }
  table.set("pos_embed", { shape: [grid * grid, d], data });
  return table;
}

/**
 * Picks the guidance scale with the best strict accuracy on training
 * prompts, then integrates `s.trajectories` guided teacher trajectories in
 * chunks `trajectories/chunk-NNNNN.safetensors` (existing chunks are kept).
 *
 * @example
 * ```ts ignore
 * import { runTrajectories } from "./stages.ts";
 * await runTrajectories(settings);
 * ```
 */
export async function runTrajectories(s: PretrainSettings): Promise<void> {
  const teacher = new TfFlowMap(teacherConfig, await loadWeights(s.out, "teacher"), {
    trainable: false,
  });
  const grid = timeGrid(pathOf(teacherConfig), { steps: s.odeSteps });
  const guidance = await chooseGuidance(teacher, s, grid);
  const dir = `${s.out}/trajectories`;
  await Deno.mkdir(dir, { recursive: true });
  const chunk = 64, d = 3 * 32 * 32;
  const started = performance.now();
  let made = 0;
  for (let first = 0, n = 0; first < s.trajectories; first += chunk, n++) {
    const file = `${dir}/chunk-${String(n).padStart(5, "0")}.safetensors`;
    if (await exists(file)) continue;
    const size = Math.min(chunk, s.trajectories - first);
    const seeds = Array.from({ length: size }, (_, i) => exampleSeed(s.seed, 1e9 + first + i));
    const prompts = seeds.map((seed) => trainingExample(seed).prompt);
    const tokens = encodePrompts(prompts);
    const states = new Float32Array(size * grid.length * d);
    integrateGuided(teacher, trajectoryNoise(seeds, d), tokens, guidance, grid, (k, x) => {
      for (let i = 0; i < size; i++) {
        states.set(x.subarray(i * d, (i + 1) * d), (i * grid.length + k) * d);
      }
    });
    await saveCheckpoint(file, trajectoryChunk(states, tokens, grid, guidance, prompts, seeds));
    made += size;
    const done = first + size, rate = made / ((performance.now() - started) / 1000);
    s.log(`trajectories ${done}/${s.trajectories} (${rate.toFixed(1)}/s this session)`);
  }
  teacher.dispose();
}

/** Training prompts the guidance sweep judges. */
export const GUIDANCE_PROMPTS = 64;

async function chooseGuidance(
  teacher: TfFlowMap,
  s: PretrainSettings,
  grid: readonly number[],
): Promise<number> {
  const file = `${s.out}/guidance.json`;
  if (await exists(file)) return JSON.parse(await Deno.readTextFile(file)).guidance;
  const seeds = Array.from({ length: GUIDANCE_PROMPTS }, (_, i) => exampleSeed(s.seed, 2e9 + i));
  const prompts = seeds.map((seed) => trainingExample(seed).prompt);
  const noise = trajectoryNoise(seeds, 3 * 32 * 32);
  const sweep: { guidance: number; strict: number; partial: number }[] = [];
  const d = 3 * 32 * 32, chunk = 64;
  for (const w of s.guidance) {
    const verdicts = [];
    for (let start = 0; start < seeds.length; start += chunk) {
      const part = prompts.slice(start, start + chunk);
      const x = integrateGuided(
        teacher,
        noise.subarray(start * d, (start + part.length) * d),
        encodePrompts(part),
        w,
        grid,
      );
      const images = toImages({ data: x, shape: [part.length, 3, 32, 32] });
      verdicts.push(...images.map((image, i) => evaluateImage(image, part[i])));
    }
    const strict = verdicts.filter((v) => v.strict).length / verdicts.length;
    const partial = verdicts.reduce((a, v) => a + v.partial, 0) / verdicts.length;
    sweep.push({ guidance: w, strict, partial });
    s.log(
      `guidance ${w}: strict ${strict.toFixed(3)} partial ${
        partial.toFixed(3)
      } (${GUIDANCE_PROMPTS} train prompts)`,
    );
  }
  const best = sweep.reduce((a, b) => (b.strict > a.strict ? b : a));
  await writeFileAtomic(
    file,
    new TextEncoder().encode(
      JSON.stringify({ guidance: best.guidance, odeSteps: grid.length - 1, sweep }, null, 2),
    ),
  );
  return best.guidance;
}

/**
 * Loads every trajectory chunk of a run.
 *
 * @example
 * ```ts ignore
 * import { loadTrajectories } from "./stages.ts";
 * const bank = await loadTrajectories("runs/pretrain");
 * ```
 */
export async function loadTrajectories(out: string): Promise<TrajectoryBank> {
  const files = [];
  for await (const entry of Deno.readDir(`${out}/trajectories`)) {
    if (entry.name.endsWith(".safetensors")) files.push(entry.name);
  }
  let bank: TrajectoryBank | undefined;
  for (const name of files.sort()) {
    const chunk = await loadCheckpoint(`${out}/trajectories/${name}`);
    if (chunk) bank = addChunk(bank, chunk);
  }
  if (bank === undefined) throw new Error(`no trajectories in ${out}/trajectories; run that stage`);
  return bank;
}

/**
 * Trains a student (`meanflow` or `scm`) on the teacher's trajectories,
 * initialised from the teacher wherever names and shapes agree.
 *
 * @example
 * ```ts ignore
 * import { runStudent } from "./stages.ts";
 * await runStudent(settings, "meanflow");
 * ```
 */
export async function runStudent(
  s: PretrainSettings,
  student: "meanflow" | "scm",
): Promise<TrainResult> {
  const config = student === "meanflow" ? meanFlowConfig : scmConfig;
  const lr = s.lr ?? STAGE_LR[student];
  const bank = await loadTrajectories(s.out);
  s.log(`${student}: ${bank.count} trajectories of ${bank.grid.length} states`);
  const init = transferWeights(
    config,
    await loadWeights(s.out, "teacher"),
    initParameters(config, s.seed + 1),
  );
  const result = await train({
    name: student,
    dir: s.out,
    config,
    init,
    batch: student === "meanflow"
      ? (step) => meanFlowBatch(bank, s.seed, step, s.batch)
      : (step) => scmBatch(bank, config, s.seed, step, s.batch),
    lr,
    warmup: 50,
    emaDecay: 0.999,
    maxSteps: s.steps,
    minutes: s.minutes ?? STAGE_MINUTES[student],
    resume: s.resume,
    log: s.log,
  });
  await saveWeights(`${s.out}/${student}.safetensors`, config, result, s.batch, {
    lr: String(lr),
    trajectories: String(bank.count),
  });
  return result;
}

/**
 * Weights for `config`: `source`'s wherever a parameter of the same name and
 * shape exists, `fallback`'s otherwise.
 *
 * @example
 * ```ts
 * import { scmConfig } from "../model/config.ts";
 * import { initParameters } from "../model/parameters.ts";
 * import { transferWeights } from "./stages.ts";
 * const w = transferWeights(scmConfig, initParameters({ ...scmConfig, kind: "two-time", path: { name: "rectified-flow", sigmaD: 1 } }, 0), initParameters(scmConfig, 1));
 * ```
 */
export function transferWeights(
  config: ModelConfig,
  source: ParameterTable,
  fallback: ParameterTable,
): ParameterTable {
  return new Map(
    modelLayout(config).parameters.map((spec) => {
      const from = source.get(spec.name);
      const same = from !== undefined && from.shape.join() === spec.shape.join();
      const value = same ? from : fallback.get(spec.name);
      if (value === undefined) throw new RangeError(`no initial value for ${spec.name}`);
      return [spec.name, value];
    }),
  );
}

/** EMA weights of a finished stage, `<out>/<name>.safetensors`. */
export async function loadWeights(out: string, name: string): Promise<ParameterTable> {
  const ckpt = await loadCheckpoint(`${out}/${name}.safetensors`);
  if (ckpt === undefined) {
    throw new Error(`${out}/${name}.safetensors is missing; run stage ${name}`);
  }
  return tableOf(ckpt, "ema");
}

/** Training facts recorded with a stage's weights (for the model card). */
export async function stageFacts(out: string, name: string): Promise<Record<string, string>> {
  const ckpt = await loadCheckpoint(`${out}/${name}.safetensors`);
  if (ckpt === undefined) throw new Error(`${out}/${name}.safetensors is missing`);
  return { ...ckpt.metadata };
}

async function saveWeights(
  file: string,
  config: ModelConfig,
  result: TrainResult,
  batch: number,
  extra: Record<string, string> = {},
): Promise<void> {
  await saveCheckpoint(file, {
    tables: new Map([["ema", result.ema]]),
    metadata: {
      config: JSON.stringify(config),
      steps: String(result.steps),
      batch: String(batch),
      seconds: result.seconds.toFixed(0),
      loss: result.loss.toFixed(5),
      ...extra,
    },
  });
}
