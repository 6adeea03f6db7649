/**
 * Pictures of a run, drawn into RGB bytes and encoded as PNG with sharp
 * (`src/image.ts`): a sample grid (per K, a base row over a trained row) and
 * a line plot of the reward curve.
 *
 * @module
 */

import type { Image } from "../../src/image.ts";

/**
 * Stacks rows of equally sized images into one image, each image scaled by
 * `zoom` (nearest neighbour), with a `gap`-pixel dark grey border.
 *
 * @example
 * ```ts
 * import { imageGrid } from "./pictures.ts";
 * const tile = { width: 2, height: 2, channels: 3, data: new Uint8Array(12) };
 * imageGrid([[tile, tile], [tile, tile]], 2, 1).width; // 2·4 + 3·1 = 11
 * ```
 */
export function imageGrid(rows: readonly (readonly Image[])[], zoom = 2, gap = 2): Image {
  const first = rows[0]?.[0];
  if (first === undefined) throw new RangeError("a grid needs at least one image");
  const columns = Math.max(...rows.map((r) => r.length));
  const cellW = first.width * zoom, cellH = first.height * zoom;
  const width = columns * cellW + (columns + 1) * gap;
  const height = rows.length * cellH + (rows.length + 1) * gap;
  const data = new Uint8Array(width * height * 3).fill(48);
  rows.forEach((row, r) =>
    row.forEach((image, c) => {
      const x0 = gap + c * (cellW + gap), y0 = gap + r * (cellH + gap);
      for (let y = 0; y < cellH; y++) {
        for (let x = 0; x < cellW; x++) {
          const src = (Math.floor(y / zoom) * image.width + Math.floor(x / zoom)) * image.channels;
          const dst = ((y0 + y) * width + x0 + x) * 3;
          for (let ch = 0; ch < 3; ch++) {
            data[dst + ch] = image.data[src + Math.min(ch, image.channels - 1)];
          }
        }
      }
    })
  );
  return { width, height, channels: 3, data };
}

/** One line of a plot. */
export interface Series {
  /** `[x, y]` points in drawing order. */
  readonly points: readonly (readonly [number, number])[];
  /** RGB colour. */
  readonly color: readonly [number, number, number];
}

/**
 * A line plot on a white canvas: light grid lines at tenths of each axis,
 * black axes labelled with their ranges, and each series as a 2-pixel
 * polyline with dots at its points. Axis ranges cover all points (a flat
 * series gets a unit range).
 *
 * @example
 * ```ts
 * import { linePlot } from "./pictures.ts";
 * const plot = linePlot([{ points: [[0, 0], [1, 1]], color: [200, 0, 0] }], 320, 200);
 * ```
 */
export function linePlot(series: readonly Series[], width = 640, height = 360): Image {
  const data = new Uint8Array(width * height * 3).fill(255);
  const all = series.flatMap((s) => s.points);
  const margin = 24;
  const range = (values: number[]) => {
    let lo = Math.min(...values), hi = Math.max(...values);
    if (!(hi > lo)) [lo, hi] = [lo - 0.5, hi + 0.5];
    return [lo, hi] as const;
  };
  const [x0, x1] = all.length ? range(all.map((p) => p[0])) : [0, 1];
  const [y0, y1] = all.length ? range(all.map((p) => p[1])) : [0, 1];
  const px = (x: number) => margin + ((x - x0) / (x1 - x0)) * (width - 2 * margin);
  const py = (y: number) => height - margin - ((y - y0) / (y1 - y0)) * (height - 2 * margin);
  const put = (x: number, y: number, color: readonly number[]) => {
    const xi = Math.round(x), yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= width || yi >= height) return;
    data.set(color.slice(0, 3), (yi * width + xi) * 3);
  };
  const line = (
    ax: number,
    ay: number,
    bx: number,
    by: number,
    color: readonly number[],
    w = 1,
  ) => {
    const n = Math.max(1, Math.ceil(Math.hypot(bx - ax, by - ay)));
    for (let i = 0; i <= n; i++) {
      const x = ax + ((bx - ax) * i) / n, y = ay + ((by - ay) * i) / n;
      for (let dx = 0; dx < w; dx++) for (let dy = 0; dy < w; dy++) put(x + dx, y + dy, color);
    }
  };
  for (let i = 0; i <= 10; i++) {
    const gx = margin + (i / 10) * (width - 2 * margin),
      gy = margin + (i / 10) * (height - 2 * margin);
    line(gx, margin, gx, height - margin, [225, 225, 225]);
    line(margin, gy, width - margin, gy, [225, 225, 225]);
  }
  line(margin, height - margin, width - margin, height - margin, [0, 0, 0]);
  line(margin, margin, margin, height - margin, [0, 0, 0]);
  // axis ranges as text: y max / y min inside the plot, x min / x max under the axis
  const label = (value: number) => Number.isInteger(value) ? String(value) : value.toFixed(3);
  text(data, width, label(y1), margin + 4, margin + 2);
  text(data, width, label(y0), margin + 4, height - margin - 12);
  text(data, width, label(x0), margin, height - margin + 6);
  const right = label(x1);
  text(data, width, right, width - margin - right.length * 8, height - margin + 6);
  for (const { points, color } of series) {
    points.forEach(([x, y], i) => {
      if (i > 0) line(px(points[i - 1][0]), py(points[i - 1][1]), px(x), py(y), color, 2);
      for (let dx = -2; dx <= 2; dx++) {
        for (let dy = -2; dy <= 2; dy++) put(px(x) + dx, py(y) + dy, color);
      }
    });
  }
  return { width, height, channels: 3, data };
}

/** 3×5 glyphs of the characters labels use, one row per string, `#` = ink. */
const GLYPHS: Readonly<Record<string, readonly string[]>> = {
  "0": ["###", "#.#", "#.#", "#.#", "###"],
  "1": [".#.", "##.", ".#.", ".#.", "###"],
  "2": ["###", "..#", "###", "#..", "###"],
  "3": ["###", "..#", "###", "..#", "###"],
  "4": ["#.#", "#.#", "###", "..#", "..#"],
  "5": ["###", "#..", "###", "..#", "###"],
  "6": ["###", "#..", "###", "#.#", "###"],
  "7": ["###", "..#", "..#", "..#", "..#"],
  "8": ["###", "#.#", "###", "#.#", "###"],
  "9": ["###", "#.#", "###", "..#", "###"],
  ".": ["...", "...", "...", "...", ".#."],
  "-": ["...", "...", "###", "...", "..."],
};

/** Draws `value` in black at `(x, y)`, glyphs scaled 2× (8 px per character). */
function text(data: Uint8Array, width: number, value: string, x: number, y: number): void {
  const height = data.length / (3 * width);
  [...value].forEach((ch, c) => {
    const glyph = GLYPHS[ch];
    if (glyph === undefined) return;
    glyph.forEach((row, gy) =>
      [...row].forEach((ink, gx) => {
        if (ink !== "#") return;
        for (let d = 0; d < 4; d++) {
          const px = x + c * 8 + gx * 2 + (d & 1), py = y + gy * 2 + (d >> 1);
          if (px >= 0 && py >= 0 && px < width && py < height) {
            data.fill(0, (py * width + px) * 3, (py * width + px) * 3 + 3);
          }
        }
      })
    );
  });
}
