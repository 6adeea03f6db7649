/**
 * The vocabulary of the "shapes" world: its shapes, colours, counts and
 * relations, and the exact sRGB values the renderer paints and the evaluator
 * reads back.
 *
 * @module
 */

/** Shapes the world draws: all axis-aligned and unrotated, triangles point up. */
export const SHAPES = ["circle", "square", "triangle"] as const;
/** One of {@link SHAPES}. */
export type Shape = typeof SHAPES[number];

/** Colour names; each is an sRGB value in {@link PALETTE}. */
export const COLORS = ["red", "green", "blue", "yellow", "purple", "cyan"] as const;
/** One of {@link COLORS}. */
export type Color = typeof COLORS[number];

/** Spatial relations of position prompts ("X left of Y": X's centre is left of Y's). */
export const RELATIONS = ["left of", "right of", "above", "below"] as const;
/** One of {@link RELATIONS}. */
export type Relation = typeof RELATIONS[number];

/** Count words and their values; "a" is one. */
export const COUNT_WORDS: Readonly<Record<string, number>> = Object.freeze({
  a: 1,
  two: 2,
  three: 3,
  four: 4,
});

/** Largest number of objects in one scene. */
export const MAX_OBJECTS = 4;

/**
 * sRGB value of each colour, chosen saturated and far apart in direction from
 * the black background, so every anti-aliased pixel `coverage · colour` is
 * still identifiable (the smallest angle between two colours is about 28°).
 */
export const PALETTE: Readonly<Record<Color, readonly [number, number, number]>> = Object.freeze({
  red: [230, 30, 30],
  green: [30, 200, 40],
  blue: [40, 70, 245],
  yellow: [240, 220, 20],
  purple: [170, 40, 230],
  cyan: [20, 215, 225],
});

/** Background sRGB value: black, so a pixel is `coverage × colour`. */
export const BACKGROUND: readonly [number, number, number] = [0, 0, 0];

/** The plural of a shape word ("circles"). */
export function plural(shape: Shape): string {
  return `${shape}s`;
}
