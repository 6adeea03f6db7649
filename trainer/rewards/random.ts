/**
 * A control reward with no learnable signal: each image scores a uniform
 * number hashed from its bytes (FNV-1a), so any pixel change reshuffles it.
 * Training against it shows what optimisation noise alone does to a model
 * (drift, narrowing) at a given learning rate and batch size.
 *
 * @module
 */

import { definePerImageReward, type Reward } from "./reward.ts";

/**
 * Scores each image with the 32-bit FNV-1a hash of its bytes over 2^32, in
 * `[0, 1)`, named "random".
 *
 * @example
 * ```ts
 * import { createImage } from "../../src/shapes/image.ts";
 * import { randomControl } from "./random.ts";
 * await randomControl().score([createImage(2, 2)], [""]); // one number in [0, 1)
 * ```
 */
export function randomControl(): Reward {
  return definePerImageReward("random", [0, 1], (image) => {
    let hash = 0x811c9dc5;
    for (const v of image.data) hash = Math.imul(hash ^ v, 0x01000193);
    return (hash >>> 0) / 2 ** 32;
  });
}
