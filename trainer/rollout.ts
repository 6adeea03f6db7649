/**
 * Rollouts of Flow-Map GRPO (spec/math.md §6): k-repeat prompt sampling, and
 * groups of G trajectories per prompt from the old policy, each made of P
 * stochastic ASFMC transitions plus one deterministic final transition.
 * Every transition `(x_k, x_{k+1}, log_prob_old)` is recorded, with the
 * reference policy's mean (for the KL) and the one-step endpoint estimates
 * (for step-aware advantages) when asked for.
 *
 * Noise comes from one Philox stream per trajectory (`src/rng.ts`): seed
 * {@link trajectorySeed}, sub-stream = iteration. A rollout is reproducible,
 * independent of how trajectories are split into batches, and its iteration 0
 * draws exactly the noise of the SDK's stochastic sampler for the same seeds.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Reduction } from "../src/logprob.ts";
import { BatchNoise, UniformStream } from "../src/rng.ts";
import { shapesTokenizer, type Tokenizer } from "../src/text.ts";
import type { TrainConfig } from "./config.ts";
import { tensorToImages } from "./data/image.ts";
import type { LinearAdapter } from "./model/tfjs.ts";
import { type FlowMapPolicy, gaussianLogProb } from "./policy.ts";
import type { Reward } from "./rewards/reward.ts";

/** Sub-stream of the run seed that draws each iteration's prompts ("ROLL"). */
const PROMPT_STREAM = 0x524f4c4c;

/**
 * k-repeat sampling: `count` distinct prompts drawn without replacement for
 * this iteration (a seeded partial Fisher–Yates shuffle), each repeated
 * `repeats` times consecutively (one group per prompt).
 *
 * @example
 * ```ts
 * import { kRepeatPrompts } from "./rollout.ts";
 * kRepeatPrompts(["a", "b", "c"], 2, 3, { seed: 0, iteration: 0 }); // e.g. [b, b, b, a, a, a]
 * ```
 */
export function kRepeatPrompts(
  pool: readonly string[],
  count: number,
  repeats: number,
  { seed, iteration }: { seed: number; iteration: number },
): string[] {
  if (count > pool.length) {
    throw new RangeError(`cannot draw ${count} distinct prompts from ${pool.length}`);
  }
  const rng = new UniformStream(seed, PROMPT_STREAM + iteration);
  const order = [...pool.keys()];
  for (let i = 0; i < count; i++) {
    const j = i + rng.nextInt(order.length - i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, count).flatMap((i) => Array<string>(repeats).fill(pool[i]));
}

/**
 * Noise seed of trajectory `index`: distinct for every (run seed, index) pair;
 * the iteration selects the Philox sub-stream.
 */
export function trajectorySeed(runSeed: number, index: number): number {
  return runSeed * 2 ** 24 + index;
}

/** What a rollout records; arrays hold all trajectories, batch first. */
export interface Rollout {
  /** Prompt of each trajectory. */
  readonly prompts: readonly string[];
  /** Token ids `[N, L]`. */
  readonly tokens: Int32Array;
  /** Sample shape `[C, H, W]`. */
  readonly sampleShape: readonly [number, number, number];
  /** States `x_0 … x_P` (P + 1 arrays of `N·D` values). */
  readonly states: readonly Float32Array[];
  /** `log pi_old(x_{k+1} | x_k)` per stochastic transition (P arrays of N). */
  readonly logProbOld: readonly Float32Array[];
  /** Reference-policy means per stochastic transition (P arrays), when recorded. */
  readonly referenceMeans?: readonly Float32Array[];
  /** Endpoint estimates at `x_1 … x_{P−1}` (P − 1 arrays), when recorded. */
  readonly endpointEstimates?: readonly Float32Array[];
  /** The rewarded images: the deterministic final transition from `x_P` (`N·D`). */
  readonly images: Float32Array;
}

/** Options of {@link rollout}. */
export interface RolloutOptions {
  /** Prompts, one per trajectory (groups consecutive). */
  readonly prompts: readonly string[];
  /** Tokenizer of the model. */
  readonly tokenizer: Tokenizer;
  /** Run seed and iteration: they fix every trajectory's noise. */
  readonly seed: number;
  /** Iteration number (selects the noise sub-stream). */
  readonly iteration: number;
  /** Trajectories per forward pass. */
  readonly microBatch: number;
  /** Log-probability reduction (spec §5.5). */
  readonly reduction: Reduction;
  /** Record the reference policy's means (needed when the KL weight is > 0). */
  readonly reference: boolean;
  /** Record the endpoint estimates at intermediate states (step-aware advantages). */
  readonly endpointEstimates: boolean;
}

/**
 * Samples trajectories from the old policy (`policy` with `adapter`; spec §6).
 * Each micro-batch runs all its transitions; log-probabilities are computed
 * with {@link gaussianLogProb} on the same micro-batches the objective uses,
 * so the first on-policy ratio is exactly 1.
 */
export function rollout(
  policy: FlowMapPolicy,
  adapter: LinearAdapter | undefined,
  options: RolloutOptions,
): Rollout {
  const { prompts, microBatch } = options;
  const config = policy.model.config;
  const sampleShape = [config.channels, config.imageSize, config.imageSize] as const;
  const size = sampleShape[0] * sampleShape[1] * sampleShape[2];
  const n = prompts.length;
  const P = policy.stochasticSteps;
  if (n % microBatch !== 0) {
    throw new RangeError(`${n} trajectories do not split into micro-batches of ${microBatch}`);
  }
  const tokens = options.tokenizer.encodeBatch(prompts);
  const states = Array.from({ length: P + 1 }, () => new Float32Array(n * size));
  const logProbOld = Array.from({ length: P }, () => new Float32Array(n));
  const referenceMeans = options.reference
    ? Array.from({ length: P }, () => new Float32Array(n * size))
    : undefined;
  const endpointEstimates = options.endpointEstimates
    ? Array.from({ length: P - 1 }, () => new Float32Array(n * size))
    : undefined;
  const images = new Float32Array(n * size);
  const sigma0 = policy.path.sigma(policy.grid[0]);

  for (let start = 0; start < n; start += microBatch) {
    const seeds = Array.from(
      { length: microBatch },
      (_, i) => trajectorySeed(options.seed, start + i),
    );
    const noise = new BatchNoise(seeds, options.iteration);
    const shape = [microBatch, ...sampleShape] as [number, number, number, number];
    const rows = (array: Float32Array) => array.subarray(start * size, (start + microBatch) * size);
    const x0 = noise.fill(new Float32Array(microBatch * size));
    for (let i = 0; i < x0.length; i++) x0[i] *= sigma0;
    rows(states[0]).set(x0);
    const tokenRows = tokens.subarray(
      start * config.textLength,
      (start + microBatch) * config.textLength,
    );
    const tokenTensor = tf.tensor2d(tokenRows, [microBatch, config.textLength], "int32");

    for (let k = 0; k < P; k++) {
      tf.tidy(() => {
        const x = tf.tensor4d(rows(states[k]), shape);
        const inputs = { x, tokens: tokenTensor };
        const mean = policy.transitionMean(k, inputs, adapter);
        const std = policy.step(k).std;
        const meanValues = mean.dataSync() as Float32Array;
        const next = noise.fill(new Float32Array(meanValues.length));
        for (let i = 0; i < next.length; i++) next[i] = meanValues[i] + std * next[i];
        rows(states[k + 1]).set(next);
        const logProb = gaussianLogProb(tf.tensor4d(next, shape), mean, std, options.reduction);
        logProbOld[k].set(logProb.dataSync() as Float32Array, start);
        if (referenceMeans) {
          rows(referenceMeans[k]).set(policy.transitionMean(k, inputs).dataSync() as Float32Array);
        }
        if (endpointEstimates && k < P - 1) {
          const estimate = policy.endpoint(
            { x: tf.tensor4d(next, shape), tokens: tokenTensor },
            policy.grid[k + 1],
            adapter,
          );
          rows(endpointEstimates[k]).set(estimate.dataSync() as Float32Array);
        }
      });
    }
    tf.tidy(() => {
      const x = tf.tensor4d(rows(states[P]), shape);
      const image = policy.endpoint({ x, tokens: tokenTensor }, policy.grid[P], adapter);
      rows(images).set(image.dataSync() as Float32Array);
    });
    tokenTensor.dispose();
  }
  return {
    prompts,
    tokens,
    sampleShape: [...sampleShape],
    states,
    logProbOld,
    referenceMeans,
    endpointEstimates,
    images,
  };
}

/** A rollout with its rewards, and the time each half took. */
export interface ScoredRollout {
  /** The trajectories. */
  readonly data: Rollout;
  /** Reward of each final image. */
  readonly rewards: Float32Array;
  /** Rewards of the endpoint estimates per intermediate state (step-aware advantages only). */
  readonly stepRewards?: Float32Array[];
  /** Seconds spent in the rollout and in the reward. */
  readonly seconds: { readonly rollout: number; readonly reward: number };
}

/**
 * One iteration's rollout as a config asks for it (micro-batches, reduction,
 * reference means when the KL weight is > 0, endpoint estimates for
 * step-aware advantages), with the final images and any endpoint estimates
 * scored by `reward`.
 */
export async function scoredRollout(
  policy: FlowMapPolicy,
  adapter: LinearAdapter | undefined,
  reward: Reward,
  config: TrainConfig,
  { prompts, seed, iteration }: { prompts: string[]; seed: number; iteration: number },
): Promise<ScoredRollout> {
  const t0 = performance.now();
  const data = rollout(policy, adapter, {
    prompts,
    tokenizer: shapesTokenizer,
    seed,
    iteration,
    microBatch: config.rollout.microBatch,
    reduction: config.objective.reduction,
    reference: config.objective.klBeta > 0,
    endpointEstimates: config.advantage.mode === "step-aware",
  });
  const t1 = performance.now();
  const images = (values: Float32Array) =>
    tensorToImages(values, prompts.length, data.sampleShape[2], data.sampleShape[1]);
  const rewards = await reward.score(images(data.images), prompts);
  const stepRewards = data.endpointEstimates
    ? await Promise.all(data.endpointEstimates.map((x) => reward.score(images(x), prompts)))
    : undefined;
  const seconds = { rollout: (t1 - t0) / 1000, reward: (performance.now() - t1) / 1000 };
  return { data, rewards, stepRewards, seconds };
}
