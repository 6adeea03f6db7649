/**
 * Reads an emitted model back into a config and a parameter table, so the
 * trainer can post-train exactly the weights the SDK serves.
 *
 * @module
 */

import onnxProto from "onnx-proto";
import type { ModelConfig } from "./config.ts";
import { transpose2d } from "./onnx.ts";
import {
  checkParameters,
  type HostTensor,
  modelLayout,
  type ParameterTable,
  size,
} from "./parameters.ts";

const { onnx } = onnxProto;

/** What an emitted model holds. */
export interface OnnxModelContents {
  /** The architecture (metadata `config`). */
  readonly config: ModelConfig;
  /** The weights, linear weights back in `[out, in]`. */
  readonly parameters: ParameterTable;
  /** All metadata properties. */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Decodes a model written by `emitOnnx` and its external data.
 *
 * @example Load a bundled model into TF.js
 * ```ts
 * import { readOnnxModel } from "./onnx_read.ts";
 * import { TfFlowMap } from "./tfjs.ts";
 *
 * const { config, parameters } = readOnnxModel(
 *   await Deno.readFile("shapes-meanflow.onnx"),
 *   await Deno.readFile("shapes-meanflow.bin"),
 * );
 * const model = new TfFlowMap(config, parameters, { trainable: false });
 * ```
 */
export function readOnnxModel(model: Uint8Array, externalData: Uint8Array): OnnxModelContents {
  const decoded = onnx.ModelProto.toObject(onnx.ModelProto.decode(model), {
    longs: Number,
    bytes: Array,
  });
  const metadata: Record<string, string> = Object.fromEntries(
    (decoded.metadataProps ?? []).map((p: { key: string; value: string }) => [p.key, p.value]),
  );
  if (metadata.config === undefined) throw new RangeError("model has no `config` metadata");
  const config = JSON.parse(metadata.config) as ModelConfig;
  const initializers = new Map<string, onnxProto.onnx.ITensorProto>(
    (decoded.graph?.initializer ?? []).map((t: onnxProto.onnx.ITensorProto) => [t.name, t]),
  );
  const view = new DataView(externalData.buffer, externalData.byteOffset, externalData.byteLength);
  const parameters = new Map<string, HostTensor>();
  for (const spec of modelLayout(config).parameters) {
    const init = initializers.get(spec.name);
    if (init === undefined) throw new RangeError(`model has no initializer ${spec.name}`);
    const field = (key: string) => init.externalData?.find((e) => e.key === key)?.value;
    const offset = Number(field("offset") ?? 0), length = Number(field("length"));
    const dims = (init.dims ?? []).map(Number);
    if (length !== 4 * size(dims) || offset + length > externalData.byteLength) {
      throw new RangeError(`initializer ${spec.name} has a bad external data range`);
    }
    const data = Float32Array.from(
      { length: size(dims) },
      (_, i) => view.getFloat32(offset + 4 * i, true),
    );
    const stored = { shape: dims, data };
    const isWeight = spec.linear !== undefined && spec.name === `${spec.linear.module}.weight`;
    parameters.set(spec.name, isWeight ? transpose2d(stored) : stored);
  }
  checkParameters(config, parameters);
  return { config, parameters, metadata };
}
