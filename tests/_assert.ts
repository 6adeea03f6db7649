/**
 * Tiny assertion helpers for the test suites (JSR's @std/assert is
 * unreachable here; these sit on `node:assert/strict`).
 *
 * @module
 */

import assert from "node:assert/strict";

/** Asserts `|actual − expected| ≤ tolerance`, naming the quantity on failure. */
export function assertClose(
  actual: number,
  expected: number,
  tolerance: number,
  what = "value",
): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: expected ${expected} ± ${tolerance}, got ${actual} (off by ${actual - expected})`,
  );
}

/** Mean and standard deviation of a sample, accumulated in float64. */
export function moments(values: ArrayLike<number>): { mean: number; std: number } {
  let sum = 0, sumSq = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    sumSq += values[i] * values[i];
  }
  const mean = sum / values.length;
  return { mean, std: Math.sqrt(sumSq / values.length - mean * mean) };
}
