/**
 * Argument checks shared by the samplers (`sample`, the steered samplers):
 * shape, seeds and grid. Internal; not re-exported by mod.ts.
 *
 * @module
 */

import type { FlowMap } from "./flowmap.ts";
import { type TimeGrid, timeGrid } from "./grid.ts";

/** The shape, frozen, or a RangeError: positive integers, batch first. */
export function checkShape(shape: readonly number[]): readonly number[] {
  if (
    !Array.isArray(shape) || shape.length < 2 ||
    !shape.every((d) => Number.isSafeInteger(d) && d > 0)
  ) {
    throw new RangeError(
      `shape must list positive integers, batch first (e.g. [1, 3, 32, 32]), got ${
        JSON.stringify(shape)
      }`,
    );
  }
  return Object.freeze([...shape]);
}

/** Number of values of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** One seed per image: `seed + i`, or the given list. */
export function seedsFor(seed: number | readonly number[], batch: number): number[] {
  if (typeof seed === "number") {
    if (!Number.isSafeInteger(seed) || seed < 0 || !Number.isSafeInteger(seed + batch)) {
      throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
    }
    return Array.from({ length: batch }, (_, i) => seed + i);
  }
  if (!Array.isArray(seed) || seed.length !== batch) {
    throw new RangeError(
      `seed must be one number or one per image (${batch}), got ${JSON.stringify(seed)}`,
    );
  }
  return [...seed];
}

/** A map's grid ({@linkcode timeGrid}): explicit, or K steps at `shift` on its path. */
export function samplingGrid(
  map: FlowMap<unknown>,
  grid: number | readonly number[],
  shift?: number,
): TimeGrid {
  if (map.kind !== "two-time" && map.kind !== "one-time") {
    throw new RangeError(
      `flow map kind must be "two-time" or "one-time", got ${(map as { kind: unknown }).kind}`,
    );
  }
  return timeGrid(map.path, typeof grid === "number" ? { steps: grid, shift } : { grid, shift });
}
