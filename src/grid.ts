/**
 * Time grids for K-step sampling from noise toward data (docs/math.md §3).
 * A grid is a strictly decreasing list `t_0 > t_1 > … > t_K = 0`.
 *
 * {@link timeGrid} is the one schedule rule: the SDK's samplers and
 * `generate`, the service, the trainer's rollouts and evaluation, and
 * pretraining all build their grids with it; {@link modelGrid} applies it
 * with a model's recorded shift and default grid.
 *
 * @module
 */

import type { ProbabilityPath } from "./path.ts";

/** A validated, frozen time grid ending at 0. */
export type TimeGrid = readonly number[];

/** sCM's largest time `arctan(80 / 0.5) ≈ 1.56454` (docs/math.md §3). */
export const SCM_T_MAX: number = Math.atan(80 / 0.5);

/**
 * Uniform rectified-flow grid `tau_k = 1 − k/K`.
 *
 * @example
 * ```ts
 * import { uniformGrid } from "./grid.ts";
 * uniformGrid(4); // [1, 0.75, 0.5, 0.25, 0]
 * ```
 */
export function uniformGrid(steps: number): TimeGrid {
  checkSteps(steps);
  return Object.freeze(Array.from({ length: steps + 1 }, (_, k) => (steps - k) / steps));
}

/**
 * Shifted rectified-flow grid: `shift(tau) = m·tau / (1 + (m − 1)·tau)` applied
 * to the uniform grid. `m = 1` is uniform; larger `m` spends more steps near noise.
 *
 * @example
 * ```ts
 * import { shiftedGrid } from "./grid.ts";
 * shiftedGrid(2, 3); // [1, 0.75, 0]
 * ```
 */
export function shiftedGrid(steps: number, shift: number): TimeGrid {
  if (!(Number.isFinite(shift) && shift >= 1)) {
    throw new RangeError(`grid shift factor must be a finite number ≥ 1, got ${shift}`);
  }
  const shifted = uniformGrid(steps).map((tau) => (shift * tau) / (1 + (shift - 1) * tau));
  return Object.freeze(shifted);
}

/**
 * Angular TrigFlow grid `t_k = tMax·(1 − k/K)`, by default from sCM's `tMax`.
 *
 * @example
 * ```ts
 * import { angularGrid } from "./grid.ts";
 * angularGrid(2, Math.PI / 2); // [π/2, π/4, 0]
 * ```
 */
export function angularGrid(steps: number, tMax: number = SCM_T_MAX): TimeGrid {
  checkSteps(steps);
  if (!(Number.isFinite(tMax) && tMax > 0 && tMax <= Math.PI / 2)) {
    throw new RangeError(`angular grid tMax must lie in (0, π/2], got ${tMax}`);
  }
  return Object.freeze(Array.from({ length: steps + 1 }, (_, k) => tMax * (steps - k) / steps));
}

/**
 * Validates a grid for a path: at least two points, finite, strictly
 * decreasing, inside `[0, path.tMax]`, last point exactly 0. Returns a frozen
 * copy; throws a `RangeError` saying what is wrong otherwise.
 *
 * @example An explicit two-step sCM grid
 * ```ts
 * import { validateGrid } from "./grid.ts";
 * import { trigFlow } from "./path.ts";
 * validateGrid([1.56454, 1.3, 0], trigFlow(0.5));
 * ```
 */
export function validateGrid(grid: readonly number[], path: ProbabilityPath): TimeGrid {
  if (!Array.isArray(grid) || grid.length < 2) {
    throw new RangeError(
      `a time grid needs at least two points (one step), got ${JSON.stringify(grid)}`,
    );
  }
  grid.forEach((t, k) => {
    if (typeof t !== "number" || !Number.isFinite(t)) {
      throw new RangeError(`grid point ${k} is not a finite number: ${t}`);
    }
    if (t < 0 || t > path.tMax) {
      throw new RangeError(
        `grid point ${k} = ${t} is outside the ${path.name} time range [0, ${path.tMax}]`,
      );
    }
    if (k > 0 && !(t < grid[k - 1])) {
      throw new RangeError(
        `grid must be strictly decreasing: point ${k} = ${t} follows ${grid[k - 1]}`,
      );
    }
  });
  const last = grid[grid.length - 1];
  if (last !== 0) throw new RangeError(`grid must end at 0 (data), but ends at ${last}`);
  return Object.freeze([...grid]);
}

/** What {@link timeGrid} builds a grid from (docs/math.md §3). */
export interface ScheduleOptions {
  /** Steps K of a built grid; with `grid`, the grid's step count if given. */
  readonly steps?: number;
  /**
   * Shift `m ≥ 1` of a built rectified-flow grid (default 1: uniform).
   * TrigFlow grids are angular and take only 1; an explicit grid takes none.
   */
  readonly shift?: number;
  /** An explicit grid `t_0 > … > t_K = 0`, validated on the path, instead of a built one. */
  readonly grid?: readonly number[];
}

/**
 * The schedule: the grid a sampler walks on `path` (docs/math.md §3). An
 * explicit `grid` is validated and returned; otherwise `steps` K build the
 * shifted rectified-flow grid (uniform at `shift` 1) or the angular TrigFlow
 * grid from sCM's `tMax`. Contradictory options throw a `RangeError`.
 *
 * @example
 * ```ts
 * import { timeGrid } from "./grid.ts";
 * import { rectifiedFlow, trigFlow } from "./path.ts";
 * timeGrid(rectifiedFlow, { steps: 2, shift: 3 }); // [1, 0.75, 0]
 * timeGrid(trigFlow(0.5), { steps: 1 }); // [1.56454…, 0]
 * timeGrid(rectifiedFlow, { grid: [1, 0.6, 0] }); // [1, 0.6, 0]
 * ```
 */
export function timeGrid(
  path: ProbabilityPath,
  { steps, shift, grid }: ScheduleOptions,
): TimeGrid {
  if (grid !== undefined) {
    if (shift !== undefined) {
      throw new RangeError(`shift ${shift} applies to a built grid, not to an explicit one`);
    }
    const valid = validateGrid(grid, path);
    if (steps !== undefined && steps !== valid.length - 1) {
      throw new RangeError(`steps ${steps} disagrees with a grid of ${valid.length - 1} steps`);
    }
    return valid;
  }
  if (steps === undefined) throw new RangeError("a time grid needs steps or an explicit grid");
  if (path.name === "rectified-flow") return shiftedGrid(steps, shift ?? 1);
  if (shift !== undefined && shift !== 1) {
    throw new RangeError(`TrigFlow grids are angular and take no shift, got shift ${shift}`);
  }
  return angularGrid(steps);
}

/** What a model records about its grids (a `ModelInfo` has all of it). */
export interface ModelSchedule {
  /** The model's path. */
  readonly path: ProbabilityPath;
  /** Shift of its K-step grids. */
  readonly shift: number;
  /** Its default grid, used at its default step count. */
  readonly defaultGrid: TimeGrid;
  /** Steps of the default grid. */
  readonly defaultSteps: number;
}

/**
 * The grid a model samples on: {@link timeGrid} of its path with an explicit
 * `grid`, or with `steps` at `shift` (default: the model's own) — except that
 * without a `shift`, the model's default step count (or no `steps` at all)
 * gives its default grid. `generate`, the service, the trainer's evaluation
 * and its rollouts all take their grids from here.
 *
 * @example
 * ```ts
 * import { modelGrid } from "./grid.ts";
 * import { rectifiedFlow } from "./path.ts";
 * const model = { path: rectifiedFlow, shift: 1, defaultGrid: [1, 0.6, 0], defaultSteps: 2 };
 * modelGrid(model, {}); // [1, 0.6, 0]
 * modelGrid(model, { steps: 4 }); // [1, 0.75, 0.5, 0.25, 0]
 * modelGrid(model, { steps: 2, shift: 3 }); // [1, 0.75, 0]
 * ```
 */
export function modelGrid(
  model: ModelSchedule,
  { steps, shift, grid }: ScheduleOptions,
): TimeGrid {
  if (grid !== undefined) return timeGrid(model.path, { steps, shift, grid });
  if (shift === undefined && (steps === undefined || steps === model.defaultSteps)) {
    return model.defaultGrid;
  }
  return timeGrid(model.path, { steps: steps ?? model.defaultSteps, shift: shift ?? model.shift });
}

function checkSteps(steps: number): void {
  if (!Number.isSafeInteger(steps) || steps < 1) {
    throw new RangeError(`steps must be a positive integer, got ${steps}`);
  }
}
