/**
 * ONNX Runtime flow maps: the {@linkcode FlowMap} contract over a session
 * whose graph takes `x [B, C, H, W]`, `t [B]`, `r [B]` (two-time only) and
 * `tokens [B, L]` int32, and returns `u` (two-time) or `x0` (one-time). The
 * conditioning is the encoded prompts (`Int32Array` of `B·L` token ids); none
 * means the empty, unconditional prompt. A whole batch is one `session.run`.
 *
 * @module
 */

import type { FlowMap, Tensor } from "../flowmap.ts";
import { MODEL_IO, type ModelInfo } from "./model_info.ts";
import type { Ort, OrtSession } from "./runtime.ts";

type OrtTensor = InstanceType<Ort["Tensor"]>;

/**
 * A flow map whose evaluations run `session()` (called per evaluation, so a
 * disposed model can refuse). The token tensor is built once per conditioning
 * array and reused by every step that passes the same array.
 *
 * @example
 * ```ts ignore
 * import { onnxFlowMap } from "./flowmap.ts";
 * const map = onnxFlowMap(info, runtime.ort, () => session);
 * ```
 */
export function onnxFlowMap(
  info: ModelInfo,
  ort: Ort,
  session: () => OrtSession,
): FlowMap<Int32Array> {
  const { kind, path, imageShape, tokenizer } = info;
  const output = MODEL_IO[kind].output;
  const sampleSize = imageShape[0] * imageShape[1] * imageShape[2];
  const textLength = tokenizer.maxTokens;
  let cached: { cond: Int32Array | undefined; batch: number; tensor: OrtTensor } | undefined;

  const tokensFor = (cond: Int32Array | undefined, batch: number): OrtTensor => {
    if (cached !== undefined && cached.cond === cond && cached.batch === batch) {
      return cached.tensor;
    }
    const ids = cond ?? new Int32Array(batch * textLength);
    if (!(ids instanceof Int32Array) || ids.length !== batch * textLength) {
      throw new RangeError(
        `conditioning must be an Int32Array of ${batch} × ${textLength} token ids ` +
          `(model.encodePrompts), got ${ids instanceof Int32Array ? ids.length : typeof ids}`,
      );
    }
    const bad = ids.findIndex((id) => id < 0 || id >= tokenizer.size);
    if (bad >= 0) {
      throw new RangeError(
        `token id ${ids[bad]} at ${bad} is outside the vocabulary of ${tokenizer.size}`,
      );
    }
    const tensor = new ort.Tensor("int32", ids, [batch, textLength]);
    cached = { cond, batch, tensor };
    return tensor;
  };

  const run = async (
    x: Tensor,
    times: Record<string, number>,
    cond: Int32Array | undefined,
  ): Promise<Float32Array> => {
    const batch = x.shape[0];
    if (x.shape.length !== 4 || x.shape.slice(1).join() !== imageShape.join()) {
      throw new RangeError(
        `the model takes x of shape [B, ${imageShape.join(", ")}], got [${x.shape.join(", ")}]`,
      );
    }
    if (x.data.length !== batch * sampleSize) {
      throw new RangeError(
        `x holds ${x.data.length} values, its shape needs ${batch * sampleSize}`,
      );
    }
    const feeds: Record<string, OrtTensor> = {
      x: new ort.Tensor("float32", x.data, [batch, ...imageShape]),
      tokens: tokensFor(cond, batch),
    };
    for (const [name, time] of Object.entries(times)) {
      feeds[name] = new ort.Tensor("float32", new Float32Array(batch).fill(time), [batch]);
    }
    const outputs = await session().run(feeds);
    return outputs[output].data as Float32Array;
  };

  return kind === "two-time"
    ? Object.freeze({
      kind,
      path,
      average: (x: Tensor, r: number, t: number, cond?: Int32Array) => run(x, { r, t }, cond),
    })
    : Object.freeze({
      kind,
      path,
      endpoint: (x: Tensor, t: number, cond?: Int32Array) => run(x, { t }, cond),
    });
}
