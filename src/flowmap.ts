/**
 * Flow-map interfaces (docs/math.md §2). Any object with this shape can be
 * sampled: the ONNX loader is one implementation, an analytic map written in
 * JavaScript is another.
 *
 * @module
 */

import type { ProbabilityPath } from "./path.ts";

/** A batch of samples: `data` holds `shape[0]` samples laid out batch first. */
export interface Tensor {
  /** Row-major values. */
  readonly data: Float32Array;
  /** Dimensions, batch first, e.g. `[B, 3, 32, 32]`. */
  readonly shape: readonly number[];
}

/**
 * A two-time map (MeanFlow): `average(x, r, t)` is the average velocity
 * `u(x, r, t)` over `[r, t]`, so `X(t → r)(x) = x − (t − r)·u(x, r, t)`.
 *
 * @typeParam C the conditioning it accepts (e.g. encoded prompts)
 * @example An analytic map that shrinks toward the origin: `X(t → r)(x) = (r / t)·x`
 * ```ts
 * import type { TwoTimeFlowMap } from "./flowmap.ts";
 * import { rectifiedFlow } from "./path.ts";
 * const shrink: TwoTimeFlowMap = {
 *   kind: "two-time",
 *   path: rectifiedFlow,
 *   average: (x, _r, t) => Promise.resolve(x.data.map((v) => v / t)),
 * };
 * ```
 */
export interface TwoTimeFlowMap<C = unknown> {
  /** Discriminates the map kind. */
  readonly kind: "two-time";
  /** The path the map was trained on. */
  readonly path: ProbabilityPath;
  /** Average velocity over `[r, t]`, same size as `x.data`. */
  average(x: Tensor, r: number, t: number, cond?: C): Promise<Float32Array>;
}

/**
 * A one-time map (consistency model / sCM): `endpoint(x, t) = X(t → 0)(x)`.
 *
 * @typeParam C the conditioning it accepts (e.g. encoded prompts)
 * @example
 * ```ts
 * import type { OneTimeFlowMap } from "./flowmap.ts";
 * import { trigFlow } from "./path.ts";
 * const zero: OneTimeFlowMap = {
 *   kind: "one-time",
 *   path: trigFlow(0.5),
 *   endpoint: (x) => Promise.resolve(new Float32Array(x.data.length)),
 * };
 * ```
 */
export interface OneTimeFlowMap<C = unknown> {
  /** Discriminates the map kind. */
  readonly kind: "one-time";
  /** The path the map was trained on. */
  readonly path: ProbabilityPath;
  /** Data endpoint estimate `X(t → 0)(x)`, same size as `x.data`. */
  endpoint(x: Tensor, t: number, cond?: C): Promise<Float32Array>;
}

/** Either kind of flow map. */
export type FlowMap<C = unknown> = TwoTimeFlowMap<C> | OneTimeFlowMap<C>;

/**
 * The endpoint estimate `X(t → 0)(x)` from either kind of map: one NFE
 * (`f(x, t)`, or `x − t·u(x, 0, t)` for a two-time map on rectified flow).
 *
 * @example
 * ```ts
 * import { endpointOf, type OneTimeFlowMap } from "./flowmap.ts";
 * import { trigFlow } from "./path.ts";
 * const map: OneTimeFlowMap = {
 *   kind: "one-time",
 *   path: trigFlow(0.5),
 *   endpoint: (x) => Promise.resolve(x.data.slice()),
 * };
 * await endpointOf(map, { data: new Float32Array(3), shape: [1, 3] }, 1);
 * ```
 */
export async function endpointOf<C>(
  map: FlowMap<C>,
  x: Tensor,
  t: number,
  cond?: C,
): Promise<Float32Array> {
  if (map.kind === "one-time") return checkOutput(await map.endpoint(x, t, cond), x, "endpoint");
  const u = checkOutput(await map.average(x, 0, t, cond), x, "average");
  const out = new Float32Array(u.length);
  for (let i = 0; i < out.length; i++) out[i] = x.data[i] - t * u[i];
  return out;
}

/**
 * Checks a map's output: a Float32Array as long as the input, all finite.
 * Returns it unchanged, or throws a `RangeError` naming the method.
 *
 * @example
 * ```ts
 * import { checkOutput } from "./flowmap.ts";
 * checkOutput(new Float32Array(2), { data: new Float32Array(2), shape: [1, 2] }, "endpoint");
 * ```
 */
export function checkOutput(out: Float32Array, x: Tensor, method: string): Float32Array {
  if (!(out instanceof Float32Array) || out.length !== x.data.length) {
    const got = out instanceof Float32Array ? `${out.length} values` : String(out);
    throw new RangeError(
      `flow map ${method}() must return a Float32Array of ${x.data.length} values, got ${got}`,
    );
  }
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) {
      throw new RangeError(`flow map ${method}() returned a non-finite value at index ${i}`);
    }
  }
  return out;
}
