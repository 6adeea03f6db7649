/**
 * The rollout policy on TF.js tensors: one ASFMC transition per grid step
 * (docs/math.md §5.1–5.3), the deterministic final transition (§6), the
 * one-step endpoint estimate (§6, step-aware advantages), and the Gaussian
 * log-probability and KL of §5.5. Rollouts and the objective both call these
 * functions, so the mean recorded at rollout time and the mean the objective
 * differentiates come from the same operations.
 *
 * All coefficients come from `src/anchor.ts`; {@link applyCoefficients} is the
 * only place they meet tensors.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import {
  type Anchor,
  anchorStep,
  type GaussianStep,
  type LocalAnchorStep,
  twoTimeJump,
} from "../src/anchor.ts";
import { modelGrid, type ModelSchedule, type TimeGrid, validateGrid } from "../src/grid.ts";
import { type KlScale, klStd, LOG_SQRT_2PI, type Reduction } from "../src/logprob.ts";
import type { Coefficients, ProbabilityPath } from "../src/path.ts";
import { pathOf } from "./model/config.ts";
import type { LinearAdapter, TfFlowMap } from "./model/tfjs.ts";

/**
 * `Σ_k c[k]·tensors[k]`: applies a coefficient record from `src/anchor.ts` or
 * `src/path.ts` to the tensors it names.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { applyCoefficients } from "./policy.ts";
 * applyCoefficients({ x: 1, u: -0.5 }, { x: tf.ones([2]), u: tf.ones([2]) }); // [0.5, 0.5]
 * ```
 */
export function applyCoefficients<K extends string>(
  coefficients: Coefficients<K>,
  tensors: Readonly<Record<K, tf.Tensor>>,
): tf.Tensor {
  const keys = Object.keys(coefficients) as K[];
  return tf.tidy(() =>
    keys.map((k) => tf.mul(tensors[k], coefficients[k])).reduce((sum, term) => tf.add(sum, term))
  );
}

/**
 * The rollout grid of a run (docs/math.md §3, §6): the model's grid
 * ({@linkcode modelGrid}) at P + 1 steps, with the config's explicit grid
 * (P + 2 times) or shift when it gives one — so without either, the rollouts
 * walk the grid that evaluation and the service sample at K = P + 1.
 *
 * @example
 * ```ts
 * import { rectifiedFlow } from "../src/path.ts";
 * import { rolloutGrid } from "./policy.ts";
 * const model = { path: rectifiedFlow, shift: 1, defaultGrid: [1, 0.6, 0], defaultSteps: 2 };
 * rolloutGrid(model, { stochasticSteps: 2, shift: 3 }); // [1, 0.857…, 0.6, 0]
 * rolloutGrid(model, { stochasticSteps: 2 }); // [1, 0.666…, 0.333…, 0]
 * rolloutGrid(model, { stochasticSteps: 1 }); // [1, 0.6, 0]: the default grid
 * ```
 */
export function rolloutGrid(
  model: ModelSchedule,
  { stochasticSteps, shift, grid }: {
    stochasticSteps: number;
    shift?: number;
    grid?: readonly number[];
  },
): TimeGrid {
  return modelGrid(model, { steps: stochasticSteps + 1, shift, grid });
}

/** The tensors one transition is conditioned on. */
export interface PolicyInputs {
  /** Current states `x_k`, `[B, C, H, W]`. */
  readonly x: tf.Tensor4D;
  /** Prompt tokens `[B, L]`, int32. */
  readonly tokens: tf.Tensor2D;
}

/**
 * A flow map as a stochastic policy over a fixed rollout grid. `adapter`
 * undefined is the reference policy (the base with LoRA off).
 */
export class FlowMapPolicy {
  /** The network (frozen base). */
  readonly model: TfFlowMap;
  /** The path the map transports along. */
  readonly path: ProbabilityPath;
  /** The rollout grid `t_0 > … > t_P > t_{P+1} = 0`. */
  readonly grid: TimeGrid;
  /** The stochastic transition. */
  readonly anchor: Anchor;
  readonly #steps: readonly GaussianStep<string>[];

  /**
   * Fixes the grid and checks that the anchor suits the map.
   *
   * @param grid the rollout grid `t_0 > … > t_P > 0` and a final 0, P ≥ 1
   *   ({@link rolloutGrid})
   */
  constructor(model: TfFlowMap, anchor: Anchor, grid: readonly number[]) {
    const kind = model.config.kind;
    if (kind === "one-time" && anchor.kind !== "endpoint") {
      throw new RangeError(
        `the ${anchor.kind} anchor needs a two-time map; one-time maps use the endpoint anchor`,
      );
    }
    this.model = model;
    this.path = pathOf(model.config);
    this.anchor = anchor;
    this.grid = validateGrid(grid, this.path);
    if (this.grid.length < 3) {
      throw new RangeError(`a rollout grid needs P ≥ 1 stochastic steps, got ${grid.length} times`);
    }
    this.#steps = Array.from(
      { length: this.grid.length - 2 },
      (_, k) => anchorStep(this.path, anchor, this.grid[k], this.grid[k + 1]),
    );
  }

  /** P, the number of stochastic transitions. */
  get stochasticSteps(): number {
    return this.#steps.length;
  }

  /** The Gaussian of stochastic transition `k` (its std and noise scale). */
  step(k: number): GaussianStep<string> {
    const step = this.#steps[k];
    if (step === undefined) throw new RangeError(`no stochastic transition ${k}`);
    return step;
  }

  /** Mean of stochastic transition `k` from `x_k` (docs/math.md §5.1–5.3). */
  transitionMean(k: number, inputs: PolicyInputs, adapter?: LinearAdapter): tf.Tensor4D {
    const t = this.grid[k], s = this.grid[k + 1];
    const { x } = inputs;
    const anchor = this.anchor;
    return tf.tidy(() => {
      if (anchor.kind === "endpoint") {
        const x0 = this.endpoint(inputs, t, adapter);
        return applyCoefficients(this.step(k).mean, { x, x0 }) as tf.Tensor4D;
      }
      const u = this.#net(inputs, t, s, adapter);
      const y = applyCoefficients(twoTimeJump(t, s), { x, u }) as tf.Tensor4D;
      if (anchor.kind === "local") {
        const step = this.step(k) as LocalAnchorStep;
        const velocity = step.extraNfe ? this.#net({ ...inputs, x: y }, s, s, adapter) : u;
        return applyCoefficients(step.mean, { y, velocity }) as tf.Tensor4D;
      }
      // naive intermediate (§5.3): y_a = X(s → a)(y), then mean = (alpha(s)/alpha(a))·y_a
      const a = anchor.fraction * s;
      const ua = this.#net({ ...inputs, x: y }, s, a, adapter);
      const anchored = applyCoefficients(twoTimeJump(s, a), { x: y, u: ua });
      return applyCoefficients(this.step(k).mean, { anchored }) as tf.Tensor4D;
    });
  }

  /**
   * The one-step endpoint estimate `X(t → 0)(x)` (docs/math.md §5.1): `f(x, t)`, or
   * `x − t·u(x, 0, t)` for a two-time map. At `t = t_P` it is the
   * deterministic final transition that produces the rewarded image.
   */
  endpoint(inputs: PolicyInputs, t: number, adapter?: LinearAdapter): tf.Tensor4D {
    return tf.tidy(() => {
      if (this.model.config.kind === "one-time") return this.#net(inputs, t, 0, adapter);
      const u = this.#net(inputs, t, 0, adapter);
      return applyCoefficients(twoTimeJump(t, 0), { x: inputs.x, u }) as tf.Tensor4D;
    });
  }

  /** The network at times `t` (and target `r` for two-time maps). */
  #net(inputs: PolicyInputs, t: number, r: number, adapter?: LinearAdapter): tf.Tensor4D {
    const batch = inputs.x.shape[0];
    return tf.tidy(() =>
      this.model.forward({
        x: inputs.x,
        t: tf.fill([batch], t) as tf.Tensor1D,
        r: this.model.config.kind === "two-time" ? tf.fill([batch], r) as tf.Tensor1D : undefined,
        tokens: inputs.tokens,
      }, adapter)
    );
  }
}

/**
 * Per-sample Gaussian log-density of `x` under `N(mean, std²·I)` (docs/math.md §5.5):
 * the per-element terms `−(x − mean)²/(2std²) − log std − log √(2π)`
 * reduced by their mean (Flow-GRPO) or sum over each sample's elements.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { tensorGaussianLogProb } from "./policy.ts";
 * tensorGaussianLogProb(tf.zeros([1, 1, 2, 2]), tf.zeros([1, 1, 2, 2]), 1, "mean"); // [-0.9189…]
 * ```
 */
export function tensorGaussianLogProb(
  x: tf.Tensor4D,
  mean: tf.Tensor4D,
  std: number,
  reduction: Reduction,
): tf.Tensor1D {
  const elements = x.shape[1] * x.shape[2] * x.shape[3];
  const perElement = -Math.log(std) - LOG_SQRT_2PI;
  return tf.tidy(() => {
    const squares = tf.sum(tf.square(tf.sub(x, mean)), [1, 2, 3]);
    const total = tf.add(tf.mul(squares, -1 / (2 * std * std)), perElement * elements);
    return (reduction === "mean" ? tf.div(total, elements) : total) as tf.Tensor1D;
  });
}

/**
 * Per-sample KL to the reference policy with the same std (docs/math.md §5.5):
 * `(mean_theta − mean_ref)² / (2·std_kl²)` reduced like the log-probability,
 * with `std_kl` the step's std or its noise scale ({@link KlScale}).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { endpointAnchor } from "../src/anchor.ts";
 * import { rectifiedFlow } from "../src/path.ts";
 * import { tensorGaussianKl } from "./policy.ts";
 * const step = endpointAnchor(rectifiedFlow, 0.8, 0.4);
 * tensorGaussianKl(tf.ones([1, 1, 1, 1]), tf.zeros([1, 1, 1, 1]), step, "step-std", "sum"); // [1 / (2·0.16)]
 * ```
 */
export function tensorGaussianKl(
  mean: tf.Tensor4D,
  reference: tf.Tensor4D,
  step: GaussianStep<string>,
  scale: KlScale,
  reduction: Reduction,
): tf.Tensor1D {
  const std = klStd(step, scale);
  return tf.tidy(() => {
    const squares = tf.square(tf.sub(mean, reference));
    const reduced = reduction === "mean" ? tf.mean(squares, [1, 2, 3]) : tf.sum(squares, [1, 2, 3]);
    return tf.div(reduced, 2 * std * std) as tf.Tensor1D;
  });
}
