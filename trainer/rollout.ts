/**
 * Rollouts of Flow-Map GRPO (docs/math.md §6): k-repeat prompt sampling, and
 * groups of G trajectories per prompt from the old policy, each made of P
 * stochastic ASFMC transitions plus one deterministic final transition.
 * Every transition `(x_k, x_{k+1}, log_prob_old)` is recorded, with the
 * reference policy's mean (for the KL) and the one-step endpoint estimates
 * (for step-aware advantages) when asked for.
 *
 * Noise comes from one Philox stream per trajectory ({@link SamplingNoise}):
 * seed {@link trajectorySeed}, sub-stream = iteration. A rollout is
 * reproducible, independent of how trajectories are split into batches, and
 * its iteration 0 draws exactly the noise of the SDK's stochastic sampler for
 * the same seeds. With `initialNoiseGroup`, the members of a group start from
 * their first member's initial noise and keep their own transition noise.
 *
 * The network runs where {@link RolloutMaps} says: in TF.js with the adapter
 * ({@linkcode tfjsRolloutMaps}, whose log-probabilities the objective
 * reproduces exactly), or in ONNX Runtime with the adapter merged
 * (`rollout_onnx.ts`, about ten times faster per forward pass on a CPU).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Reduction } from "../src/logprob.ts";
import { SamplingNoise } from "../src/noise.ts";
import { UniformStream } from "../src/rng.ts";
import { shapesTokenizer, type Tokenizer } from "../src/text.ts";
import { type StepRule, transitions } from "../src/transition.ts";
import type { TrainConfig } from "./config.ts";
import { tensorToImages } from "../src/shapes/image.ts";
import type { LinearAdapter } from "./model/tfjs.ts";
import { type FlowMapPolicy, tensorGaussianLogProb } from "./policy.ts";
import { type Reward, RewardError, rewardFailure } from "./rewards/reward.ts";

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
  /**
   * Index of the first trajectory within the iteration (default 0): a slice
   * of an iteration's rollout draws the noise of its place in the whole.
   */
  readonly first?: number;
  /** Iteration number (selects the noise sub-stream). */
  readonly iteration: number;
  /** Trajectories per forward pass. */
  readonly microBatch: number;
  /** Log-probability reduction (docs/math.md §5.5). */
  readonly reduction: Reduction;
  /** Record the reference policy's means (needed when the KL weight is > 0). */
  readonly reference: boolean;
  /** Record the endpoint estimates at intermediate states (step-aware advantages). */
  readonly endpointEstimates: boolean;
  /**
   * Trajectories per block of consecutive ones that start from the same
   * noise, the block's first one's (1, the default: each its own). With the
   * group size, a group's rewards differ only through its policy's actions.
   */
  readonly initialNoiseGroup?: number;
}

/**
 * The network evaluations a rollout needs, on micro-batches of flattened
 * `[batch, C, H, W]` states with their token ids.
 */
export interface RolloutMaps {
  /** Mean of stochastic transition `k` from `x`: the policy's, or with `reference` the base's. */
  mean(
    k: number,
    x: Float32Array,
    tokens: Int32Array,
    reference?: boolean,
  ): Promise<Float32Array>;
  /** The policy's endpoint estimate `X(t → 0)(x)`. */
  endpoint(x: Float32Array, t: number, tokens: Int32Array): Promise<Float32Array>;
}

/**
 * The rollout's network in TF.js: `policy` with `adapter` (the reference:
 * adapter off).
 *
 * @example
 * ```ts ignore
 * const maps = tfjsRolloutMaps(policy, adapter);
 * ```
 */
export function tfjsRolloutMaps(
  policy: FlowMapPolicy,
  adapter: LinearAdapter | undefined,
): RolloutMaps {
  const { channels, imageSize, textLength } = policy.model.config;
  const inputs = (x: Float32Array, tokens: Int32Array) => {
    const batch = tokens.length / textLength;
    return {
      x: tf.tensor4d(x, [batch, channels, imageSize, imageSize]),
      tokens: tf.tensor2d(tokens, [batch, textLength], "int32"),
    };
  };
  return {
    mean: (k, x, tokens, reference = false) =>
      Promise.resolve(
        tf.tidy(() =>
          policy.transitionMean(k, inputs(x, tokens), reference ? undefined : adapter)
            .dataSync() as Float32Array
        ),
      ),
    endpoint: (x, t, tokens) =>
      Promise.resolve(
        tf.tidy(() => policy.endpoint(inputs(x, tokens), t, adapter).dataSync() as Float32Array),
      ),
  };
}

/**
 * Samples trajectories from the old policy (docs/math.md §6), evaluating the network
 * through `maps`. Each micro-batch runs all its transitions in the SDK's
 * transition engine ({@linkcode transitions}: the sampler's own loop and
 * noise step), the means coming from `maps`; log-probabilities
 * are computed with {@link tensorGaussianLogProb} on the same micro-batches the
 * objective uses, so with {@linkcode tfjsRolloutMaps} the first on-policy
 * ratio is exactly 1.
 */
export async function rollout(
  policy: FlowMapPolicy,
  maps: RolloutMaps,
  options: RolloutOptions,
): Promise<Rollout> {
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

  const first = options.first ?? 0;
  for (let start = 0; start < n; start += microBatch) {
    const seeds = Array.from(
      { length: microBatch },
      (_, i) => trajectorySeed(options.seed, first + start + i),
    );
    const shape = [microBatch, ...sampleShape] as [number, number, number, number];
    const rows = (array: Float32Array) => array.subarray(start * size, (start + microBatch) * size);
    const group = options.initialNoiseGroup ?? 1;
    // a block of trajectories starts from its first member's noise
    const startNoise = group > 1
      ? new SamplingNoise(
        seeds.map((_, i) => {
          const index = first + start + i;
          return trajectorySeed(options.seed, index - index % group);
        }),
        options.iteration,
      ).fill(new Float32Array(microBatch * size))
      : undefined;
    const tokenRows = tokens.subarray(
      start * config.textLength,
      (start + microBatch) * config.textLength,
    );
    // P stochastic transitions, then the deterministic final one to the rewarded image
    const rule: StepRule = async (k, x) =>
      k < P
        ? { mean: await maps.mean(k, x, tokenRows), std: policy.step(k).std }
        : { mean: await maps.endpoint(x, policy.grid[P], tokenRows), std: 0 };
    const loop = transitions(rule, {
      grid: policy.grid,
      path: policy.path,
      noise: new SamplingNoise(seeds, options.iteration),
      size: microBatch * size,
      startNoise,
    });
    for await (const { k, x, mean, std, next } of loop) {
      rows(states[k]).set(x);
      if (k === P) {
        rows(images).set(next);
        continue;
      }
      const logProb = tf.tidy(() =>
        tensorGaussianLogProb(
          tf.tensor4d(next, shape),
          tf.tensor4d(mean, shape),
          std,
          options.reduction,
        )
          .dataSync() as Float32Array
      );
      logProbOld[k].set(logProb, start);
      if (referenceMeans) {
        rows(referenceMeans[k]).set(await maps.mean(k, x, tokenRows, true));
      }
      if (endpointEstimates && k < P - 1) {
        rows(endpointEstimates[k]).set(await maps.endpoint(next, policy.grid[k + 1], tokenRows));
      }
    }
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

/** Which trajectories of which iteration a rollout makes. */
export interface RolloutSlice {
  /** Their prompts. */
  readonly prompts: readonly string[];
  /** Run seed. */
  readonly seed: number;
  /** Iteration number. */
  readonly iteration: number;
  /** Index of the first within the iteration (default 0). */
  readonly first?: number;
}

/**
 * The rollout options a config asks for (micro-batches, reduction, reference
 * means when the KL weight is > 0, endpoint estimates for step-aware
 * advantages) for `prompts`, the iteration's trajectories from index `first`.
 */
export function rolloutOptions(config: TrainConfig, slice: RolloutSlice): RolloutOptions {
  const { prompts, seed, iteration, first = 0 } = slice;
  return {
    prompts,
    tokenizer: shapesTokenizer,
    seed,
    first,
    iteration,
    microBatch: config.rollout.microBatch,
    reduction: config.objective.reduction,
    reference: config.objective.klBeta > 0,
    endpointEstimates: config.advantage.mode === "step-aware",
    initialNoiseGroup: config.rollout.initialNoise === "shared" ? config.rollout.groupSize : 1,
  };
}

/**
 * Rollouts of consecutive slices of an iteration's trajectories joined into
 * one, in order (every slice recorded the same fields). What the update reads
 * (tokens, states, old log-probabilities, reference means) lands in shared
 * memory, so sending it to the update's worker threads copies nothing.
 */
export function joinRollouts(parts: readonly Rollout[]): Rollout {
  if (parts.length === 1) return parts[0];
  const join = <T extends Float32Array | Int32Array>(
    pick: (part: Rollout) => T,
    shared = true,
  ): T => {
    const length = parts.reduce((n, part) => n + pick(part).length, 0);
    const type = pick(parts[0]).constructor as {
      new (buffer: ArrayBufferLike): T;
      BYTES_PER_ELEMENT: number;
    };
    const bytes = length * type.BYTES_PER_ELEMENT;
    const out = new type(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
    let offset = 0;
    for (const part of parts) {
      out.set(pick(part), offset);
      offset += pick(part).length;
    }
    return out;
  };
  const joinEach = (
    pick: (part: Rollout) => readonly Float32Array[] | undefined,
    shared = true,
  ) => pick(parts[0])?.map((_, k) => join((part) => pick(part)![k], shared));
  return {
    prompts: parts.flatMap((part) => part.prompts),
    tokens: join((part) => part.tokens),
    sampleShape: parts[0].sampleShape,
    states: joinEach((part) => part.states)!,
    logProbOld: joinEach((part) => part.logProbOld)!,
    referenceMeans: joinEach((part) => part.referenceMeans),
    // scored only, by rewards that may hand them to APIs refusing shared memory
    endpointEstimates: joinEach((part) => part.endpointEstimates, false),
    images: join((part) => part.images, false),
  };
}

/** A rollout with its rewards. */
export interface ScoredRollout {
  /** The trajectories. */
  readonly data: Rollout;
  /** Reward of each final image. */
  readonly rewards: Float32Array;
  /** Rewards of the endpoint estimates per intermediate state (step-aware advantages only). */
  readonly stepRewards?: readonly Float32Array[];
}

/**
 * Scores a rollout's final images, and its endpoint estimates when it
 * recorded them, with `reward`. The rollout may be a slice of an iteration's,
 * from trajectory `first` on: a reward scores each image on its own (the
 * {@linkcode Reward} contract), and a {@linkcode RewardError} it throws names
 * the iteration's indices.
 *
 * @example
 * ```ts ignore
 * const slice = await replica.rollout(rolloutOptions(config, { prompts, seed: 0, iteration: 0, first: 256 }));
 * const { rewards } = await scoreRollout(reward, slice, 256);
 * ```
 */
export async function scoreRollout(
  reward: Reward,
  data: Rollout,
  first = 0,
): Promise<ScoredRollout> {
  const { prompts, sampleShape: [, height, width] } = data;
  const score = (values: Float32Array) =>
    reward.score(tensorToImages(values, prompts.length, width, height), prompts);
  try {
    const rewards = await score(data.images);
    const stepRewards = data.endpointEstimates && await Promise.all(
      data.endpointEstimates.map(score),
    );
    return { data, rewards, stepRewards };
  } catch (error) {
    if (first === 0 || !(error instanceof RewardError)) throw error;
    const { reward: name, kind, detail, indices } = rewardFailure(error);
    const last = first + prompts.length - 1;
    throw new RewardError(name, kind, `${detail} (of trajectories ${first}–${last})`, {
      cause: error,
      indices: indices.map((i) => first + i),
    });
  }
}

/**
 * Scored rollouts of consecutive slices of an iteration joined into one, in
 * order ({@linkcode joinRollouts}, the rewards concatenated).
 */
export function joinScored(parts: readonly ScoredRollout[]): ScoredRollout {
  if (parts.length === 1) return parts[0];
  const concat = (arrays: readonly Float32Array[]) => {
    const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
    arrays.reduce((offset, a) => (out.set(a, offset), offset + a.length), 0);
    return out;
  };
  return {
    data: joinRollouts(parts.map((part) => part.data)),
    rewards: concat(parts.map((part) => part.rewards)),
    stepRewards: parts[0].stepRewards?.map((_, k) => concat(parts.map((p) => p.stepRewards![k]))),
  };
}
