/**
 * The regression training loop shared by the three pretraining stages:
 * AdamW with linear warm-up then a constant rate, an EMA of the weights,
 * a step and wall-clock budget, progress lines, JSONL metrics, and
 * resumable checkpoints written atomically.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { ModelConfig } from "../model/config.ts";
import type { ParameterTable } from "../model/parameters.ts";
import { TfFlowMap } from "../model/tfjs.ts";
import type { TrainBatch } from "./batches.ts";
import { AdamW, WeightEma } from "../optimizer.ts";
import {
  type Checkpoint,
  float64TableOf,
  loadCheckpoint,
  saveCheckpoint,
  tableOf,
} from "../checkpoint.ts";

/** What one stage trains and how long. */
export interface TrainOptions {
  /** Stage name; files are `<dir>/<name>.ckpt.safetensors` and `<name>.jsonl`. */
  readonly name: string;
  /** Run directory. */
  readonly dir: string;
  /** The architecture. */
  readonly config: ModelConfig;
  /** Initial weights (ignored when resuming). */
  readonly init: ParameterTable;
  /** Batch number `step` (deterministic in `step`). */
  readonly batch: (step: number) => TrainBatch;
  /** Peak learning rate. */
  readonly lr: number;
  /** Linear warm-up steps. */
  readonly warmup: number;
  /** Largest EMA decay (the decay ramps as `(1 + n) / (10 + n)` up to it). */
  readonly emaDecay: number;
  /** Stop after this many steps in total. */
  readonly maxSteps: number;
  /** Stop after this many minutes of training in this and earlier sessions. */
  readonly minutes: number;
  /** Continue from the stage's checkpoint if there is one. */
  readonly resume: boolean;
  /** Seconds between checkpoints. */
  readonly checkpointSeconds?: number;
  /** Progress output. */
  readonly log: (line: string) => void;
}

/** What a finished stage reports. */
export interface TrainResult {
  /** EMA weights. */
  readonly ema: ParameterTable;
  /** Steps taken in total. */
  readonly steps: number;
  /** Training seconds in total (all sessions). */
  readonly seconds: number;
  /** Mean loss over the last 50 steps. */
  readonly loss: number;
}

/**
 * Mean squared error of the model's output against the batch target.
 *
 * @example
 * ```ts ignore
 * import { batchLoss } from "./train.ts";
 * const loss = batchLoss(model, batch); // scalar tensor
 * ```
 */
export function batchLoss(model: TfFlowMap, batch: TrainBatch): tf.Scalar {
  const c = model.config;
  const shape: [number, number, number, number] = [
    batch.size,
    c.channels,
    c.imageSize,
    c.imageSize,
  ];
  const out = model.forward({
    x: tf.tensor4d(batch.x, shape),
    t: tf.tensor1d(batch.t),
    r: batch.r && tf.tensor1d(batch.r),
    tokens: tf.tensor2d(batch.tokens, [batch.size, c.textLength], "int32"),
  });
  return tf.mean(tf.squaredDifference(out, tf.tensor4d(batch.target, shape)));
}

/**
 * Trains until the step or time budget is spent; checkpoints on the way and
 * at the end, so a later call with `resume` continues (or returns at once).
 *
 * @example
 * ```ts ignore
 * import { train } from "./train.ts";
 * const result = await train({ name: "teacher", dir: "runs/pretrain", ... });
 * ```
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const { name, dir, config, log } = options;
  const file = `${dir}/${name}.ckpt.safetensors`;
  const saved = options.resume ? await loadCheckpoint(file) : undefined;
  const model = new TfFlowMap(config, saved ? tableOf(saved, "weights") : options.init);
  const names = [...model.variables.keys()];
  const variables = [...model.variables.values()];
  const optimizer = new AdamW(variables, {
    lr: options.lr,
    betas: [0.9, 0.99],
    weightDecay: 0.01,
    eps: 1e-8,
    gradClip: 1,
    decays: (variable) => variable.rank === 2,
  });
  const weights = () => variables.map((v) => v.dataSync() as Float32Array);
  const ema = new WeightEma(weights(), { decay: options.emaDecay, every: 1 });
  let step = 0, seconds = 0, savedLoss = NaN;
  if (saved) {
    savedLoss = Number(saved.metadata.loss);
    ema.load(arraysOf(tableOf(saved, "ema"), names));
    step = Number(saved.metadata.step);
    seconds = Number(saved.metadata.seconds);
    const moments = (group: string) => arraysOf(float64TableOf(saved, group), names);
    optimizer.load({ step, m: moments("adam.m"), v: moments("adam.v") });
    log(`${name}: resumed at step ${step} (${(seconds / 60).toFixed(1)} min trained)`);
  }
  const metrics = await Deno.open(`${dir}/${name}.jsonl`, {
    append: true,
    create: true,
    write: true,
  });
  const encoder = new TextEncoder();
  const recent: number[] = [];
  const budget = options.minutes * 60;
  const checkpointEvery = options.checkpointSeconds ?? 300;
  let lastSave = performance.now(), windowStart = performance.now(), windowSteps = 0;
  const recentLoss = () => (recent.length > 0 ? mean(recent) : savedLoss);
  const checkpoint = async () => {
    const state = optimizer.state();
    const ckpt: Checkpoint = {
      tables: new Map([
        ["weights", model.parameters()],
        ["ema", tableFrom(names, variables, ema.values)],
      ]),
      float64Tables: new Map([
        ["adam.m", tableFrom(names, variables, state.m)],
        ["adam.v", tableFrom(names, variables, state.v)],
      ]),
      metadata: {
        step: String(step),
        seconds: String(seconds),
        loss: String(recentLoss()),
        config: JSON.stringify(config),
      },
    };
    await saveCheckpoint(file, ckpt);
    lastSave = performance.now();
  };

  while (step < options.maxSteps && seconds < budget) {
    const started = performance.now();
    const batch = options.batch(step);
    const lr = options.lr * Math.min(1, (step + 1) / options.warmup);
    const { value, grads } = tf.variableGrads(() => batchLoss(model, batch));
    const loss = value.dataSync()[0];
    optimizer.accumulate(grads, 1);
    const norm = optimizer.step(lr);
    tf.dispose([value, ...Object.values(grads)]);
    ema.update(weights(), step);
    if (!Number.isFinite(loss)) throw new Error(`${name}: loss is ${loss} at step ${step}`);
    step++;
    const elapsed = (performance.now() - started) / 1000;
    seconds += elapsed;
    windowSteps++;
    recent.push(loss);
    if (recent.length > 50) recent.shift();
    await metrics.write(encoder.encode(
      JSON.stringify({ step, loss, gradNorm: norm, lr, seconds: Number(seconds.toFixed(2)) }) +
        "\n",
    ));
    if (step % 25 === 0 || step === options.maxSteps) {
      const rate = windowSteps / ((performance.now() - windowStart) / 1000);
      const eta = Math.min((options.maxSteps - step) / rate, budget - seconds);
      log(
        `${name} step ${step} loss ${mean(recent).toFixed(4)} |g| ${norm.toFixed(2)} ` +
          `lr ${lr.toExponential(1)} ${rate.toFixed(2)} it/s ` +
          `elapsed ${(seconds / 60).toFixed(1)} min ETA ${(eta / 60).toFixed(1)} min`,
      );
      windowStart = performance.now();
      windowSteps = 0;
    }
    if ((performance.now() - lastSave) / 1000 > checkpointEvery) await checkpoint();
  }
  await checkpoint();
  metrics.close();
  const result = {
    ema: tableFrom(names, variables, ema.values),
    steps: step,
    seconds,
    loss: recentLoss(),
  };
  model.dispose();
  return result;
}

/** A table of per-variable arrays (in variable order). */
function tableFrom<T extends Float32Array | Float64Array>(
  names: readonly string[],
  variables: readonly tf.Variable[],
  arrays: readonly T[],
): ReadonlyMap<string, { shape: readonly number[]; data: T }> {
  return new Map(names.map((name, i) => [name, { shape: variables[i].shape, data: arrays[i] }]));
}

/** The arrays of a table in variable order; throws if one is missing. */
function arraysOf<T extends Float32Array | Float64Array>(
  table: ReadonlyMap<string, { readonly data: T }>,
  names: readonly string[],
): T[] {
  return names.map((name) => {
    const value = table.get(name);
    if (value === undefined) throw new RangeError(`checkpoint has no value for ${name}`);
    return value.data;
  });
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
