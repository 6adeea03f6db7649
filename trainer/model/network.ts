/**
 * The flow-map network, defined once over {@link GraphOps}: a FLUX-style
 * MMDiT with joint attention over image patch tokens and prompt tokens and
 * adaptive-LayerNorm-Zero conditioning on time embeddings.
 *
 * Output parameterisation (docs/math.md §1–2). The network predicts an endpoint
 * (x-prediction, as in JiT): with 8×8 patches a token carries 192 values
 * through a 128-wide stream, too narrow to pass the noise a velocity head
 * must reproduce, while clean images are low-dimensional. With `N` the raw
 * output on the input `x / sigma_d`, `E = sigma_d · N` the endpoint
 * estimate, and `x0 = c_x(t) · x + c_v(t) · v` from
 * `endpointFromVelocity(path, t)`:
 *
 * - velocity `v = (c_x · x − E) / max(−c_v, ε)` with `ε = 0.05`;
 *   rectified flow: `v = (x − E) / max(t, ε)`;
 * - two-time (MeanFlow): `u(x, r, t) = v` (so a jump to `r = 0` lands on `E`
 *   for `t ≥ ε`);
 * - one-time (sCM): `f(x, t) = c_x · x + c_v · v`, which is `E` where
 *   `−c_v ≥ ε` and tends to `x` as `t → 0` (`f(x, 0) = x` exactly).
 *
 * Both are reparameterisations (any map is representable), not new maps.
 * The output head is `proj_out` after an optional GELU layer `proj_hidden`
 * (`config.outputHidden`), so sharp 8×8 patches are not confined to a
 * 128-dimensional subspace.
 *
 * Times enter the sinusoidal embeddings as `t · 1000 / tMax`.
 *
 * @module
 */

import type { ProbabilityPath } from "../../src/path.ts";
import { type ModelConfig, pathOf, validateConfig } from "./config.ts";
import type { GraphOps } from "./ops.ts";

/** Network inputs. `r` is required for two-time maps and forbidden for one-time maps. */
export interface FlowMapInputs<T> {
  /** Images `[B, C, H, W]`, channel-first. */
  readonly x: T;
  /** Times `[B]`. */
  readonly t: T;
  /** Target times `[B]` of a two-time map (`r ≤ t`). */
  readonly r?: T;
  /** Prompt token ids `[B, textLength]`, int32. */
  readonly tokens: T;
}

const LAYER_NORM_EPSILON = 1e-6;

/**
 * The forward pass: `u(x, r, t)` for two-time maps, `f(x, t)` for one-time
 * maps, both `[B, C, H, W]`.
 *
 * @example Count the cost of one forward pass
 * ```ts
 * import { meanFlowConfig } from "./config.ts";
 * import { forwardCost } from "./cost.ts";
 * forwardCost(meanFlowConfig).flops; // matmul FLOPs at batch 1
 * ```
 */
export function flowMapNetwork<T>(
  ops: GraphOps<T>,
  config: ModelConfig,
  inputs: FlowMapInputs<T>,
): T {
  const dims = validateConfig(config);
  const path = pathOf(config);
  if ((config.kind === "two-time") !== (inputs.r !== undefined)) {
    throw new RangeError(
      `a ${config.kind} map ${config.kind === "two-time" ? "needs" : "takes no"} input r`,
    );
  }
  const { channels: c, patchSize: p, hiddenDim: d } = config;
  const g = dims.grid;
  const scaled = path.sigmaD === 1 ? inputs.x : ops.scale(inputs.x, 1 / path.sigmaD);
  const patches = ops.reshape(
    ops.transpose(ops.reshape(scaled, [-1, c, g, p, g, p]), [0, 2, 4, 1, 3, 5]),
    [-1, dims.imageTokens, dims.patchDim],
  );
  let image = ops.add(ops.linear("x_embedder", patches), ops.parameter("pos_embed"));
  const words = ops.embed("token_embedding.weight", inputs.tokens);
  let text = ops.linear("context_embedder", ops.add(words, ops.parameter("context_pos_embed")));

  const mlp = (name: string, h: T) =>
    ops.linear(`${name}.linear_2`, silu(ops, ops.linear(`${name}.linear_1`, h)));
  const timeScale = 1000 / path.tMax;
  let embedding = mlp(
    "time_text_embed.timestep_embedder",
    sinusoid(ops, inputs.t, config.frequencyDim, timeScale),
  );
  if (inputs.r !== undefined) {
    const interval = sinusoid(ops, ops.sub(inputs.t, inputs.r), config.frequencyDim, timeScale);
    embedding = ops.add(embedding, mlp("time_text_embed.interval_embedder", interval));
  }
  embedding = ops.add(embedding, mlp("time_text_embed.text_embedder", ops.mean(words, 1)));
  const cond = silu(ops, embedding);

  for (let i = 0; i < config.depth; i++) {
    const block = `transformer_blocks.${i}`;
    const last = i === config.depth - 1;
    const out = doubleStreamBlock(
      ops,
      block,
      config,
      dims.imageTokens,
      { image, text, cond },
      last,
    );
    image = out.image;
    text = out.text ?? text;
  }

  const [scale, shift] = ops.split(ops.linear("norm_out.linear", cond), 1, 2, d);
  const head = ops.modulatedLayerNorm(image, shift, scale, d, LAYER_NORM_EPSILON);
  const out = ops.linear(
    "proj_out",
    (config.outputHidden ?? 0) > 0 ? ops.gelu(ops.linear("proj_hidden", head)) : head,
  );
  const net = ops.reshape(
    ops.transpose(ops.reshape(out, [-1, g, g, c, p, p]), [0, 3, 1, 4, 2, 5]),
    [-1, c, config.imageSize, config.imageSize],
  );
  const estimate = path.sigmaD === 1 ? net : ops.scale(net, path.sigmaD);
  const coefficient = endpointCoefficients(ops, path, inputs.t);
  const perSample = (v: T) => ops.reshape(v, [-1, 1, 1, 1]);
  const kept = coefficient.x === undefined ? inputs.x : ops.mul(perSample(coefficient.x), inputs.x);
  const inverse = ops.reciprocal(ops.atLeast(ops.scale(coefficient.v, -1), ENDPOINT_EPSILON));
  const velocity = ops.mul(perSample(inverse), ops.sub(kept, estimate));
  if (config.kind === "two-time") return velocity;
  return ops.add(kept, ops.mul(perSample(coefficient.v), velocity));
}

/** Smallest `−c_v(t)` the endpoint head divides by (JiT clips `1 − t` at 0.05). */
export const ENDPOINT_EPSILON = 0.05;

/**
 * Per-sample coefficients of `x0 = c_x · x + c_v · v` as graph values: the
 * tensor form of `endpointFromVelocity(path, t)` from src/path.ts (tests
 * check the two agree). Rectified flow: `(1, −t)`, where `x` is left out
 * because it is 1; TrigFlow: `(cos t, −sin t)`.
 *
 * @example
 * ```ts
 * import { endpointCoefficients } from "./network.ts";
 * // const { x, v } = endpointCoefficients(ops, trigFlow(0.5), t);
 * ```
 */
export function endpointCoefficients<T>(
  ops: GraphOps<T>,
  path: ProbabilityPath,
  t: T,
): { x?: T; v: T } {
  if (path.name === "trigflow") return { x: ops.cos(t), v: ops.scale(ops.sin(t), -1) };
  return { v: ops.scale(t, -1) };
}

/** Module names of one stream of a double-stream block. */
interface StreamModules {
  readonly norm: string;
  readonly qkv: readonly [string, string, string];
  readonly out: string;
  readonly ff: string;
}

const IMAGE_STREAM: StreamModules = {
  norm: "norm1",
  qkv: ["attn.to_q", "attn.to_k", "attn.to_v"],
  out: "attn.to_out.0",
  ff: "ff",
};
const TEXT_STREAM: StreamModules = {
  norm: "norm1_context",
  qkv: ["attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"],
  out: "attn.to_add_out",
  ff: "ff_context",
};

/**
 * FLUX's double-stream block: adaLN-Zero modulation, joint attention over
 * `[text; image]` tokens, separate output projections and MLPs per stream.
 * The last block is "context pre-only" (as in SD3): its text stream only
 * supplies keys and values, so it has no text output projection or MLP, and
 * its text modulation is a `(scale, shift)` pair. It returns no text then.
 */
function doubleStreamBlock<T>(
  ops: GraphOps<T>,
  block: string,
  config: ModelConfig,
  imageTokens: number,
  streams: { image: T; text: T; cond: T },
  contextPreOnly: boolean,
): { image: T; text?: T } {
  const d = config.hiddenDim;
  const adaNorm = (x: T, shift: T, scale: T) =>
    ops.modulatedLayerNorm(x, shift, scale, d, LAYER_NORM_EPSILON);
  const modulation = (names: StreamModules, pieces: number) =>
    ops.split(ops.linear(`${block}.${names.norm}.linear`, streams.cond), 1, pieces, d);
  const project = (names: StreamModules, x: T) =>
    names.qkv.map((proj) => ops.linear(`${block}.${proj}`, x));

  const imageMod = modulation(IMAGE_STREAM, 6);
  const textMod = modulation(TEXT_STREAM, contextPreOnly ? 2 : 6);
  const [textShift, textScale] = contextPreOnly ? [textMod[1], textMod[0]] : textMod;
  const imageQkv = project(IMAGE_STREAM, adaNorm(streams.image, imageMod[0], imageMod[1]));
  const textQkv = project(TEXT_STREAM, adaNorm(streams.text, textShift, textScale));
  const textLength = config.textLength;
  const seq = textLength + imageTokens;
  const joint = [0, 1, 2].map((i) => ops.concat([textQkv[i], imageQkv[i]], 1));
  const attended = ops.attention(joint[0], joint[1], joint[2], seq, config.heads, d);

  const update = (names: StreamModules, x: T, mod: T[], attn: T) => {
    const [, , gateA, shiftM, scaleM, gateM] = mod;
    const mid = ops.gatedResidual(x, gateA, ops.linear(`${block}.${names.out}`, attn), d);
    const hidden = adaNorm(mid, shiftM, scaleM);
    const ff = ops.linear(
      `${block}.${names.ff}.net.2`,
      ops.gelu(ops.linear(`${block}.${names.ff}.net.0.proj`, hidden)),
    );
    return ops.gatedResidual(mid, gateM, ff, d);
  };
  const image = update(
    IMAGE_STREAM,
    streams.image,
    imageMod,
    ops.slice(attended, 1, textLength, seq),
  );
  if (contextPreOnly) return { image };
  return {
    image,
    text: update(TEXT_STREAM, streams.text, textMod, ops.slice(attended, 1, 0, textLength)),
  };
}

/** FLUX/diffusers `Timesteps(flip_sin_to_cos=True)`: `[cos(s·t·ω_i), sin(s·t·ω_i)]`, `ω_i = 10000^(−i/half)`. */
function sinusoid<T>(ops: GraphOps<T>, t: T, width: number, timeScale: number): T {
  const half = width / 2;
  const frequencies = Float32Array.from(
    { length: half },
    (_, i) => timeScale * Math.exp(-Math.log(10000) * i / half),
  );
  const angles = ops.mul(ops.reshape(t, [-1, 1]), ops.constant(frequencies, [1, half]));
  return ops.concat([ops.cos(angles), ops.sin(angles)], 1);
}

function silu<T>(ops: GraphOps<T>, x: T): T {
  return ops.mul(x, ops.sigmoid(x));
}
