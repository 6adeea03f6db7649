/**
 * The transition engine: the one loop that walks a time grid from noise to
 * data (docs/math.md §4–6). The SDK's samplers drain it; the trainer's
 * rollouts record every transition from it, with the means of their own
 * network (TF.js or ONNX Runtime). Each step `k` from `t_k` to `t_{k+1}` has
 * three phases:
 *
 * 1. the step's Gaussian `N(mean, std²·I)` from `x_k` (the caller's
 *    {@link StepRule}; {@link flowMapStep} for an SDK flow map);
 * 2. `x_{k+1} = mean + std·z` with `z` the next draw of the seeded stream, or
 *    `x_{k+1} = mean` without a draw when `std = 0` (the deterministic
 *    steps, among them always the final one to data) — {@link nextState};
 * 3. the transition `(x_k, mean, std, x_{k+1})` is yielded.
 *
 * @module
 */

import {
  type Anchor,
  endpointAnchor,
  localAnchor,
  naiveIntermediateAnchor,
  twoTimeJump,
} from "./anchor.ts";
import { checkOutput, endpointOf, type FlowMap, type Tensor } from "./flowmap.ts";
import type { TimeGrid } from "./grid.ts";
import { combine2, type NormalSource, sampleGaussian } from "./ops.ts";
import type { ProbabilityPath } from "./path.ts";

/** The Gaussian `N(mean, std²·I)` of one step; `std = 0` is a deterministic step. */
export interface StepGaussian {
  /** The mean, batch first. */
  readonly mean: Float32Array;
  /** The standard deviation (0: deterministic). */
  readonly std: number;
}

/**
 * The Gaussian of step `k` from the state `x_k` (batch first). The engine
 * owns `x_k`; a rule must not write to it.
 *
 * @example A rule that halves the state, deterministically
 * ```ts
 * import type { StepRule } from "./transition.ts";
 * const halve: StepRule = (_k, x) => Promise.resolve({ mean: x.map((v) => v / 2), std: 0 });
 * ```
 */
export type StepRule = (k: number, x: Float32Array) => Promise<StepGaussian>;

/** One transition `x_k → x_{k+1}` of the loop, from time `t` to time `s`. */
export interface Transition extends StepGaussian {
  /** Step index k. */
  readonly k: number;
  /** Time `t_k` of `x`. */
  readonly t: number;
  /** Time `t_{k+1}` of `next`. */
  readonly s: number;
  /** The state `x_k`, batch first. */
  readonly x: Float32Array;
  /** The state `x_{k+1}` (the mean itself when `std = 0`). */
  readonly next: Float32Array;
}

/** Options of {@link transitions}. */
export interface TransitionOptions {
  /** The grid `t_0 > … > t_K = 0` ({@linkcode timeGrid}). */
  readonly grid: TimeGrid;
  /** The path: the start is `sigma(t_0)·eps` (docs/math.md §4). */
  readonly path: ProbabilityPath;
  /** The seeded noise, one stream per image (e.g. `SamplingNoise`). */
  readonly noise: NormalSource;
  /** Values of the whole batch. */
  readonly size: number;
  /**
   * Standard-normal start noise `eps` instead of the stream's first draw;
   * that draw is still made, so every later draw keeps its place.
   */
  readonly startNoise?: Float32Array;
}

/**
 * Walks `grid` from `x_0 = sigma(t_0)·eps` (eps: the stream's first draw),
 * yielding each transition; the last one's `next` is the sample at `t = 0`.
 *
 * @example Two steps that halve the state
 * ```ts
 * import { BatchNoise, rectifiedFlow, transitions, uniformGrid } from "../mod.ts";
 * const halve = (_k: number, x: Float32Array) =>
 *   Promise.resolve({ mean: x.map((v) => v / 2), std: 0 });
 * const options = { grid: uniformGrid(2), path: rectifiedFlow, noise: new BatchNoise([1]), size: 4 };
 * for await (const { k, x, next } of transitions(halve, options)) {
 *   console.log(k, x[0], next[0]); // next = x / 2
 * }
 * ```
 */
export async function* transitions(
  rule: StepRule,
  { grid, path, noise, size, startNoise }: TransitionOptions,
): AsyncGenerator<Transition, void, undefined> {
  let x = noise.fill(new Float32Array(size));
  if (startNoise !== undefined) {
    if (startNoise.length !== size) {
      throw new RangeError(`startNoise holds ${startNoise.length} values, the batch ${size}`);
    }
    x.set(startNoise);
  }
  const sigma0 = path.sigma(grid[0]);
  if (sigma0 !== 1) { for (let i = 0; i < x.length; i++) x[i] *= sigma0; }
  for (let k = 0; k + 1 < grid.length; k++) {
    // 1. the step's Gaussian from x_k
    const { mean, std } = await rule(k, x);
    if (mean.length !== size) {
      throw new RangeError(`step ${k}'s mean holds ${mean.length} values, the batch ${size}`);
    }
    // 2. x_{k+1}: seeded noise around the mean, none on deterministic steps
    const next = nextState(mean, std, noise);
    // 3. the transition
    yield { k, t: grid[k], s: grid[k + 1], x, mean, std, next };
    x = next;
  }
}

/**
 * Phase 2 of a step: `mean + std·z` with `z` the next draw of `noise` into a
 * new buffer, or `mean` itself, without a draw, when `std = 0`.
 *
 * @example
 * ```ts
 * import { BatchNoise, nextState } from "../mod.ts";
 * const mean = new Float32Array(4);
 * nextState(mean, 0, new BatchNoise([1])) === mean; // true: deterministic
 * nextState(mean, 0.5, new BatchNoise([1])); // 0.5 × four standard normals
 * ```
 */
export function nextState(mean: Float32Array, std: number, noise: NormalSource): Float32Array {
  return std === 0 ? mean : sampleGaussian(new Float32Array(mean.length), mean, std, noise);
}

/** What a flow-map step does: the two-time map's deterministic jump, or an anchor. */
export type Move = { readonly kind: "jump" } | Anchor;

/**
 * The Gaussian of one flow-map step from `t` to `s` on Float32Arrays:
 *
 * - `jump`: `X(t → s)(x) = x − (t − s)·u(x, s, t)`, two-time maps (docs/math.md §4);
 * - `endpoint`: §5.1 from `x0_hat = X(t → 0)(x)` (the one-time sampler of §4 with
 *   `eta` 1; deterministic at `s = 0`);
 * - `local`: §5.2 from `y = X(t → s)(x)` and its velocity (reused, or one extra NFE);
 * - `naive-intermediate`: §5.3 from `y_a = X(s → a)(y)`, `a = fraction·s`.
 *
 * @example The deterministic two-time jump
 * ```ts
 * import { flowMapStep, rectifiedFlow, type TwoTimeFlowMap } from "../mod.ts";
 * const still: TwoTimeFlowMap = {
 *   kind: "two-time",
 *   path: rectifiedFlow,
 *   average: (x) => Promise.resolve(new Float32Array(x.data.length)),
 * };
 * const x = { data: Float32Array.of(0.5, -0.5), shape: [1, 2] };
 * const { mean, std } = await flowMapStep(still, { kind: "jump" }, x, 1, 0.5); // mean = x, std 0
 * ```
 */
export async function flowMapStep<C>(
  map: FlowMap<C>,
  move: Move,
  x: Tensor,
  t: number,
  s: number,
  cond?: C,
): Promise<StepGaussian> {
  const out = () => new Float32Array(x.data.length);
  if (move.kind === "endpoint") {
    const x0 = await endpointOf(map, x, t, cond);
    const step = endpointAnchor(map.path, t, s, { eta: move.eta });
    return { mean: combine2(out(), step.mean.x, x.data, step.mean.x0, x0), std: step.std };
  }
  if (map.kind !== "two-time") {
    throw new RangeError(
      `the ${move.kind} step needs a two-time flow map; use the endpoint anchor`,
    );
  }
  const average = async (state: Float32Array, r: number, from: number) =>
    checkOutput(await map.average({ data: state, shape: x.shape }, r, from, cond), x, "average");
  const u = await average(x.data, s, t);
  const jump = twoTimeJump(t, s);
  const y = combine2(out(), jump.x, x.data, jump.u, u);
  if (move.kind === "jump") return { mean: y, std: 0 };
  if (move.kind === "local") {
    const step = localAnchor(map.path, t, s, move);
    const velocity = step.extraNfe ? await average(y, s, s) : u;
    return { mean: combine2(out(), step.mean.y, y, step.mean.velocity, velocity), std: step.std };
  }
  const a = move.fraction * s;
  const step = naiveIntermediateAnchor(map.path, s, a);
  const back = twoTimeJump(s, a);
  const mean = combine2(out(), back.x, y, back.u, await average(y, a, s));
  for (let i = 0; i < mean.length; i++) mean[i] *= step.mean.anchored;
  return { mean, std: step.std };
}
