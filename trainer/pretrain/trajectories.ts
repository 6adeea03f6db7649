/**
 * Guided teacher trajectories: the rectified-flow ODE of the teacher with
 * classifier-free guidance, integrated from seeded noise by Euler steps
 * (the two-time jump of src/anchor.ts with the guided velocity), stored on
 * the time grid, and read back with linear interpolation in time.
 *
 * Folding guidance into the trajectories lets the students take one network
 * evaluation per sampling step.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { twoTimeJump } from "../../src/anchor.ts";
import type { TimeGrid } from "../../src/grid.ts";
import { BatchNoise } from "../../src/rng.ts";
import type { TfFlowMap } from "../model/tfjs.ts";
import { type Checkpoint, tableOf } from "../checkpoint.ts";

/**
 * The guided velocity `v_u + w·(v_c − v_u)` of a two-time teacher at
 * `u(x, t, t)`, one batched pass over conditional and unconditional prompts.
 *
 * @example
 * ```ts ignore
 * import { guidedVelocity } from "./trajectories.ts";
 * const v = guidedVelocity(teacher, x, 0.5, tokens, 2);
 * ```
 */
export function guidedVelocity(
  model: TfFlowMap,
  x: Float32Array,
  t: number,
  tokens: Int32Array,
  guidance: number,
): Float32Array {
  const c = model.config;
  const size = tokens.length / c.textLength;
  const shape = [size, c.channels, c.imageSize, c.imageSize] as const;
  return tf.tidy(() => {
    const xs = tf.tensor4d(x, [...shape]);
    const conditional = tf.tensor2d(tokens, [size, c.textLength], "int32");
    const both = guidance === 1 ? 1 : 2;
    const times = tf.fill([both * size], t) as tf.Tensor1D;
    const out = model.forward({
      x: both === 1 ? xs : tf.concat([xs, xs]),
      t: times,
      r: times,
      tokens: both === 1 ? conditional : tf.concat([conditional, tf.zerosLike(conditional)]),
    });
    if (both === 1) return out.dataSync() as Float32Array;
    const [vc, vu] = tf.split(out, 2);
    return tf.add(vu, tf.mul(tf.sub(vc, vu), guidance)).dataSync() as Float32Array;
  }).slice();
}

/**
 * Integrates the guided teacher ODE from noise `x = eps` at `grid[0] = 1` to
 * 0 by Euler steps; `onState(k, x)` sees every state (k = 0 is the noise).
 * Returns the final state.
 *
 * @example
 * ```ts ignore
 * import { uniformGrid } from "../../src/grid.ts";
 * import { integrateGuided } from "./trajectories.ts";
 * const x0 = integrateGuided(teacher, noise, tokens, 2, uniformGrid(16));
 * ```
 */
export function integrateGuided(
  model: TfFlowMap,
  noise: Float32Array,
  tokens: Int32Array,
  guidance: number,
  grid: TimeGrid,
  onState?: (k: number, x: Float32Array) => void,
): Float32Array {
  let x = noise.slice();
  onState?.(0, x);
  for (let k = 0; k + 1 < grid.length; k++) {
    const v = guidedVelocity(model, x, grid[k], tokens, guidance);
    const jump = twoTimeJump(grid[k], grid[k + 1]);
    const next = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) next[i] = jump.x * x[i] + jump.u * v[i];
    x = next;
    onState?.(k + 1, x);
  }
  return x;
}

/**
 * Trajectories with states at every grid time: `[count, grid.length, D]`.
 * States between grid times are linear interpolations (Euler paths are
 * piecewise linear, so this is exact for the integrated trajectory).
 */
export class TrajectoryBank {
  /** Decreasing times, `grid[0] = 1`, last 0. */
  readonly grid: TimeGrid;
  /** Values per state (C·H·W). */
  readonly dimension: number;
  /** Tokens per prompt. */
  readonly textLength: number;
  readonly #states: Float32Array[] = [];
  readonly #tokens: Int32Array[] = [];

  /** An empty bank; add chunks with {@link TrajectoryBank.add}. */
  constructor(grid: TimeGrid, dimension: number, textLength: number) {
    this.grid = grid;
    this.dimension = dimension;
    this.textLength = textLength;
  }

  /** Number of trajectories. */
  get count(): number {
    return this.#states.length;
  }

  /** Adds one trajectory: states `[grid.length, D]` and its prompt's token ids. */
  add(states: Float32Array, tokens: Int32Array): void {
    if (states.length !== this.grid.length * this.dimension) {
      throw new RangeError(
        `trajectory has ${states.length} values, expected ${this.grid.length}·D`,
      );
    }
    this.#states.push(states);
    this.#tokens.push(tokens);
  }

  /** Writes trajectory `j`'s state at time `t ∈ [0, 1]` into `out`. */
  state(j: number, t: number, out: Float32Array): void {
    const k = this.#segment(t);
    const g = this.grid, d = this.dimension, s = this.#states[j];
    const w = (g[k] - t) / (g[k] - g[k + 1]);
    const a = k * d, b = (k + 1) * d;
    for (let i = 0; i < d; i++) out[i] = (1 - w) * s[a + i] + w * s[b + i];
  }

  /** Writes the velocity `dx/dt` of trajectory `j` on the segment holding `t` into `out`. */
  slope(j: number, t: number, out: Float32Array): void {
    const k = this.#segment(t);
    const g = this.grid, d = this.dimension, s = this.#states[j];
    const h = g[k] - g[k + 1];
    const a = k * d, b = (k + 1) * d;
    for (let i = 0; i < d; i++) out[i] = (s[a + i] - s[b + i]) / h;
  }

  /** Token ids of the given trajectories, `[picks.length, textLength]`. */
  tokens(picks: readonly number[]): Int32Array {
    const out = new Int32Array(picks.length * this.textLength);
    picks.forEach((j, i) => out.set(this.#tokens[j], i * this.textLength));
    return out;
  }

  /** Index `k` with `grid[k] ≥ t ≥ grid[k + 1]`. */
  #segment(t: number): number {
    const g = this.grid;
    if (!(t >= 0 && t <= g[0])) throw new RangeError(`time ${t} is outside [0, ${g[0]}]`);
    let k = 0;
    while (k + 2 < g.length && g[k + 1] > t) k++;
    return k;
  }
}

/**
 * A chunk of trajectories as a checkpoint: table `traj` holds `states`
 * `[B, S + 1, D]` and `tokens` `[B, L]` (ids as floats, exact); metadata
 * holds the grid, guidance and prompts.
 *
 * @example
 * ```ts ignore
 * import { trajectoryChunk } from "./trajectories.ts";
 * const chunk = trajectoryChunk(states, tokens, grid, 2, prompts, 8);
 * ```
 */
export function trajectoryChunk(
  states: Float32Array,
  tokens: Int32Array,
  grid: TimeGrid,
  guidance: number,
  prompts: readonly string[],
  seeds: readonly number[],
): Checkpoint {
  const size = prompts.length;
  const table = new Map([
    ["states", { shape: [size, grid.length, states.length / size / grid.length], data: states }],
    ["tokens", { shape: [size, tokens.length / size], data: Float32Array.from(tokens) }],
  ]);
  return {
    tables: new Map([["traj", table]]),
    metadata: {
      grid: JSON.stringify(grid),
      guidance: String(guidance),
      prompts: JSON.stringify(prompts),
      seeds: JSON.stringify(seeds),
    },
  };
}

/**
 * Adds the trajectories of a chunk to a bank (creating it from the first chunk's grid).
 *
 * @example
 * ```ts ignore
 * import { addChunk } from "./trajectories.ts";
 * const bank = addChunk(undefined, chunk);
 * ```
 */
export function addChunk(bank: TrajectoryBank | undefined, chunk: Checkpoint): TrajectoryBank {
  const table = tableOf(chunk, "traj");
  const states = table.get("states"), tokens = table.get("tokens");
  if (states === undefined || tokens === undefined) throw new RangeError("chunk lacks states");
  const [size, steps, d] = states.shape;
  const grid = JSON.parse(chunk.metadata.grid) as number[];
  if (grid.length !== steps) throw new RangeError("chunk grid does not match its states");
  const length = tokens.shape[1];
  const out = bank ?? new TrajectoryBank(Object.freeze(grid), d, length);
  if (out.grid.join() !== grid.join()) throw new RangeError("chunks have different grids");
  for (let i = 0; i < size; i++) {
    out.add(
      states.data.slice(i * steps * d, (i + 1) * steps * d),
      Int32Array.from(tokens.data.subarray(i * length, (i + 1) * length)),
    );
  }
  return out;
}

/**
 * Seeded starting noise for trajectories: one float64 {@link BatchNoise}
 * stream per seed (the bundled models were distilled from these).
 *
 * @example
 * ```ts
 * import { trajectoryNoise } from "./trajectories.ts";
 * trajectoryNoise([1, 2], 3 * 32 * 32).length; // 6144
 * ```
 */
export function trajectoryNoise(seeds: readonly number[], dimension: number): Float32Array {
  return new BatchNoise(seeds).fill(new Float32Array(seeds.length * dimension));
}
