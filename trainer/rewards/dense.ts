/**
 * A dense composition score: the prompt's constraints as continuous terms of
 * the pixels, so that a small change of an image changes its score in the
 * direction of the verdict. A policy-gradient estimator sees a reward only
 * through how it co-varies with the transition noise; a verdict that flips at
 * thresholds is flat almost everywhere, so nearly none of its variance is
 * signal (docs/experiments.md).
 *
 * Terms, each in `[0, 1]` and averaged:
 *
 * | term | what it measures |
 * | ---- | ---------------- |
 * | mass | per named colour (and, for open colours, all paint no named colour claims): painted coverage against the band of areas `count` objects of the shape can have; 1 inside, `exp(−ln²(ratio to the band) / (2·0.4²))` outside |
 * | purity | prompts that name every colour: the share of paint in the named colours |
 * | shape | per group: its `count` best objects of its colour, each `1 − fit / maxFitError` for the group's shape times the logistic of its margin over the best other shape (0.04 scale); 0 for a missing one |
 * | relation | position prompts: the logistic of the colour centroids' margin along the relation over the cross-axis offset (2-pixel scale) |
 *
 * None of them thresholds a decision of the verdict, though the objects come
 * from the detector's components; strict accuracy stays the judged metric.
 *
 * @module
 */

import {
  type ColorSegmentation,
  type DetectedObject,
  detectObjects,
  type DetectOptions,
  MAX_FIT_ERROR,
  segmentColors,
} from "../../src/shapes/detect.ts";
import type { RgbImage } from "../../src/shapes/image.ts";
import type { ObjectGroup, PromptSpec } from "../../src/shapes/prompts.ts";
import { COLORS, type Relation, type Shape, SHAPES } from "../../src/shapes/world.ts";

/** Width of the mass term in log-ratio units: half or twice the band's edge scores ≈ 0.22. */
const MASS_WIDTH = 0.4;
/** Scale of the shape term's margin over the best other shape, in fit-error units. */
const SHAPE_MARGIN_SCALE = 0.04;
/** Scale of the relation margin, in pixels of a 32-pixel canvas. */
const RELATION_SCALE = 2;

/** Painted coverage per palette colour, with its coverage-weighted centroid. */
interface Paint {
  readonly mass: Float64Array;
  readonly x: Float64Array;
  readonly y: Float64Array;
}

/**
 * The dense composition score of one image against its parsed prompt, in `[0, 1]`.
 *
 * @example
 * ```ts
 * import { renderPrompt } from "../data/dataset.ts";
 * import { parsePrompt } from "../../src/shapes/prompts.ts";
 * import { denseCompositionScore } from "./dense.ts";
 * const { image } = renderPrompt("a red circle", 3);
 * denseCompositionScore(image, parsePrompt("a red circle")); // ≈ 0.99
 * denseCompositionScore(image, parsePrompt("a blue square")); // ≈ 0.07
 * ```
 */
export function denseCompositionScore(
  image: RgbImage,
  spec: PromptSpec,
  detect: DetectOptions = {},
): number {
  const segmentation = segmentColors(image, detect.maxSine);
  const objects = detectObjects(image, detect, segmentation);
  const paint = paintOf(image, segmentation);
  const scale2 = (Math.min(image.width, image.height) / 32) ** 2;
  const objectsInScene = spec.groups.reduce((n, g) => n + g.count, 0);
  const maxFitError = detect.maxFitError ?? MAX_FIT_ERROR;
  const terms: number[] = [];

  const named = new Set(spec.groups.flatMap((g) => (g.color === undefined ? [] : [g.color])));
  const open = spec.groups.filter((g) => g.color === undefined);
  const band = (groups: readonly ObjectGroup[]) =>
    groups.reduce<[number, number]>((sum, g) => {
      const [lo, hi] = areaBand(g.shape, objectsInScene);
      return [sum[0] + g.count * lo * scale2, sum[1] + g.count * hi * scale2];
    }, [0, 0]);
  for (const color of named) {
    const mass = paint.mass[COLORS.indexOf(color)];
    terms.push(massTerm(mass, band(spec.groups.filter((g) => g.color === color))));
  }
  let total = 0, namedMass = 0;
  COLORS.forEach((c, k) => {
    total += paint.mass[k];
    if (named.has(c)) namedMass += paint.mass[k];
  });
  if (open.length > 0) {
    terms.push(massTerm(total - namedMass, band(open)));
  } else {
    terms.push(total > 0 ? namedMass / total : 0);
  }

  for (const group of spec.groups) {
    const candidates = objects.filter((o) =>
      group.color === undefined ? !named.has(o.color) : o.color === group.color
    );
    terms.push(shapeTerm(candidates, group, maxFitError));
  }

  if (spec.relation !== undefined) {
    const [a, b] = spec.groups.map((g) => COLORS.indexOf(g.color!));
    const scale = Math.min(image.width, image.height) / 32;
    terms.push(relationTerm(paint, a, b, spec.relation, RELATION_SCALE * scale));
  }
  return terms.reduce((s, v) => s + v, 0) / terms.length;
}

/** Smallest and largest area of one object of `shape` at the scene sampler's sizes (32-pixel canvas). */
function areaBand(shape: Shape, objectsInScene: number): readonly [number, number] {
  // sizes are uniform on [3.5, 5.5] (≤ 2 objects) or [3.5, 4.5] (trainer/data/scene.ts)
  const sizes = objectsInScene <= 2 ? [3.5, 5.5] : [3.5, 4.5];
  const factor = shape === "circle" ? Math.PI : shape === "square" ? 4 : 2;
  return [factor * sizes[0] ** 2, factor * sizes[1] ** 2];
}

/** 1 inside `[lo, hi]`, falling as a Gaussian of the log-ratio to the nearer edge outside it. */
function massTerm(mass: number, [lo, hi]: readonly [number, number]): number {
  const m = Math.max(mass, 1e-3);
  const ratio = m < lo ? Math.log(m / lo) : m > hi ? Math.log(m / hi) : 0;
  return Math.exp(-(ratio * ratio) / (2 * MASS_WIDTH * MASS_WIDTH));
}

function shapeTerm(
  candidates: readonly DetectedObject[],
  group: ObjectGroup,
  maxFitError: number,
): number {
  const qualities = candidates
    .map((o) => shapeScore(o, group.shape, maxFitError))
    .sort((p, q) => q - p);
  let sum = 0;
  for (let i = 0; i < group.count && i < qualities.length; i++) sum += qualities[i];
  return sum / group.count;
}

/** How well an object fits `shape`, and fits it better than any other shape (logistic margin). */
function shapeScore(object: DetectedObject, shape: Shape, maxFitError: number): number {
  const fit = object.fits[shape];
  const rival = Math.min(...SHAPES.filter((s) => s !== shape).map((s) => object.fits[s]));
  const quality = Math.max(0, 1 - fit / maxFitError);
  return quality / (1 + Math.exp(-(rival - fit) / SHAPE_MARGIN_SCALE));
}

function relationTerm(paint: Paint, a: number, b: number, relation: Relation, scale: number) {
  if (paint.mass[a] <= 0 || paint.mass[b] <= 0) return 0;
  const dx = paint.x[b] - paint.x[a], dy = paint.y[b] - paint.y[a];
  // "A left of B": B lies further right of A than it is above or below it (verdict.ts)
  const [along, across] = relation === "left of"
    ? [dx, dy]
    : relation === "right of"
    ? [-dx, dy]
    : relation === "above"
    ? [dy, dx]
    : [-dy, dx];
  return 1 / (1 + Math.exp(-(along - Math.abs(across)) / scale));
}

/** Coverage mass and centroid per palette colour (the detector's segmentation, unthresholded). */
function paintOf(image: RgbImage, { color, coverage }: ColorSegmentation): Paint {
  const mass = new Float64Array(COLORS.length);
  const x = new Float64Array(COLORS.length), y = new Float64Array(COLORS.length);
  for (let p = 0; p < color.length; p++) {
    const k = color[p];
    if (k < 0) continue;
    const a = Math.min(1, coverage[p]);
    const px = p % image.width;
    mass[k] += a;
    x[k] += a * (px + 0.5);
    y[k] += a * ((p - px) / image.width + 0.5);
  }
  for (let k = 0; k < COLORS.length; k++) {
    if (mass[k] > 0) x[k] /= mass[k], y[k] /= mass[k];
  }
  return { mass, x, y };
}
