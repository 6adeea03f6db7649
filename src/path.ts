/**
 * Affine probability paths `x_t = alpha(t)·x0 + sigma(t)·eps` and the
 * conversions between velocity, endpoint estimate, implied noise and score
 * (docs/math.md §1).
 *
 * Every conversion is linear in its tensor inputs, so it is returned as
 * scalar coefficients: the SDK applies them to Float32Arrays, the trainer to
 * autodiff tensors, and both use the same numbers.
 *
 * @module
 */

/** Names of the supported paths, as recorded in model files. */
export type PathName = "rectified-flow" | "trigflow";

/** Scalar coefficients of a linear combination of named tensors. */
export type Coefficients<K extends string> = Readonly<Record<K, number>>;

/**
 * An affine probability path between data (t = 0) and noise (t = tMax).
 *
 * @example Mix data and noise at t = 0.25
 * ```ts
 * import { rectifiedFlow } from "./path.ts";
 * const t = 0.25;
 * const xt = rectifiedFlow.alpha(t) * 2 + rectifiedFlow.sigma(t) * -1; // 1.25
 * ```
 */
export interface ProbabilityPath {
  /** Path name as recorded in model metadata. */
  readonly name: PathName;
  /** Data scale of a TrigFlow model (1 for rectified flow). */
  readonly sigmaD: number;
  /** Noise end of the time range: 1 (RF) or π/2 (TrigFlow). */
  readonly tMax: number;
  /** Data coefficient alpha(t). */
  alpha(t: number): number;
  /** Noise coefficient sigma(t). */
  sigma(t: number): number;
  /** Time derivative of alpha. */
  dAlpha(t: number): number;
  /** Time derivative of sigma. */
  dSigma(t: number): number;
}

/**
 * Rectified flow (MeanFlow): `alpha = 1 − t`, `sigma = t`, t ∈ [0, 1].
 *
 * @example
 * ```ts
 * import { rectifiedFlow } from "./path.ts";
 * rectifiedFlow.sigma(0.3); // 0.3
 * ```
 */
export const rectifiedFlow: ProbabilityPath = Object.freeze({
  name: "rectified-flow" as const,
  sigmaD: 1,
  tMax: 1,
  alpha: (t: number) => 1 - t,
  sigma: (t: number) => t,
  dAlpha: (_t: number) => -1,
  dSigma: (_t: number) => 1,
});

/**
 * TrigFlow (sCM): `alpha = cos t`, `sigma = sigmaD·sin t`, t ∈ [0, π/2].
 *
 * @param sigmaD data scale recorded by the model (sCM models use 0.5)
 * @example
 * ```ts
 * import { trigFlow } from "./path.ts";
 * const path = trigFlow(0.5);
 * path.sigma(Math.PI / 2); // 0.5
 * ```
 */
export function trigFlow(sigmaD = 0.5): ProbabilityPath {
  if (!(Number.isFinite(sigmaD) && sigmaD > 0)) {
    throw new RangeError(`trigFlow: sigmaD must be a positive finite number, got ${sigmaD}`);
  }
  return Object.freeze({
    name: "trigflow" as const,
    sigmaD,
    tMax: Math.PI / 2,
    alpha: (t: number) => Math.cos(t),
    sigma: (t: number) => sigmaD * Math.sin(t),
    dAlpha: (t: number) => -Math.sin(t),
    dSigma: (t: number) => sigmaD * Math.cos(t),
  });
}

/**
 * The rectified-flow time with the same signal-to-noise ratio as time `t` of
 * `path`, and the scale between the two states: `x_t = scale · x^RF_tau` with
 * `tau = sigma(t) / (alpha(t) + sigma(t))` and `scale = alpha(t) + sigma(t)`.
 * It holds for noisy samples and for probability-flow ODE states alike, so an
 * RF trajectory gives TrigFlow states: `tau = sigma_d·sin t / (cos t + sigma_d·sin t)`.
 *
 * @example
 * ```ts
 * import { rectifiedFlowTime, trigFlow } from "./path.ts";
 * rectifiedFlowTime(trigFlow(0.5), Math.PI / 2); // { tau: 1, scale: 0.5 }
 * ```
 */
export function rectifiedFlowTime(
  path: ProbabilityPath,
  t: number,
): { tau: number; scale: number } {
  checkTime(path, t, "t");
  const alpha = path.alpha(t), sigma = path.sigma(t);
  const scale = alpha + sigma;
  return { tau: Math.min(1, Math.max(0, sigma / scale)), scale };
}

/**
 * Checks that `t` lies in the path's time range and returns it.
 *
 * @param open which ends must be excluded: "noise" (t < tMax), "data" (t > 0), or both
 * @example
 * ```ts
 * import { checkTime, rectifiedFlow } from "./path.ts";
 * checkTime(rectifiedFlow, 0.5, "t"); // 0.5
 * ```
 */
export function checkTime(
  path: ProbabilityPath,
  t: number,
  what: string,
  open: { data?: boolean; noise?: boolean } = {},
): number {
  const range = `${open.data ? "(" : "["}0, ${path.tMax}${open.noise ? ")" : "]"}`;
  if (
    !Number.isFinite(t) || t < 0 || t > path.tMax || (open.data && t === 0) ||
    (open.noise && t === path.tMax)
  ) {
    throw new RangeError(`${what} = ${t} is outside the ${path.name} time range ${range}`);
  }
  return t;
}

/**
 * Endpoint estimate from a velocity: `x0_hat = x·cx + v·cv`. RF: `x − t·v`.
 *
 * @example
 * ```ts
 * import { endpointFromVelocity, rectifiedFlow } from "./path.ts";
 * endpointFromVelocity(rectifiedFlow, 0.4); // { x: 1, v: -0.4 }
 * ```
 */
export function endpointFromVelocity(path: ProbabilityPath, t: number): Coefficients<"x" | "v"> {
  checkTime(path, t, "t");
  const det = jacobian(path, t);
  return { x: path.dSigma(t) / det, v: -path.sigma(t) / det };
}

/**
 * Implied noise from a velocity: `eps_hat = x·cx + v·cv`. RF: `x + (1 − t)·v`.
 *
 * @example
 * ```ts
 * import { noiseFromVelocity, rectifiedFlow } from "./path.ts";
 * noiseFromVelocity(rectifiedFlow, 0.4); // { x: 1, v: 0.6 }
 * ```
 */
export function noiseFromVelocity(path: ProbabilityPath, t: number): Coefficients<"x" | "v"> {
  checkTime(path, t, "t");
  const det = jacobian(path, t);
  return { x: -path.dAlpha(t) / det, v: path.alpha(t) / det };
}

/**
 * Score from a velocity: `score = −eps_hat / sigma(t)`. RF: `−(x + (1 − t)·v) / t`.
 *
 * @example
 * ```ts
 * import { rectifiedFlow, scoreFromVelocity } from "./path.ts";
 * scoreFromVelocity(rectifiedFlow, 0.5); // { x: -2, v: -1 }
 * ```
 */
export function scoreFromVelocity(path: ProbabilityPath, t: number): Coefficients<"x" | "v"> {
  checkTime(path, t, "t", { data: true });
  const eps = noiseFromVelocity(path, t);
  const sigma = path.sigma(t);
  return { x: -eps.x / sigma, v: -eps.v / sigma };
}

/**
 * Implied noise from an endpoint estimate: `eps_hat = (x − alpha·x0) / sigma`.
 *
 * @example
 * ```ts
 * import { noiseFromEndpoint, rectifiedFlow } from "./path.ts";
 * noiseFromEndpoint(rectifiedFlow, 0.5); // { x: 2, x0: -1 }
 * ```
 */
export function noiseFromEndpoint(path: ProbabilityPath, t: number): Coefficients<"x" | "x0"> {
  checkTime(path, t, "t", { data: true });
  const sigma = path.sigma(t);
  return { x: 1 / sigma, x0: -path.alpha(t) / sigma };
}

/**
 * Velocity from an endpoint estimate: `v = alpha'·x0 + sigma'·eps_hat`.
 *
 * @example
 * ```ts
 * import { rectifiedFlow, velocityFromEndpoint } from "./path.ts";
 * velocityFromEndpoint(rectifiedFlow, 0.5); // { x: 2, x0: -2 }
 * ```
 */
export function velocityFromEndpoint(path: ProbabilityPath, t: number): Coefficients<"x" | "x0"> {
  const eps = noiseFromEndpoint(path, t);
  const dSigma = path.dSigma(t);
  return { x: dSigma * eps.x, x0: path.dAlpha(t) + dSigma * eps.x0 };
}

/**
 * Score from an endpoint estimate: `score = −(x − alpha·x0) / sigma²`.
 *
 * @example
 * ```ts
 * import { rectifiedFlow, scoreFromEndpoint } from "./path.ts";
 * scoreFromEndpoint(rectifiedFlow, 0.5); // { x: -4, x0: 2 }
 * ```
 */
export function scoreFromEndpoint(path: ProbabilityPath, t: number): Coefficients<"x" | "x0"> {
  const eps = noiseFromEndpoint(path, t);
  const sigma = path.sigma(t);
  return { x: -eps.x / sigma, x0: -eps.x0 / sigma };
}

/** `alpha·sigma' − sigma·alpha'`: 1 for RF, sigmaD for TrigFlow; never 0 on these paths. */
function jacobian(path: ProbabilityPath, t: number): number {
  return path.alpha(t) * path.dSigma(t) - path.sigma(t) * path.dAlpha(t);
}
