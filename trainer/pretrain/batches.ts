/**
 * Training batches of the three pretraining stages as host arrays: network
 * inputs and the regression target (every stage minimises a mean squared
 * error against it).
 *
 * - teacher: flow matching on rectified flow, `u(x_t, t, t) ≈ eps − x0`, with
 *   prompt dropout (all-padding tokens) for classifier-free guidance;
 * - meanflow: average velocities between two states of a guided teacher
 *   trajectory, `u(x_t, r, t) ≈ (x_t − x_r) / (t − r)`;
 * - scm: TrigFlow states of a teacher trajectory mapped to its end,
 *   `f(x_theta, theta) ≈ x_0`.
 *
 * Every random choice comes from Philox streams keyed by the example's seed,
 * so batch `step` is the same on every run and after a resume.
 *
 * @module
 */

import { rectifiedFlowTime } from "../../src/path.ts";
import { SCM_T_MAX } from "../../src/grid.ts";
import { NormalStream, UniformStream } from "../../src/rng.ts";
import { shapesTokenizer } from "../../src/text.ts";
import { trainingExample } from "../data/dataset.ts";
import { imagesToTensor } from "../../src/shapes/image.ts";
import type { ModelConfig } from "../model/config.ts";
import { pathOf } from "../model/config.ts";
import type { TrajectoryBank } from "./trajectories.ts";

/** One batch: network inputs and the target of the same shape as the output. */
export interface TrainBatch {
  /** Inputs `[B, C, H, W]`. */
  readonly x: Float32Array;
  /** Times `[B]`. */
  readonly t: Float32Array;
  /** Target times `[B]` (two-time maps). */
  readonly r?: Float32Array;
  /** Token ids `[B, textLength]`. */
  readonly tokens: Int32Array;
  /** Regression target `[B, C, H, W]`. */
  readonly target: Float32Array;
  /** Batch size. */
  readonly size: number;
}

/** Sub-streams of an example seed. */
const STREAM = { noise: 1, time: 2, dropout: 3, pick: 4 } as const;

/** Seed of example `index` of run `seed` (distinct runs never share examples). */
export function exampleSeed(seed: number, index: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 20) {
    throw new RangeError(`run seed must be an integer in [0, 2^20), got ${seed}`);
  }
  return seed * 2 ** 32 + index;
}

/**
 * A teacher batch: RF interpolant `x_t = (1 − t)·x0 + t·eps` with logit-normal
 * `t` (mean `timeMean`, unit scale), target velocity `eps − x0`, prompts
 * dropped with probability `dropout`.
 *
 * @example
 * ```ts
 * import { teacherBatch } from "./batches.ts";
 * const batch = teacherBatch(0, 0, 4, 0.1);
 * batch.target.length; // 4 · 3 · 32 · 32
 * ```
 */
export function teacherBatch(
  seed: number,
  step: number,
  size: number,
  dropout: number,
  timeMean = 0,
): TrainBatch {
  const seeds = Array.from({ length: size }, (_, i) => exampleSeed(seed, step * size + i));
  const examples = seeds.map((s) => trainingExample(s));
  const x0 = imagesToTensor(examples.map((e) => e.image), "chw");
  const d = x0.length / size;
  const x = new Float32Array(x0.length), target = new Float32Array(x0.length);
  const t = new Float32Array(size);
  const prompts = examples.map((e, i) =>
    new UniformStream(seeds[i], STREAM.dropout).next() < dropout ? "" : e.prompt
  );
  const noise = new Float32Array(d);
  seeds.forEach((s, i) => {
    t[i] = 1 /
      (1 + Math.exp(-(timeMean + new NormalStream(s, STREAM.time).fill(new Float32Array(1))[0])));
    new NormalStream(s, STREAM.noise).fill(noise);
    for (let j = 0; j < d; j++) {
      const a = x0[i * d + j], e = noise[j];
      x[i * d + j] = (1 - t[i]) * a + t[i] * e;
      target[i * d + j] = e - a;
    }
  });
  return { x, t, r: t, tokens: encodePrompts(prompts), target, size };
}

/** Token ids of prompts; `""` encodes as all padding (the unconditional prompt). */
export function encodePrompts(prompts: readonly string[]): Int32Array {
  return shapesTokenizer.encodeBatch(prompts);
}

/**
 * A MeanFlow student batch from teacher trajectories. `t` is 1 (the
 * sampler's start) with probability 1/4, else uniform; `r` is `t` (the
 * instantaneous velocity) or 0 (the one-step jump) with probability 1/4
 * each, else uniform in `[0, t)`.
 *
 * @example
 * ```ts ignore
 * import { meanFlowBatch } from "./batches.ts";
 * const batch = meanFlowBatch(bank, 0, 0, 32);
 * ```
 */
export function meanFlowBatch(
  bank: TrajectoryBank,
  seed: number,
  step: number,
  size: number,
): TrainBatch {
  const d = bank.dimension;
  const x = new Float32Array(size * d), target = new Float32Array(size * d);
  const t = new Float32Array(size), r = new Float32Array(size);
  const picks: number[] = [];
  const other = new Float32Array(d);
  for (let i = 0; i < size; i++) {
    const u = new UniformStream(exampleSeed(seed, step * size + i), STREAM.pick);
    const j = u.nextInt(bank.count);
    picks.push(j);
    const ti = u.next() < 0.25 ? 1 : 1 - u.next();
    const choice = u.next();
    const ri = choice < 0.25 ? ti : choice < 0.5 ? 0 : ti * u.next();
    t[i] = ti;
    r[i] = ri;
    const xt = x.subarray(i * d, (i + 1) * d), out = target.subarray(i * d, (i + 1) * d);
    bank.state(j, ti, xt);
    if (ri === ti) {
      bank.slope(j, ti, out);
    } else {
      bank.state(j, ri, other);
      for (let k = 0; k < d; k++) out[k] = (xt[k] - other[k]) / (ti - ri);
    }
  }
  return { x, t, r, tokens: bank.tokens(picks), target, size };
}

/**
 * An sCM student batch: TrigFlow time `theta` is the sampler's start
 * `SCM_T_MAX` with probability 1/4, else uniform in `(0, SCM_T_MAX]`; the
 * input is the trajectory's state at the matching RF time, rescaled
 * (`rectifiedFlowTime`), and the target the trajectory's end.
 *
 * @example
 * ```ts ignore
 * import { scmBatch } from "./batches.ts";
 * const batch = scmBatch(bank, scmConfig, 0, 0, 32);
 * ```
 */
export function scmBatch(
  bank: TrajectoryBank,
  config: ModelConfig,
  seed: number,
  step: number,
  size: number,
): TrainBatch {
  const path = pathOf(config);
  const d = bank.dimension;
  const x = new Float32Array(size * d), target = new Float32Array(size * d);
  const t = new Float32Array(size);
  const picks: number[] = [];
  for (let i = 0; i < size; i++) {
    const u = new UniformStream(exampleSeed(seed, step * size + i), STREAM.pick);
    const j = u.nextInt(bank.count);
    picks.push(j);
    const theta = u.next() < 0.25 ? SCM_T_MAX : SCM_T_MAX * (1 - u.next());
    t[i] = theta;
    const { tau, scale } = rectifiedFlowTime(path, theta);
    const xt = x.subarray(i * d, (i + 1) * d);
    bank.state(j, tau, xt);
    for (let k = 0; k < d; k++) xt[k] *= scale;
    bank.state(j, 0, target.subarray(i * d, (i + 1) * d));
  }
  return { x, t, tokens: bank.tokens(picks), target, size };
}
