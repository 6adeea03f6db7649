/**
 * Seeded scene layouts for prompts: sizes, colours left open by the prompt,
 * and positions, sampled from one {@link UniformStream} so a `(prompt, seed)`
 * pair always gives the same scene.
 *
 * Geometry (in pixels of a 32-pixel canvas, scaled with the smaller side):
 * half-sides 3.5–5.5 (3.5–4.5 with three or more objects), a 1-pixel margin
 * to the border, and at least a 3-pixel gap between object boxes. For a
 * position prompt the second object lies along the relation's axis at least
 * twice as far as across it.
 *
 * @module
 */

import { UniformStream } from "../rng.ts";
import type { PromptSpec } from "./prompts.ts";
import type { Scene, SceneObject } from "./render.ts";
import { type Color, COLORS, MAX_OBJECTS, type Relation, type Shape } from "./world.ts";

/** Sub-stream of a seed's uniforms used for layouts ("SCEN"), apart from noise streams. */
export const SCENE_STREAM = 0x5343454e;

/** Smallest canvas side the layout rules support. */
export const MIN_CANVAS = 24;

/** Options of {@link sampleScene}. */
export interface SceneOptions {
  /** Canvas columns; default 32. */
  width?: number;
  /** Canvas rows; default 32. */
  height?: number;
  /** Colours to draw from when the prompt leaves an object's colour open; default all. */
  openColors?: (shape: Shape) => readonly Color[];
}

const GAP = 3;
const MARGIN = 1;
const MAX_TRIES = 200;
const MAX_RESTARTS = 200;

/**
 * Samples a scene that satisfies a prompt, deterministically from `seed`.
 *
 * @example
 * ```ts
 * import { parsePrompt } from "./prompts.ts";
 * import { renderScene } from "./render.ts";
 * import { sampleScene } from "./scene.ts";
 * const scene = sampleScene(parsePrompt("three squares"), 7);
 * const image = renderScene(scene); // 32×32 RGB
 * ```
 */
export function sampleScene(spec: PromptSpec, seed: number, options: SceneOptions = {}): Scene {
  const { width = 32, height = 32, openColors = () => COLORS } = options;
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || Math.min(width, height) < MIN_CANVAS
  ) {
    throw new RangeError(
      `canvas must be integers of at least ${MIN_CANVAS} pixels, got ${width}×${height}`,
    );
  }
  const wanted = spec.groups.flatMap((g) => Array.from({ length: g.count }, () => g));
  if (wanted.length > MAX_OBJECTS) {
    throw new RangeError(`a scene holds at most ${MAX_OBJECTS} objects`);
  }
  const rng = new UniformStream(seed, SCENE_STREAM);
  const scale = Math.min(width, height) / 32;
  const sizes = wanted.length <= 2 ? [3.5 * scale, 5.5 * scale] : [3.5 * scale, 4.5 * scale];
  const colors = wanted.map(({ shape, color }) => {
    if (color !== undefined) return color;
    const allowed = openColors(shape);
    if (allowed.length === 0) throw new RangeError(`no colour allowed for an open-colour ${shape}`);
    return allowed[rng.nextInt(allowed.length)];
  });

  for (let restart = 0; restart < MAX_RESTARTS; restart++) {
    const placed: SceneObject[] = [];
    for (const [i, { shape }] of wanted.entries()) {
      const object = place(shape, colors[i], placed, i === 1 ? spec.relation : undefined);
      if (object === undefined) break;
      placed.push(object);
    }
    if (placed.length === wanted.length) return { width, height, objects: placed };
  }
  throw new Error(
    `could not lay out "${spec.prompt}" on ${width}×${height} after ${MAX_RESTARTS} restarts`,
  );

  function place(
    shape: Shape,
    color: Color,
    placed: readonly SceneObject[],
    relation: Relation | undefined,
  ): SceneObject | undefined {
    for (let t = 0; t < MAX_TRIES; t++) {
      const size = rng.nextRange(sizes[0], sizes[1]);
      const edge = (MARGIN * scale) + size;
      const cx = rng.nextRange(edge, width - edge);
      const cy = rng.nextRange(edge, height - edge);
      const clear = placed.every((o) =>
        Math.max(Math.abs(o.cx - cx), Math.abs(o.cy - cy)) - (o.size + size) >= GAP * scale
      );
      if (clear && (relation === undefined || satisfies(placed[0], cx, cy, relation))) {
        return { shape, color, cx, cy, size };
      }
    }
    return undefined;
  }
}

/** Whether an object at `(cx, cy)` puts `first` in `relation` to it, with a 2:1 margin of axis over cross-axis distance. */
function satisfies(first: SceneObject, cx: number, cy: number, relation: Relation): boolean {
  const dx = cx - first.cx, dy = cy - first.cy; // from first to second
  switch (relation) {
    case "left of":
      return dx >= 2 * Math.abs(dy);
    case "right of":
      return -dx >= 2 * Math.abs(dy);
    case "above":
      return dy >= 2 * Math.abs(dx);
    case "below":
      return -dy >= 2 * Math.abs(dx);
  }
}
