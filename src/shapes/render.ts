/**
 * Anti-aliased rasterisation of shapes-world scenes.
 *
 * Each shape is a signed distance function in pixels; a pixel's coverage is
 * `clamp(0.5 − d, 0, 1)` at its centre, a one-pixel linear ramp across the
 * edge. Objects never overlap, so a pixel is `background + coverage ×
 * (colour − background)` — the model the evaluator inverts.
 *
 * @module
 */

import { createImage, type RgbImage } from "./image.ts";
import { BACKGROUND, type Color, PALETTE, type Shape } from "./world.ts";

/** One object of a scene; every shape fits the box `[cx ± size] × [cy ± size]`. */
export interface SceneObject {
  /** The shape: circle of radius `size`, square of half-side `size`, or upward triangle of base and height `2·size`. */
  readonly shape: Shape;
  /** Its colour. */
  readonly color: Color;
  /** Box centre, in pixels from the left edge. */
  readonly cx: number;
  /** Box centre, in pixels from the top edge. */
  readonly cy: number;
  /** Half the box side, in pixels. */
  readonly size: number;
}

/** A scene: objects on the black background of a `width × height` canvas. */
export interface Scene {
  /** Canvas columns. */
  readonly width: number;
  /** Canvas rows. */
  readonly height: number;
  /** Non-overlapping objects. */
  readonly objects: readonly SceneObject[];
}

/**
 * Signed distance (negative inside) from `(x, y)` to a shape with box centre
 * `(cx, cy)` and half-side `size`.
 */
export function shapeDistance(
  shape: Shape,
  cx: number,
  cy: number,
  size: number,
  x: number,
  y: number,
): number {
  const dx = x - cx, dy = y - cy;
  switch (shape) {
    case "circle":
      return Math.sqrt(dx * dx + dy * dy) - size;
    case "square": {
      const ox = Math.abs(dx) - size, oy = Math.abs(dy) - size;
      return ox > 0 && oy > 0 ? Math.sqrt(ox * ox + oy * oy) : Math.max(ox, oy);
    }
    case "triangle": {
      // apex (cx, cy − size), base corners (cx ± size, cy + size); by symmetry only x ≥ 0 matters
      const ax = Math.abs(dx), ay = dy + size; // relative to the apex
      const inside = ay <= 2 * size && 2 * ax - ay <= 0;
      // nearest point on the right side (from the apex along (1, 2)) and on the base
      const t = Math.min(1, Math.max(0, (ax + 2 * ay) / (5 * size)));
      const sx = ax - t * size, sy = ay - 2 * t * size;
      const bx = Math.max(0, ax - size), by = ay - 2 * size;
      const d = Math.sqrt(Math.min(sx * sx + sy * sy, bx * bx + by * by));
      return inside ? -d : d;
    }
  }
}

/**
 * Coverage in `[0, 1]` of the pixel with centre `(x, y)` by a shape (see
 * {@link shapeDistance}): a linear ramp of `edge` pixels across the boundary
 * (1 for the renderer's anti-aliasing; wider ramps model blurred edges).
 */
export function shapeCoverage(
  shape: Shape,
  cx: number,
  cy: number,
  size: number,
  x: number,
  y: number,
  edge = 1,
): number {
  const d = shapeDistance(shape, cx, cy, size, x, y) / edge;
  return d <= -0.5 ? 1 : d >= 0.5 ? 0 : 0.5 - d;
}

/**
 * Renders a scene into a new 8-bit RGB image.
 *
 * @example
 * ```ts
 * import { renderScene } from "./render.ts";
 * const image = renderScene({
 *   width: 32,
 *   height: 32,
 *   objects: [{ shape: "circle", color: "red", cx: 10, cy: 16, size: 5 }],
 * });
 * ```
 */
export function renderScene(scene: Scene): RgbImage {
  const image = createImage(scene.width, scene.height);
  const { data, width, height } = image;
  for (let i = 0; i < data.length; i++) data[i] = BACKGROUND[i % 3];
  for (const { shape, color, cx, cy, size } of scene.objects) {
    const rgb = PALETTE[color];
    const x0 = Math.max(0, Math.floor(cx - size - 1)),
      x1 = Math.min(width, Math.ceil(cx + size + 1));
    const y0 = Math.max(0, Math.floor(cy - size - 1)),
      y1 = Math.min(height, Math.ceil(cy + size + 1));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const a = shapeCoverage(shape, cx, cy, size, x + 0.5, y + 0.5);
        if (a === 0) continue;
        const at = (y * width + x) * 3;
        for (let c = 0; c < 3; c++) {
          data[at + c] = Math.round(data[at + c] + a * (rgb[c] - data[at + c]));
        }
      }
    }
  }
  return image;
}
