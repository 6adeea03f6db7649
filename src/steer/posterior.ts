/**
 * Posterior samples `x0 ~ p(x0 | x_t)` from the flow map itself: `M`
 * stochastic inner rollouts started at `x_t` (docs/math.md §10.3).
 *
 * On the inner grid `t = tau_0 > tau_1 > … > tau_n > 0` (fractions `f_j` of
 * `t`), every inner step but the last is an endpoint-anchor transition
 * (src/anchor.ts, docs/math.md §5.1) whose noise level is the ancestral one,
 *
 *     eta(tau, tau')  = sqrt(1 − (alpha(tau)·sigma(tau') / (alpha(tau')·sigma(tau)))²)
 *     x_tau' ~ N(alpha(tau')·x0_hat + sigma(tau')·sqrt(1 − eta²)·eps_hat, (sigma(tau')·eta)²)
 *
 * which is the Gaussian posterior `p(x_tau' | x_tau, x0 = x0_hat)`. With the
 * posterior mean for `x0_hat` (two-time maps: `x − tau·u(x, tau, tau)`, the
 * instantaneous velocity; one-time maps: `f(x, tau)`, the only estimate they
 * give) the chain samples `p(x_tau_n | x_t)`; the last step is the map's
 * deterministic jump `X(tau_n → 0)`. The first step starts from the same
 * `x_t` for all particles, so its estimate is shared: one NFE per image plus
 * `n` per particle.
 *
 * @module
 */

import { endpointAnchor } from "../anchor.ts";
import { checkOutput, endpointOf, type FlowMap, type Tensor } from "../flowmap.ts";
import type { ProbabilityPath } from "../path.ts";
import { combine2, sampleGaussian } from "../ops.ts";
import type { NormalSource } from "../ops.ts";

/** The inner schedule of the posterior rollouts. */
export interface InnerSchedule {
  /**
   * Inner times as fractions of the outer time `t`, strictly decreasing in
   * (0, 1): `[0.5]` rolls out `t → t/2 → 0` (the default). Each fraction
   * costs one NFE per particle.
   */
  readonly fractions?: readonly number[];
}

/** Default inner fractions: one ancestral step to `t/2`, then the jump to 0. */
export const DEFAULT_INNER_FRACTIONS: readonly number[] = Object.freeze([0.5]);

/**
 * The ancestral noise level of an endpoint-anchor step from `t` to `s`
 * (`0 < s < t`): the `eta` for which the step is the path's Gaussian
 * posterior `p(x_s | x_t, x0)`. RF at `t = 1` gives 1 (fresh noise).
 *
 * @example
 * ```ts
 * import { ancestralEta } from "./posterior.ts";
 * import { rectifiedFlow } from "../path.ts";
 * ancestralEta(rectifiedFlow, 1, 0.5); // 1
 * ancestralEta(rectifiedFlow, 0.5, 0.25); // sqrt(1 − (0.5·0.25 / (0.75·0.5))²) ≈ 0.943
 * ```
 */
export function ancestralEta(path: ProbabilityPath, t: number, s: number): number {
  if (!(s > 0 && s < t)) throw new RangeError(`ancestral step needs 0 < s < t, got t=${t} s=${s}`);
  const keep = (path.alpha(t) * path.sigma(s)) / (path.alpha(s) * path.sigma(t));
  return Math.sqrt(Math.max(0, 1 - keep * keep));
}

/**
 * Validates inner fractions and returns them frozen.
 *
 * @example
 * ```ts
 * import { checkInner } from "./posterior.ts";
 * checkInner({ fractions: [0.6, 0.2] }); // [0.6, 0.2]
 * ```
 */
export function checkInner(inner: InnerSchedule | undefined): readonly number[] {
  const fractions = inner?.fractions ?? DEFAULT_INNER_FRACTIONS;
  if (
    !Array.isArray(fractions) || fractions.length === 0 ||
    !fractions.every((f, j) =>
      typeof f === "number" && f > 0 && f < 1 && (j === 0 || f < fractions[j - 1])
    )
  ) {
    throw new RangeError(
      `inner.fractions must be a non-empty, strictly decreasing list in (0, 1), got ${
        JSON.stringify(fractions)
      }`,
    );
  }
  return Object.freeze([...fractions]);
}

/**
 * The posterior-mean estimate `E[x0 | x_t]` a map gives in one NFE: two-time
 * `x − t·u(x, t, t)` (general path: the velocity's endpoint), one-time `f(x, t)`.
 *
 * @example
 * ```ts
 * import { posteriorMeanOf } from "./posterior.ts";
 * import { rectifiedFlow, type TwoTimeFlowMap } from "../../mod.ts";
 * const still: TwoTimeFlowMap = {
 *   kind: "two-time",
 *   path: rectifiedFlow,
 *   average: (x) => Promise.resolve(new Float32Array(x.data.length)),
 * };
 * await posteriorMeanOf(still, { data: Float32Array.of(1, 2), shape: [1, 2] }, 0.5); // [1, 2]
 * ```
 */
export async function posteriorMeanOf<C>(
  map: FlowMap<C>,
  x: Tensor,
  t: number,
  cond?: C,
): Promise<Float32Array> {
  if (map.kind === "one-time") return endpointOf(map, x, t, cond);
  const v = checkOutput(await map.average(x, t, t, cond), x, "average");
  const path = map.path;
  const det = path.alpha(t) * path.dSigma(t) - path.sigma(t) * path.dAlpha(t);
  return combine2(
    new Float32Array(v.length),
    path.dSigma(t) / det,
    x.data,
    -path.sigma(t) / det,
    v,
  );
}

/** Options of {@link posteriorSamples}. */
export interface PosteriorOptions<C> {
  /** Particles `M` per row of `x`. */
  readonly particles: number;
  /** Inner fractions (default {@link DEFAULT_INNER_FRACTIONS}). */
  readonly inner?: InnerSchedule;
  /** `E[x0 | x_t]` of `x` if the caller has it already (saves the shared NFE). */
  readonly mean?: Float32Array;
  /** Conditioning of the rows of `x` (for the shared estimate). */
  readonly xCond?: C;
  /** Conditioning of the `B·M` particle rows (row `b·M + m` belongs to row `b` of `x`). */
  readonly cond?: C;
  /** Normals for the particles, `M·D` per row of `x` per draw (e.g. a `SamplingNoise`). */
  readonly noise: NormalSource;
}

/** Posterior samples and what they cost. */
export interface PosteriorSamples {
  /** `[B·M, …]` endpoint samples, particle `m` of row `b` at row `b·M + m`. */
  readonly x0: Tensor;
  /** Network evaluations per row of `x`. */
  readonly nfe: number;
}

/**
 * Draws `M` samples of `p(x0 | x_t)` per row of `x` (see the module doc).
 *
 * @example
 * ```ts
 * import { posteriorSamples } from "./posterior.ts";
 * import { rectifiedFlow, SamplingNoise, type TwoTimeFlowMap } from "../../mod.ts";
 * const still: TwoTimeFlowMap = {
 *   kind: "two-time",
 *   path: rectifiedFlow,
 *   average: (x) => Promise.resolve(new Float32Array(x.data.length)),
 * };
 * const x = { data: Float32Array.of(0.3, -0.2), shape: [1, 2] };
 * const { x0, nfe } = await posteriorSamples(still, x, 0.8, {
 *   particles: 4,
 *   noise: new SamplingNoise([7], 1),
 * }); // x0.shape [4, 2], nfe 1 + 4
 * ```
 */
export async function posteriorSamples<C>(
  map: FlowMap<C>,
  x: Tensor,
  t: number,
  options: PosteriorOptions<C>,
): Promise<PosteriorSamples> {
  const { particles: m, cond, xCond, noise } = options;
  const fractions = checkInner(options.inner);
  const rows = x.shape[0], size = x.data.length / rows;
  const shape = [rows * m, ...x.shape.slice(1)];
  let nfe = 0;
  let x0 = options.mean;
  if (x0 === undefined) {
    x0 = await posteriorMeanOf(map, x, t, xCond);
    nfe += 1;
  }
  // every particle starts at its row's x_t with its row's estimate
  const start = repeatRows(x.data, rows, size, m);
  let estimate = repeatRows(x0, rows, size, m);
  let state = start, tau = t;
  for (const [j, fraction] of fractions.entries()) {
    const next = fraction * t;
    const step = endpointAnchor(map.path, tau, next, { eta: ancestralEta(map.path, tau, next) });
    const mean = combine2(
      new Float32Array(state.length),
      step.mean.x,
      state,
      step.mean.x0,
      estimate,
    );
    state = sampleGaussian(new Float32Array(state.length), mean, step.std, noise);
    tau = next;
    if (j + 1 < fractions.length) {
      estimate = await posteriorMeanOf(map, { data: state, shape }, tau, cond);
      nfe += m;
    }
  }
  const data = await endpointOf(map, { data: state, shape }, tau, cond);
  return { x0: { data, shape }, nfe: nfe + m };
}

function repeatRows(data: Float32Array, rows: number, size: number, m: number): Float32Array {
  const out = new Float32Array(rows * m * size);
  for (let b = 0; b < rows; b++) {
    const row = data.subarray(b * size, (b + 1) * size);
    for (let p = 0; p < m; p++) out.set(row, (b * m + p) * size);
  }
  return out;
}
