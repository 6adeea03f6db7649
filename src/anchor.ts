/**
 * One-step transition math for flow-map sampling: the deterministic jumps of
 * docs/math.md §4, the ASFMC anchors of §5.1–5.3 and the Flow-GRPO SDE step of
 * §5.4.
 *
 * Each function returns the coefficients of a Gaussian transition
 * `N(mean, std²·I)` whose mean is a linear combination of named tensors
 * (the network's outputs and the current state) and whose std depends only on
 * times and hyperparameters. `std = 0` marks a deterministic transition.
 *
 * {@link AnchorOptions} names the stochastic step of the SDK's samplers and
 * the trainer's rollouts alike; {@link ANCHOR_DEFAULTS} holds its defaults,
 * {@link resolveAnchor} fills them in and {@link anchorStep} gives its
 * Gaussian.
 *
 * @module
 */

import {
  checkTime,
  type Coefficients,
  noiseFromEndpoint,
  type ProbabilityPath,
  scoreFromVelocity,
} from "./path.ts";

/**
 * A Gaussian transition `x_s ~ N(Σ_k mean[k]·input[k], std²·I)`.
 *
 * @typeParam K names of the tensors the mean combines
 */
export interface GaussianStep<K extends string> {
  /** Coefficients of the mean's linear combination. */
  readonly mean: Coefficients<K>;
  /** Standard deviation of the step (0 for a deterministic transition). */
  readonly std: number;
  /**
   * The diffusion scale `g` without the `sqrt(step)` factor (equal to `std`
   * for the anchors that have no SDE). The "noise-scale" KL of §5.5 uses it.
   */
  readonly noiseScale: number;
}

/**
 * The two-time map's deterministic jump `X(t → s)(x) = x − (t − s)·u(x, s, t)`
 * (docs/math.md §2, §4).
 *
 * @example
 * ```ts
 * import { twoTimeJump } from "./anchor.ts";
 * twoTimeJump(1, 0.25); // { x: 1, u: -0.75 }
 * ```
 */
export function twoTimeJump(t: number, s: number): Coefficients<"x" | "u"> {
  checkOrder(t, s);
  return { x: 1, u: -(t - s) };
}

/**
 * Defaults of the anchors' settings (docs/math.md §5): the endpoint anchor's
 * `eta` 1 keeps the marginal exactly; the local anchor's `delta` 0.01 and
 * Flow-GRPO's noise level 0.7; the naive anchor's `fraction` 0.5.
 *
 * @example
 * ```ts
 * import { ANCHOR_DEFAULTS } from "./anchor.ts";
 * ANCHOR_DEFAULTS.local.delta; // 0.01
 * ```
 */
export const ANCHOR_DEFAULTS: {
  readonly endpoint: { readonly eta: number };
  readonly local: {
    readonly delta: number;
    readonly noiseLevel: number;
    readonly velocity: "reuse" | "extra-nfe";
  };
  readonly "naive-intermediate": { readonly fraction: number };
} = Object.freeze({
  endpoint: Object.freeze({ eta: 1 }),
  local: Object.freeze({ delta: 0.01, noiseLevel: 0.7, velocity: "reuse" as const }),
  "naive-intermediate": Object.freeze({ fraction: 0.5 }),
});

/**
 * The stochastic step of ASFMC (docs/math.md §5.1–5.3), a tagged union;
 * omitted settings take {@link ANCHOR_DEFAULTS}:
 *
 * - `endpoint` (§5.1, both map kinds): `eta` in (0, 1];
 * - `local` (§5.2, two-time maps on rectified flow): `delta`, `noiseLevel`,
 *   `velocity` ("reuse" the jump's, or one "extra-nfe");
 * - `naive-intermediate` (§5.3, two-time maps, ablation only): the anchor
 *   time `a = fraction·s`.
 *
 * @example
 * ```ts
 * import type { AnchorOptions } from "./anchor.ts";
 * const local: AnchorOptions = { kind: "local", delta: 0.03 };
 * ```
 */
export type AnchorOptions =
  | { readonly kind: "endpoint"; readonly eta?: number }
  | {
    readonly kind: "local";
    readonly delta?: number;
    readonly noiseLevel?: number;
    readonly velocity?: "reuse" | "extra-nfe";
  }
  | { readonly kind: "naive-intermediate"; readonly fraction?: number };

/**
 * An {@link AnchorOptions} with every setting present and checked.
 *
 * @example
 * ```ts
 * import { type Anchor, resolveAnchor } from "./anchor.ts";
 * const anchor: Anchor = resolveAnchor({ kind: "endpoint" }); // { kind: "endpoint", eta: 1 }
 * ```
 */
export type Anchor =
  | { readonly kind: "endpoint"; readonly eta: number }
  | {
    readonly kind: "local";
    readonly delta: number;
    readonly noiseLevel: number;
    readonly velocity: "reuse" | "extra-nfe";
  }
  | { readonly kind: "naive-intermediate"; readonly fraction: number };

/**
 * Fills in an anchor's defaults ({@link ANCHOR_DEFAULTS}) and checks it: a
 * known `kind`, only that kind's settings, each in range (`eta` in (0, 1],
 * `delta` and `noiseLevel` positive, `fraction` in (0, 1)). Throws a
 * `RangeError` naming the first problem.
 *
 * @example
 * ```ts
 * import { resolveAnchor } from "./anchor.ts";
 * resolveAnchor({ kind: "local", delta: 0.03 });
 * // { kind: "local", delta: 0.03, noiseLevel: 0.7, velocity: "reuse" }
 * ```
 */
export function resolveAnchor(options: AnchorOptions): Anchor {
  const kind = (options as { kind?: unknown } | undefined)?.kind;
  if (kind !== "endpoint" && kind !== "local" && kind !== "naive-intermediate") {
    throw new RangeError(
      `anchor kind must be "endpoint", "local" or "naive-intermediate", got ${
        JSON.stringify(kind)
      }`,
    );
  }
  const defaults: Readonly<Record<string, unknown>> = ANCHOR_DEFAULTS[kind];
  const stray = Object.keys(options).filter((key) => key !== "kind" && !(key in defaults));
  if (stray.length > 0) {
    throw new RangeError(
      `the ${kind} anchor takes ${Object.keys(defaults).join(", ")}; got ${stray.join(", ")}`,
    );
  }
  const anchor = { ...defaults, ...options } as Anchor;
  if (anchor.kind === "endpoint") {
    if (!(Number.isFinite(anchor.eta) && anchor.eta > 0 && anchor.eta <= 1)) {
      throw new RangeError(`endpoint anchor eta must lie in (0, 1], got ${anchor.eta}`);
    }
  } else if (anchor.kind === "local") {
    checkPositive(anchor.delta, "local anchor delta");
    checkPositive(anchor.noiseLevel, "noise level");
    if (anchor.velocity !== "reuse" && anchor.velocity !== "extra-nfe") {
      throw new RangeError(
        `local anchor velocity must be "reuse" or "extra-nfe", got ${
          JSON.stringify(anchor.velocity)
        }`,
      );
    }
  } else if (!(anchor.fraction > 0 && anchor.fraction < 1)) {
    throw new RangeError(`naive anchor fraction must lie in (0, 1), got ${anchor.fraction}`);
  }
  return Object.freeze(anchor);
}

/**
 * The Gaussian of one stochastic step from `t` to `s` under `anchor`
 * (docs/math.md §5.1–5.3): {@link endpointAnchor}, {@link localAnchor} or
 * {@link naiveIntermediateAnchor} at `a = fraction·s`.
 *
 * @example
 * ```ts
 * import { anchorStep } from "./anchor.ts";
 * import { rectifiedFlow } from "./path.ts";
 * anchorStep(rectifiedFlow, { kind: "endpoint", eta: 1 }, 0.8, 0.4).std; // 0.4
 * ```
 */
export function anchorStep(
  path: ProbabilityPath,
  anchor: Anchor,
  t: number,
  s: number,
): GaussianStep<string> {
  if (anchor.kind === "endpoint") return endpointAnchor(path, t, s, { eta: anchor.eta });
  if (anchor.kind === "local") return localAnchor(path, t, s, anchor);
  return naiveIntermediateAnchor(path, s, anchor.fraction * s);
}

/** Options of {@link endpointAnchor}. */
export interface EndpointAnchorOptions {
  /**
   * Endpoint noise level in [0, 1]; 1 (default) keeps the marginal exactly.
   * 0 reuses the implied noise: the DDIM-style deterministic step of §4,
   * which inflates the variance of flow maps and is offered only as an option.
   */
  eta?: number;
}

/**
 * Endpoint anchor (docs/math.md §5.1), also the consistency sampler's step (§4, eta = 1):
 *
 *     eps_hat = (x_t − alpha(t)·x0_hat) / sigma(t)
 *     mean    = alpha(s)·x0_hat + sigma(s)·sqrt(1 − eta²)·eps_hat
 *     std     = sigma(s)·eta
 *
 * expressed over the inputs `x` (= x_t) and `x0` (= x0_hat). At `s = 0` the
 * step returns `x0_hat` deterministically.
 *
 * @example
 * ```ts
 * import { endpointAnchor } from "./anchor.ts";
 * import { rectifiedFlow } from "./path.ts";
 * endpointAnchor(rectifiedFlow, 0.8, 0.4); // mean { x: 0, x0: 0.6 }, std 0.4
 * ```
 */
export function endpointAnchor(
  path: ProbabilityPath,
  t: number,
  s: number,
  { eta = ANCHOR_DEFAULTS.endpoint.eta }: EndpointAnchorOptions = {},
): GaussianStep<"x" | "x0"> {
  checkTime(path, t, "t", { data: true });
  checkTime(path, s, "s");
  checkOrder(t, s);
  if (!(Number.isFinite(eta) && eta >= 0 && eta <= 1)) {
    throw new RangeError(`endpoint anchor eta must lie in [0, 1], got ${eta}`);
  }
  const keep = path.sigma(s) * Math.sqrt(1 - eta * eta);
  const eps = noiseFromEndpoint(path, t);
  const std = path.sigma(s) * eta;
  return {
    mean: { x: keep * eps.x, x0: path.alpha(s) + keep * eps.x0 },
    std,
    noiseScale: std,
  };
}

/** Options of {@link localAnchor}. */
export interface LocalAnchorOptions {
  /** Anchor offset: the anchor time is `a = s + delta` (must be < 1). */
  delta: number;
  /** Flow-GRPO's noise level (default {@link ANCHOR_DEFAULTS}: 0.7). */
  noiseLevel?: number;
  /**
   * Where `v_hat` comes from: "reuse" the jump's `u(x_t, s, t)` (default, no
   * extra NFE) or an "extra-nfe" evaluation `u(y, s, s)`. The coefficients are
   * the same; this tells the caller which tensor to feed.
   */
  velocity?: "reuse" | "extra-nfe";
}

/** A local-anchor step: a Gaussian over `y` and `velocity`, plus its velocity source. */
export interface LocalAnchorStep extends GaussianStep<"y" | "velocity"> {
  /** Whether the caller must evaluate `u(y, s, s)` for the velocity input. */
  readonly extraNfe: boolean;
}

/**
 * Local anchor (docs/math.md §5.2), two-time rectified-flow maps only. With
 * `y = X(t → s)(x_t)` (see {@link twoTimeJump}) and `a = s + delta`:
 *
 *     g     = noise_level·sqrt(a / (1 − a))
 *     score = −(y + (1 − s)·v_hat) / s
 *     mean  = y + (g²·delta / 2)·score
 *     std   = g·sqrt(delta)
 *
 * @example
 * ```ts
 * import { localAnchor } from "./anchor.ts";
 * import { rectifiedFlow } from "./path.ts";
 * const step = localAnchor(rectifiedFlow, 0.8, 0.4, { delta: 0.03 });
 * step.std; // ≈ 0.1009
 * ```
 */
export function localAnchor(
  path: ProbabilityPath,
  t: number,
  s: number,
  {
    delta,
    noiseLevel = ANCHOR_DEFAULTS.local.noiseLevel,
    velocity = ANCHOR_DEFAULTS.local.velocity,
  }: LocalAnchorOptions,
): LocalAnchorStep {
  requireRectifiedFlow(path, "the local anchor");
  checkTime(path, t, "t");
  checkOrder(t, s);
  if (!(s > 0)) {
    throw new RangeError(
      `the local anchor needs s > 0 (its score is undefined at data), got s = ${s}`,
    );
  }
  checkPositive(delta, "local anchor delta");
  checkPositive(noiseLevel, "noise level");
  const a = s + delta;
  if (!(a < 1)) {
    throw new RangeError(`local anchor time a = s + delta = ${a} must be < 1 (s = ${s})`);
  }
  const g = noiseLevel * Math.sqrt(a / (1 - a));
  const pull = (g * g * delta) / 2;
  const score = scoreFromVelocity(path, s);
  return {
    mean: { y: 1 + pull * score.x, velocity: pull * score.v },
    std: g * Math.sqrt(delta),
    noiseScale: g,
    extraNfe: velocity === "extra-nfe",
  };
}

/**
 * Naive intermediate anchor (docs/math.md §5.3), kept only to reproduce its negative
 * result: with `y_a = X(s → a)(y)` for `0 < a < s`,
 *
 *     mean = (alpha(s) / alpha(a))·y_a
 *     std  = sigma(s) − alpha(s)·sigma(a) / alpha(a)
 *
 * The std multiplies fresh noise `e`; drawing `e` from its posterior given
 * `y_a` instead would keep the marginal, which the naive form does not.
 *
 * @example
 * ```ts
 * import { naiveIntermediateAnchor } from "./anchor.ts";
 * import { rectifiedFlow } from "./path.ts";
 * naiveIntermediateAnchor(rectifiedFlow, 0.4, 0.2); // mean { anchored: 0.75 }, std 0.25
 * ```
 */
export function naiveIntermediateAnchor(
  path: ProbabilityPath,
  s: number,
  a: number,
): GaussianStep<"anchored"> {
  checkTime(path, s, "s", { noise: true });
  if (!(a > 0 && a < s)) {
    throw new RangeError(`intermediate anchor time a must satisfy 0 < a < s = ${s}, got ${a}`);
  }
  const ratio = path.alpha(s) / path.alpha(a);
  const std = path.sigma(s) - ratio * path.sigma(a);
  return { mean: { anchored: ratio }, std, noiseScale: std };
}

/** Options of {@link sdeStep}. */
export interface SdeStepOptions {
  /** Flow-GRPO's noise level (default {@link ANCHOR_DEFAULTS}: 0.7). */
  noiseLevel?: number;
  /**
   * Required when `t = 1`, where `t / (1 − t)` is infinite: the time used in
   * the denominator instead (Flow-GRPO uses the grid's next time).
   */
  noiseTime?: number;
}

/**
 * Flow-GRPO SDE step for velocity models on rectified flow (docs/math.md §5.4), from
 * `t` to `s` with `dt = s − t < 0`:
 *
 *     g    = noise_level·sqrt(t / (1 − t))
 *     mean = x + (v + (g² / (2t))·(x + (1 − t)·v))·dt
 *     std  = g·sqrt(−dt)
 *
 * @example
 * ```ts
 * import { sdeStep } from "./anchor.ts";
 * import { rectifiedFlow } from "./path.ts";
 * sdeStep(rectifiedFlow, 0.5, 0.25, { noiseLevel: 0.7 }).std; // 0.35
 * ```
 */
export function sdeStep(
  path: ProbabilityPath,
  t: number,
  s: number,
  { noiseLevel = ANCHOR_DEFAULTS.local.noiseLevel, noiseTime }: SdeStepOptions = {},
): GaussianStep<"x" | "velocity"> {
  requireRectifiedFlow(path, "the SDE step");
  checkTime(path, t, "t", { data: true });
  checkTime(path, s, "s");
  checkOrder(t, s);
  checkPositive(noiseLevel, "noise level");
  let denominatorTime = t;
  if (t === 1) {
    if (noiseTime === undefined) {
      throw new RangeError("the SDE step at t = 1 needs noiseTime (the next grid time)");
    }
    denominatorTime = checkTime(path, noiseTime, "noiseTime", { noise: true });
  }
  const g = noiseLevel * Math.sqrt(t / (1 - denominatorTime));
  const dt = s - t;
  const drift = (g * g) / (2 * t);
  return {
    mean: { x: 1 + drift * dt, velocity: dt + drift * (1 - t) * dt },
    std: g * Math.sqrt(-dt),
    noiseScale: g,
  };
}

function checkOrder(t: number, s: number): void {
  if (!(Number.isFinite(t) && Number.isFinite(s) && s >= 0 && s < t)) {
    throw new RangeError(`a step needs finite times 0 ≤ s < t, got t = ${t}, s = ${s}`);
  }
}

function checkPositive(value: number, what: string): void {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`${what} must be a positive finite number, got ${value}`);
  }
}

function requireRectifiedFlow(path: ProbabilityPath, what: string): void {
  if (path.name !== "rectified-flow") {
    throw new RangeError(`${what} is defined for rectified-flow paths only, got ${path.name}`);
  }
}
