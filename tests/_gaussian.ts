/**
 * Gaussian data `x0 ~ N(m, s²)` per element, for which every flow map of a
 * path is closed-form (docs/math.md §9):
 * `X(t → r)(x) = mu_r + (sd_r / sd_t)·(x − mu_t)`.
 *
 * @module
 */

import type { ProbabilityPath } from "../src/path.ts";

/** An affine function `x ↦ scale·x + shift` of the current state. */
export interface Affine {
  scale: number;
  shift: number;
}

/** The marginals and exact flow maps of Gaussian data on a path. */
export class GaussianWorld {
  /** Builds the world for data mean `m` and data std `s` on `path`. */
  constructor(readonly path: ProbabilityPath, readonly m: number, readonly s: number) {}

  /** Mean of the marginal `p_t`. */
  mu(t: number): number {
    return this.path.alpha(t) * this.m;
  }

  /** Standard deviation of the marginal `p_t`. */
  sd(t: number): number {
    const a = this.path.alpha(t) * this.s, b = this.path.sigma(t);
    return Math.sqrt(a * a + b * b);
  }

  /** The exact flow map `X(t → r)` as an affine function. */
  map(t: number, r: number): Affine {
    const scale = this.sd(r) / this.sd(t);
    return { scale, shift: this.mu(r) - scale * this.mu(t) };
  }

  /** The exact average velocity `u(x, r, t) = (x − X(t → r)(x)) / (t − r)`. */
  average(t: number, r: number): Affine {
    const map = this.map(t, r);
    return { scale: (1 - map.scale) / (t - r), shift: -map.shift / (t - r) };
  }

  /** The exact instantaneous velocity `v(x, t)` (the limit `r → t` of the average). */
  velocity(t: number): Affine {
    const p = this.path, sd = this.sd(t);
    const dSd = (p.alpha(t) * p.dAlpha(t) * this.s ** 2 + p.sigma(t) * p.dSigma(t)) / sd;
    return { scale: dSd / sd, shift: p.dAlpha(t) * this.m - (dSd / sd) * this.mu(t) };
  }

  /** Posterior of the path noise given `x_t`: mean affine in `x_t`, and its std. */
  noisePosterior(t: number): { mean: Affine; std: number } {
    const alpha = this.path.alpha(t), sigma = this.path.sigma(t), variance = this.sd(t) ** 2;
    const gain = sigma / variance;
    return {
      mean: { scale: gain, shift: -gain * alpha * this.m },
      std: Math.sqrt(1 - sigma * gain),
    };
  }
}

/** Applies an affine function to every element of `x` into `out`. */
export function applyAffine(out: Float32Array, f: Affine, x: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) out[i] = f.scale * x[i] + f.shift;
  return out;
}

/** Composes `outer ∘ inner`. */
export function compose(outer: Affine, inner: Affine): Affine {
  return { scale: outer.scale * inner.scale, shift: outer.scale * inner.shift + outer.shift };
}

/** `Σ c_k·f_k` for affine functions `f_k` of the same state. */
export function combine(...terms: [number, Affine][]): Affine {
  return terms.reduce(
    (acc, [c, f]) => ({ scale: acc.scale + c * f.scale, shift: acc.shift + c * f.shift }),
    { scale: 0, shift: 0 },
  );
}
