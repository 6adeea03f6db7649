/**
 * Object detection from pixels only, by inverting the renderer's image model
 * `pixel = background + coverage × (colour − background)`:
 *
 * 1. colour segmentation: each pixel's direction from the background picks the
 *    nearest palette colour, and its projection on that colour is its coverage;
 * 2. connected components (8-neighbour, hysteresis: seeded by well-covered
 *    pixels, grown through partly covered ones of the same colour);
 * 3. shape classification by analysis-by-synthesis: each component's coverage
 *    map (plus its anti-aliased fringe) is compared with a circle, a square and
 *    a triangle of the same area and centroid; the closest wins, and a blob no
 *    template fits is "unknown";
 * 4. position: the coverage-weighted centroid.
 *
 * @module
 */

import { checkRgbImage, type RgbImage } from "./image.ts";
import { shapeCoverage } from "./render.ts";
import { BACKGROUND, type Color, COLORS, PALETTE, type Shape, SHAPES } from "./world.ts";

/** An object found in an image. */
export interface DetectedObject {
  /** Best-fitting shape, or "unknown" when no shape fits. */
  readonly shape: Shape | "unknown";
  /** Palette colour of its pixels. */
  readonly color: Color;
  /** Coverage-weighted centroid, pixels from the left. */
  readonly x: number;
  /** Coverage-weighted centroid, pixels from the top. */
  readonly y: number;
  /** Total coverage, in pixels. */
  readonly area: number;
  /** Mismatch of the best shape: L1 distance of coverage maps over the area (0 is perfect). */
  readonly fitError: number;
  /** The mismatch of every shape, the best one's being `fitError`. */
  readonly fits: Readonly<Record<Shape, number>>;
}

/** Thresholds of {@link detectObjects}; the defaults suit 8-bit renders at any scale. */
export interface DetectOptions {
  /** Coverage that starts a component; default 0.6. */
  seedCoverage?: number;
  /** Coverage that extends a component; default 0.3. */
  growCoverage?: number;
  /** Largest sine of the angle between a pixel and its colour direction; default 0.5. */
  maxSine?: number;
  /**
   * Components of less coverage are speckles and ignored, and so are unrecognised ones under
   * 1.5 times this; default 16 px on a 32-px canvas (2/3 of the smallest object), scaled by area.
   */
  minArea?: number;
  /** Largest {@link DetectedObject.fitError} of a recognised shape; default {@link MAX_FIT_ERROR}. */
  maxFitError?: number;
}

/** Default {@link DetectOptions.maxFitError}: worse fits are "unknown" shapes. */
export const MAX_FIT_ERROR = 0.45;

const DIRECTIONS = COLORS.map((c) => PALETTE[c].map((v, i) => v - BACKGROUND[i]));
const NORMS2 = DIRECTIONS.map((d) => d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);

/**
 * Finds the objects in an image of the shapes world.
 *
 * @param segmentation the image's {@link segmentColors} with `options.maxSine`, when the
 *   caller has it already (otherwise computed here)
 * @example
 * ```ts
 * import { detectObjects } from "./detect.ts";
 * import { renderScene } from "./render.ts";
 * const image = renderScene({
 *   width: 32,
 *   height: 32,
 *   objects: [{ shape: "triangle", color: "cyan", cx: 16, cy: 16, size: 5 }],
 * });
 * detectObjects(image); // [{ shape: "triangle", color: "cyan", x: 16, y: ≈17.7, … }]
 * ```
 */
export function detectObjects(
  image: RgbImage,
  options: DetectOptions = {},
  segmentation?: ColorSegmentation,
): DetectedObject[] {
  checkRgbImage(image);
  const { width, height } = image;
  const scale2 = (Math.min(width, height) / 32) ** 2;
  const {
    seedCoverage = 0.6,
    growCoverage = 0.3,
    maxSine = 0.5,
    minArea = 16 * scale2,
    maxFitError = MAX_FIT_ERROR,
  } = options;
  const n = width * height;
  const { color: nearest, coverage, aligned } = segmentation ?? segmentColors(image, maxSine);
  const label = new Int8Array(n).fill(-1);
  for (let p = 0; p < n; p++) {
    if (aligned[p] === 1 && coverage[p] >= growCoverage) label[p] = nearest[p];
  }

  const owner = new Int32Array(n).fill(-1);
  const components: { members: number[]; color: Color }[] = [];
  const stack: number[] = [];
  for (let start = 0; start < n; start++) {
    if (label[start] < 0 || owner[start] >= 0 || coverage[start] < seedCoverage) continue;
    const k = label[start];
    const members: number[] = [];
    owner[start] = components.length;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop()!;
      members.push(p);
      const px = p % width, py = (p - px) / width;
      for (let y = Math.max(0, py - 1); y <= Math.min(height - 1, py + 1); y++) {
        for (let x = Math.max(0, px - 1); x <= Math.min(width - 1, px + 1); x++) {
          const q = y * width + x;
          if (owner[q] < 0 && label[q] === k) {
            owner[q] = components.length;
            stack.push(q);
          }
        }
      }
    }
    components.push({ members, color: COLORS[k] });
  }
  const objects: DetectedObject[] = [];
  components.forEach(({ members, color }, id) => {
    const object = describe(image, owner, id, members, color, minArea, maxFitError);
    if (object !== undefined) objects.push(object);
  });
  return objects;
}

/** Each pixel's nearest palette colour and its coverage (see {@link segmentColors}). */
export interface ColorSegmentation {
  /** Index into `COLORS` of the nearest colour direction, or −1 for background. */
  readonly color: Int8Array;
  /** Projection on that colour, as a fraction of it (unclamped). */
  readonly coverage: Float32Array;
  /** 1 where the pixel's angle to its colour is within `maxSine`. */
  readonly aligned: Uint8Array;
}

/**
 * Step 1 of {@link detectObjects}: each pixel's direction from the background
 * picks the nearest palette colour, and its projection on that colour is its
 * coverage.
 *
 * @example
 * ```ts
 * import { segmentColors } from "./detect.ts";
 * import { createImage } from "./image.ts";
 * const image = createImage(1, 1);
 * image.data.set([110, 0, 0]);
 * segmentColors(image).color[0]; // 0 (red)
 * ```
 */
export function segmentColors(
  { width, height, data }: RgbImage,
  maxSine = 0.5,
): ColorSegmentation {
  const n = width * height;
  const color = new Int8Array(n).fill(-1);
  const coverage = new Float32Array(n);
  const aligned = new Uint8Array(n);
  const maxCos2 = 1 - maxSine * maxSine;
  for (let p = 0; p < n; p++) {
    const r = data[p * 3] - BACKGROUND[0],
      g = data[p * 3 + 1] - BACKGROUND[1],
      b = data[p * 3 + 2] - BACKGROUND[2];
    const v2 = r * r + g * g + b * b;
    if (v2 === 0) continue;
    let best = -1, bestProj2 = 0, bestDot = 0;
    for (let k = 0; k < DIRECTIONS.length; k++) {
      const d = DIRECTIONS[k];
      const dot = r * d[0] + g * d[1] + b * d[2];
      const proj2 = dot > 0 ? (dot * dot) / NORMS2[k] : 0;
      if (proj2 > bestProj2) {
        best = k;
        bestProj2 = proj2;
        bestDot = dot;
      }
    }
    if (best < 0) continue;
    color[p] = best;
    coverage[p] = bestDot / NORMS2[best];
    if (bestProj2 >= maxCos2 * v2) aligned[p] = 1;
  }
  return { color, coverage, aligned };
}

/** Ring of pixels around a component that still counts as its (anti-aliased or blurred) fringe. */
const FRINGE = 2;
/** Edge ramp widths of the templates, in pixels: 1 is a sharp render, wider fits blurred edges. */
const EDGES = [1, 2, 3];

/** Fits shapes to one component; undefined for speckles. */
function describe(
  image: RgbImage,
  owner: Int32Array,
  id: number,
  members: readonly number[],
  color: Color,
  minArea: number,
  maxFitError: number,
): DetectedObject | undefined {
  const { width, height, data } = image;
  let x0 = width, x1 = 0, y0 = height, y1 = 0;
  for (const p of members) {
    const x = p % width, y = (p - x) / width;
    x0 = Math.min(x0, x), x1 = Math.max(x1, x), y0 = Math.min(y0, y), y1 = Math.max(y1, y);
  }
  // the window: the component's box grown by the fringe and one pixel of room for template misfit
  x0 = Math.max(0, x0 - FRINGE - 1), y0 = Math.max(0, y0 - FRINGE - 1);
  x1 = Math.min(width - 1, x1 + FRINGE + 1), y1 = Math.min(height - 1, y1 + FRINGE + 1);
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const near = new Uint8Array(w * h); // 1 where within FRINGE pixels (Chebyshev) of the component
  for (const p of members) {
    const px = p % width, py = (p - px) / width;
    for (let y = Math.max(y0, py - FRINGE); y <= Math.min(y1, py + FRINGE); y++) {
      near.fill(
        1,
        (y - y0) * w + Math.max(x0, px - FRINGE) - x0,
        (y - y0) * w + Math.min(x1, px + FRINGE) - x0 + 1,
      );
    }
  }
  // observed coverage: the projection on the colour, clamped to [0, 1] (which halves the L1 noise floor)
  const observed = new Float32Array(w * h);
  const k = COLORS.indexOf(color);
  const d = DIRECTIONS[k], norm2 = NORMS2[k];
  let area = 0, mx = 0, my = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const p = y * width + x;
      if (near[(y - y0) * w + (x - x0)] === 0) continue;
      if (owner[p] !== id && (owner[p] >= 0 || nextToOther(owner, width, height, x, y, id))) {
        continue;
      }
      let dot = 0;
      for (let c = 0; c < 3; c++) dot += (data[p * 3 + c] - BACKGROUND[c]) * d[c];
      const a = Math.min(1, Math.max(0, dot / norm2));
      observed[(y - y0) * w + (x - x0)] = a;
      area += a, mx += a * (x + 0.5), my += a * (y + 0.5);
    }
  }
  if (area < minArea) return undefined;
  mx /= area, my /= area;
  let shape: Shape | "unknown" = "unknown", fitError = Infinity;
  const fits = { circle: Infinity, square: Infinity, triangle: Infinity };
  for (const candidate of SHAPES) {
    const size = candidate === "circle"
      ? Math.sqrt(area / Math.PI)
      : candidate === "square"
      ? Math.sqrt(area) / 2
      : Math.sqrt(area / 2);
    const cy = candidate === "triangle" ? my - size / 3 : my; // a triangle's centroid is 1/3 below its box centre
    for (const edge of EDGES) {
      let error = 0;
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
          const t = shapeCoverage(candidate, mx, cy, size, x + 0.5, y + 0.5, edge);
          error += Math.abs(observed[(y - y0) * w + (x - x0)] - t);
        }
      }
      error /= area;
      fits[candidate] = Math.min(fits[candidate], error);
      if (error < fitError) {
        shape = candidate;
        fitError = error;
      }
    }
  }
  if (fitError > maxFitError) {
    // a blob no shape fits counts as an object only when it is as large as a real one
    return area < 1.5 * minArea
      ? undefined
      : { shape: "unknown", color, x: mx, y: my, area, fitError, fits };
  }
  return { shape, color, x: mx, y: my, area, fitError, fits };
}

/** Whether a pixel has an 8-neighbour owned by a component other than `id` (its fringe is shared). */
function nextToOther(
  owner: Int32Array,
  width: number,
  height: number,
  x: number,
  y: number,
  id: number,
): boolean {
  for (let v = Math.max(0, y - 1); v <= Math.min(height - 1, y + 1); v++) {
    for (let u = Math.max(0, x - 1); u <= Math.min(width - 1, x + 1); u++) {
      const o = owner[v * width + u];
      if (o >= 0 && o !== id) return true;
    }
  }
  return false;
}
