/**
 * Mean brightness: the easiest reward there is, for smoke tests of training
 * (a policy that learns anything learns to brighten its images).
 *
 * @module
 */

import { definePerImageReward, type Reward } from "./reward.ts";

/**
 * Scores each image's mean byte value over 255, range `[0, 1]`, named "brightness".
 *
 * @example
 * ```ts
 * import { createImage } from "../../src/shapes/image.ts";
 * import { brightness } from "./brightness.ts";
 * await brightness().score([createImage(2, 2)], [""]); // [0]
 * ```
 */
export function brightness(): Reward {
  return definePerImageReward("brightness", [0, 1], (image) => {
    let sum = 0;
    for (const v of image.data) sum += v;
    return sum / (255 * image.data.length);
  });
}
