/**
 * An analytic 2-D Gaussian mixture on rectified flow, the test bed of reward
 * steering: its velocity, its posterior p(x0 | x_t) and the tilt of a
 * linear-Gaussian observation reward are closed form; its flow map comes from
 * integrating the probability-flow ODE finely (RK4).
 */

import type { TwoTimeFlowMap } from "../src/flowmap.ts";
import { rectifiedFlow } from "../src/path.ts";

/** One isotropic component: weight, mean, per-coordinate std. */
export interface Component {
  readonly weight: number;
  readonly mean: readonly [number, number];
  readonly std: number;
}

/** Three well-separated modes. */
export const MIXTURE: readonly Component[] = [
  { weight: 0.5, mean: [-1.5, 0], std: 0.3 },
  { weight: 0.3, mean: [1.5, 0], std: 0.3 },
  { weight: 0.2, mean: [0, 1.8], std: 0.3 },
];

/** Responsibilities γ_k(x, t) = p(component k | x_t = x): the posterior's mode weights. */
export function modeWeights(mix: readonly Component[], x: number, y: number, t: number): number[] {
  const logs = mix.map((c) => {
    const v = (1 - t) ** 2 * c.std ** 2 + t ** 2;
    const dx = x - (1 - t) * c.mean[0], dy = y - (1 - t) * c.mean[1];
    return Math.log(c.weight) - Math.log(v) - (dx * dx + dy * dy) / (2 * v);
  });
  const top = Math.max(...logs);
  const e = logs.map((l) => Math.exp(l - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** The posterior mean E[x0 | x_t = (x, y)]. */
export function posteriorMean(
  mix: readonly Component[],
  x: number,
  y: number,
  t: number,
): readonly [number, number] {
  const g = modeWeights(mix, x, y, t);
  let mx = 0, my = 0;
  mix.forEach((c, k) => {
    const v = (1 - t) ** 2 * c.std ** 2 + t ** 2;
    const gain = ((1 - t) * c.std ** 2) / v;
    mx += g[k] * (c.mean[0] + gain * (x - (1 - t) * c.mean[0]));
    my += g[k] * (c.mean[1] + gain * (y - (1 - t) * c.mean[1]));
  });
  return [mx, my] as const;
}

/** Velocity v(x, t) = (x − E[x0 | x_t]) / t of the mixture on rectified flow. */
export function velocity(
  mix: readonly Component[],
  x: number,
  y: number,
  t: number,
): readonly [number, number] {
  const [mx, my] = posteriorMean(mix, x, y, t);
  return [(x - mx) / t, (y - my) / t] as const;
}

function flow(mix: readonly Component[], x: number, y: number, t: number, r: number) {
  const n = Math.max(4, Math.ceil(Math.abs(t - r) * 48));
  const h = (r - t) / n;
  let tau = t;
  for (let i = 0; i < n; i++) {
    const [k1x, k1y] = velocity(mix, x, y, tau);
    const [k2x, k2y] = velocity(mix, x + (h / 2) * k1x, y + (h / 2) * k1y, tau + h / 2);
    const [k3x, k3y] = velocity(mix, x + (h / 2) * k2x, y + (h / 2) * k2y, tau + h / 2);
    const end = Math.max(tau + h, 1e-9);
    const [k4x, k4y] = velocity(mix, x + h * k3x, y + h * k3y, end);
    x += (h / 6) * (k1x + 2 * k2x + 2 * k3x + k4x);
    y += (h / 6) * (k1y + 2 * k2y + 2 * k3y + k4y);
    tau += h;
  }
  return [x, y] as const;
}

/** The mixture's exact two-time flow map on `[B, 2]` tensors (RK4; u(x, t, t) = v). */
export function mixtureFlowMap(mix: readonly Component[] = MIXTURE): TwoTimeFlowMap {
  return {
    kind: "two-time",
    path: rectifiedFlow,
    average(x, r, t) {
      const out = new Float32Array(x.data.length);
      for (let i = 0; i < out.length; i += 2) {
        const px = x.data[i], py = x.data[i + 1];
        if (r === t) {
          [out[i], out[i + 1]] = velocity(mix, px, py, t);
          continue;
        }
        const [qx, qy] = flow(mix, px, py, t, r);
        out[i] = (px - qx) / (t - r);
        out[i + 1] = (py - qy) / (t - r);
      }
      return Promise.resolve(out);
    },
  };
}

/** The component a data point belongs to (largest responsibility at t = 0). */
export function modeOf(mix: readonly Component[], x: number, y: number): number {
  const g = modeWeights(mix, x, y, 1e-6);
  return g.indexOf(Math.max(...g));
}

/** Fraction of points `[B, 2]` in each mode. */
export function modeFractions(mix: readonly Component[], points: Float32Array): number[] {
  const counts = mix.map(() => 0);
  for (let i = 0; i < points.length; i += 2) counts[modeOf(mix, points[i], points[i + 1])]++;
  return counts.map((c) => c / (points.length / 2));
}

/**
 * Mode weights of the tilted target p(x0)·exp(λ·r(x0)) for the observation
 * reward r(x0) = −(y_obs − x0[0])² / 2 (the first coordinate observed with
 * unit noise): component k is reweighted by N(y_obs; mean_k[0], std_k² + 1/λ).
 */
export function tiltedModeWeights(
  mix: readonly Component[],
  yObs: number,
  lambda: number,
): number[] {
  const logs = mix.map((c) => {
    const v = c.std ** 2 + 1 / lambda;
    return Math.log(c.weight) - 0.5 * Math.log(v) - (yObs - c.mean[0]) ** 2 / (2 * v);
  });
  const top = Math.max(...logs);
  const e = logs.map((l) => Math.exp(l - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** The observation reward r(x0) = −(y_obs − x0[0])² / 2 on `[B, 2]` points. */
export function observationReward(yObs: number): (points: Float32Array) => Float32Array {
  return (points: Float32Array): Float32Array => {
    const out = new Float32Array(points.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = -((yObs - points[2 * i]) ** 2) / 2;
    return out;
  };
}

/** Largest absolute difference between two weight vectors. */
export function maxError(a: readonly number[], b: readonly number[]): number {
  return Math.max(...a.map((v, i) => Math.abs(v - b[i])));
}
