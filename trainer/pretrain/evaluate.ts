/**
 * Held-out evaluation through the SDK's own samplers: a TF.js network is
 * wrapped as a {@link FlowMap}, sampled with `src/sampler.ts` at K steps,
 * and each image is judged against its prompt (strict and partial
 * composition accuracy); plus the sample-grid picture of a model card.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { FlowMap } from "../../src/flowmap.ts";
import { encodeImage, type Image, toImages } from "../../src/image.ts";
import { UniformStream } from "../../src/rng.ts";
import { sample } from "../../src/sampler.ts";
import { splitPrompts } from "../data/splits.ts";
import { evaluateImage } from "../../src/shapes/verdict.ts";
import { pathOf } from "../model/config.ts";
import type { TfFlowMap } from "../model/tfjs.ts";
import { encodePrompts } from "./batches.ts";

/**
 * A TF.js network as an SDK flow map; `cond` is the batch's token ids.
 *
 * @example
 * ```ts ignore
 * import { asFlowMap } from "./evaluate.ts";
 * const images = await sample(asFlowMap(model), { shape, seed: 0, grid: 2, cond: tokens });
 * ```
 */
export function asFlowMap(model: TfFlowMap): FlowMap<Int32Array> {
  const c = model.config;
  const run = (
    x: Float32Array,
    shape: readonly number[],
    cond: Int32Array,
    t: number,
    r?: number,
  ) =>
    tf.tidy(() => {
      const size = shape[0];
      return model.forward({
        x: tf.tensor4d(x, [size, c.channels, c.imageSize, c.imageSize]),
        t: tf.fill([size], t) as tf.Tensor1D,
        r: r === undefined ? undefined : tf.fill([size], r) as tf.Tensor1D,
        tokens: tf.tensor2d(cond, [size, c.textLength], "int32"),
      }).dataSync() as Float32Array;
    }).slice();
  const path = pathOf(c);
  const need = (cond?: Int32Array) => {
    if (cond === undefined) throw new RangeError("the shapes models need prompt tokens as cond");
    return cond;
  };
  return c.kind === "two-time"
    ? {
      kind: "two-time",
      path,
      average: (x, r, t, cond) => Promise.resolve(run(x.data, x.shape, need(cond), t, r)),
    }
    : {
      kind: "one-time",
      path,
      endpoint: (x, t, cond) => Promise.resolve(run(x.data, x.shape, need(cond), t)),
    };
}

/**
 * A fixed subset of `count` held-out prompts (seeded shuffle of the eval
 * split; all of it if `count` is larger).
 *
 * @example
 * ```ts
 * import { evalPrompts } from "./evaluate.ts";
 * evalPrompts(16, 0).length; // 16
 * ```
 */
export function evalPrompts(count: number, seed: number): string[] {
  const prompts = [...splitPrompts("eval")];
  const rng = new UniformStream(seed);
  for (let i = prompts.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [prompts[i], prompts[j]] = [prompts[j], prompts[i]];
  }
  return prompts.slice(0, Math.min(count, prompts.length));
}

/** Accuracy at one step count. */
export interface AccuracyRow {
  /** Sampling steps K. */
  readonly steps: number;
  /** The grid sampled on. */
  readonly grid: readonly number[];
  /** Images judged. */
  readonly count: number;
  /** Fraction with every constraint met. */
  readonly strict: number;
  /** Mean fraction of constraints met. */
  readonly partial: number;
}

/**
 * Samples prompt `i` with seed `seed + i` at each grid and judges the images.
 *
 * @example
 * ```ts ignore
 * import { accuracy, evalPrompts } from "./evaluate.ts";
 * const rows = await accuracy(map, evalPrompts(256, 0), 1000, [[1, 0], [1, 0.5, 0]]);
 * ```
 */
export async function accuracy(
  map: FlowMap<Int32Array>,
  prompts: readonly string[],
  seed: number,
  grids: readonly (readonly number[])[],
  batch = 64,
): Promise<AccuracyRow[]> {
  const rows: AccuracyRow[] = [];
  for (const grid of grids) {
    let strict = 0, partial = 0;
    for (let start = 0; start < prompts.length; start += batch) {
      const chunk = prompts.slice(start, start + batch);
      const images = await sampleImages(map, chunk, chunk.map((_, i) => seed + start + i), grid);
      images.forEach((image, i) => {
        const verdict = evaluateImage(image, chunk[i]);
        strict += verdict.strict ? 1 : 0;
        partial += verdict.partial;
      });
    }
    rows.push({
      steps: grid.length - 1,
      grid,
      count: prompts.length,
      strict: strict / prompts.length,
      partial: partial / prompts.length,
    });
  }
  return rows;
}

/**
 * Samples one image per (prompt, seed) on `grid` through the SDK sampler.
 *
 * @example
 * ```ts ignore
 * import { sampleImages } from "./evaluate.ts";
 * const [image] = await sampleImages(map, ["a red circle"], [7], [1, 0]);
 * ```
 */
export async function sampleImages(
  map: FlowMap<Int32Array>,
  prompts: readonly string[],
  seeds: readonly number[],
  grid: readonly number[],
): Promise<Image[]> {
  const shape = [prompts.length, 3, 32, 32];
  const out = await sample(map, { shape, seed: [...seeds], grid, cond: encodePrompts(prompts) });
  return toImages(out);
}

/**
 * Tiles images into one PNG: `rows[i][j]` at row i, column j, each scaled
 * up `zoom` times (nearest neighbour), with a `gap`-pixel white border.
 *
 * @example
 * ```ts ignore
 * import { tilePng } from "./evaluate.ts";
 * const png = await tilePng([[a, b], [c, d]], 4);
 * ```
 */
export async function tilePng(
  rows: readonly (readonly Image[])[],
  zoom = 4,
  gap = 4,
): Promise<Uint8Array> {
  const { width: w, height: h } = rows[0][0];
  const columns = Math.max(...rows.map((r) => r.length));
  const width = gap + columns * (w * zoom + gap), height = gap + rows.length * (h * zoom + gap);
  const data = new Uint8Array(width * height * 3).fill(255);
  rows.forEach((row, i) =>
    row.forEach((image, j) => {
      const x0 = gap + j * (w * zoom + gap), y0 = gap + i * (h * zoom + gap);
      for (let y = 0; y < h * zoom; y++) {
        for (let x = 0; x < w * zoom; x++) {
          const src = (Math.floor(y / zoom) * w + Math.floor(x / zoom)) * image.channels;
          const dst = ((y0 + y) * width + x0 + x) * 3;
          for (let c = 0; c < 3; c++) data[dst + c] = image.data[src + c];
        }
      }
    })
  );
  return await encodeImage({ width, height, channels: 3, data });
}
