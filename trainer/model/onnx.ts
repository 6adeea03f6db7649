/**
 * The ONNX emitter: the network of network.ts as an ONNX model (opset 17)
 * whose parameters live in one external data file, with the metadata of the
 * model-file contract (src/onnx/model_info.ts), so the SDK needs nothing else to load it.
 *
 * @module
 */

import onnxProto from "onnx-proto";
import { timeGrid, validateGrid } from "../../src/grid.ts";
import { MODEL_IO, type StoredLoraTarget } from "../../src/onnx/model_info.ts";
import { type ModelConfig, pathOf } from "./config.ts";
import { flowMapNetwork } from "./network.ts";
import { float32Bytes, ONNX_OPSET, OnnxGraphBuilder } from "./onnx_graph.ts";
import { checkParameters, type HostTensor, type ParameterTable } from "./parameters.ts";

const { onnx } = onnxProto;

/** The tokenizer a model was trained with, as recorded in its `tokenizer` metadata. */
export interface TokenizerDescription {
  /** Vocabulary version. */
  readonly version: string;
  /** Fixed encoded length; must equal the config's `textLength`. */
  readonly maxTokens: number;
  /** Words by id; its length must equal the config's `vocabSize`. */
  readonly vocabulary: readonly string[];
}

/** What the emitter needs beyond the architecture and weights. */
export interface OnnxEmitOptions {
  /** Model name; the external data file is `<name>.bin`. */
  readonly name: string;
  /** The tokenizer whose ids the `tokens` input takes. */
  readonly tokenizer: TokenizerDescription;
  /** The default sampling grid `t_0 > … > t_K = 0` (K = default steps), docs/math.md §3. */
  readonly defaultGrid: readonly number[];
  /**
   * Shift of the model's K-step grids (docs/math.md §3), recorded as the
   * `shift` entry when given; readers take 1 (uniform) when it is absent.
   */
  readonly shift?: number;
}

/** An emitted model: protobuf bytes plus the external data they reference. */
export interface OnnxModelFiles {
  /** Serialised `ModelProto`. */
  readonly model: Uint8Array;
  /** All parameters, float32 little-endian, back to back. */
  readonly externalData: Uint8Array;
  /** The file name the model expects its external data under (`<name>.bin`). */
  readonly externalDataFile: string;
  /** The metadata properties written into the model. */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Emits the network as an ONNX model and its external data.
 *
 * @example Write a model next to its weights
 * ```ts
 * import { meanFlowConfig } from "./config.ts";
 * import { emitOnnx } from "./onnx.ts";
 * import { initParameters } from "./parameters.ts";
 *
 * const files = emitOnnx(meanFlowConfig, initParameters(meanFlowConfig, 0), {
 *   name: "shapes-meanflow",
 *   tokenizer: { version: "v1", maxTokens: 8, vocabulary: Array.from({ length: 23 }, (_, i) => `w${i}`) },
 *   defaultGrid: [1, 0.5, 0],
 * });
 * await Deno.writeFile("shapes-meanflow.onnx", files.model);
 * await Deno.writeFile(files.externalDataFile, files.externalData);
 * ```
 */
export function emitOnnx(
  config: ModelConfig,
  parameters: ParameterTable,
  options: OnnxEmitOptions,
): OnnxModelFiles {
  const layout = checkParameters(config, parameters);
  const path = pathOf(config);
  const grid = validateGrid(options.defaultGrid, path);
  if (options.shift !== undefined) timeGrid(path, { steps: 1, shift: options.shift });
  checkTokenizer(config, options.tokenizer);
  if (!/^[\w.-]+$/.test(options.name)) {
    throw new RangeError(`model name ${JSON.stringify(options.name)} must be a plain file name`);
  }
  const externalDataFile = `${options.name}.bin`;

  const chunks: Uint8Array[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  const loraTargets: StoredLoraTarget[] = [];
  let offset = 0;
  for (const spec of layout.parameters) {
    const tensor = parameters.get(spec.name) as HostTensor;
    const isWeight = spec.linear !== undefined && spec.name === `${spec.linear.module}.weight`;
    const stored = isWeight ? transpose2d(tensor) : tensor;
    const bytes = float32Bytes(stored.data);
    initializers.push({
      name: spec.name,
      dims: [...stored.shape],
      dataType: onnx.TensorProto.DataType.FLOAT,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: "location", value: externalDataFile },
        { key: "offset", value: String(offset) },
        { key: "length", value: String(bytes.length) },
      ],
    });
    if (isWeight && spec.linear !== undefined) {
      const { module, inFeatures, outFeatures } = spec.linear;
      loraTargets.push({
        module,
        initializer: spec.name,
        inFeatures,
        outFeatures,
        offset,
        length: bytes.length,
      });
    }
    chunks.push(bytes);
    offset += bytes.length;
  }
  const externalData = new Uint8Array(offset);
  chunks.reduce((at, bytes) => (externalData.set(bytes, at), at + bytes.length), 0);

  const io = MODEL_IO[config.kind];
  const builder = new OnnxGraphBuilder();
  const output = flowMapNetwork(builder, config, {
    x: "x",
    t: "t",
    r: config.kind === "two-time" ? "r" : undefined,
    tokens: "tokens",
  });
  builder.rename(output, io.output);
  const image = [config.channels, config.imageSize, config.imageSize];
  const FLOAT = onnx.TensorProto.DataType.FLOAT, INT32 = onnx.TensorProto.DataType.INT32;
  const inputShapes: Record<string, [number, number[]]> = {
    x: [FLOAT, image],
    r: [FLOAT, []],
    t: [FLOAT, []],
    tokens: [INT32, [config.textLength]],
  };
  const metadata: Record<string, string> = {
    kind: config.kind,
    path: path.name,
    sigma_d: String(path.sigmaD),
    image_shape: JSON.stringify(image),
    tokenizer: JSON.stringify(options.tokenizer),
    default_steps: String(grid.length - 1),
    default_grid: JSON.stringify(grid),
    ...(options.shift === undefined ? {} : { shift: String(options.shift) }),
    lora_targets: JSON.stringify(loraTargets),
    external_data: externalDataFile,
    config: JSON.stringify(config),
  };
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "flowmap-grpo",
    docString: `${config.kind} flow map on ${path.name}: inputs ${
      io.inputs.join(", ")
    }; output ${io.output}`,
    graph: {
      name: options.name,
      node: builder.nodes,
      initializer: [...initializers, ...builder.constants],
      input: io.inputs.map((name) => valueInfo(name, ...inputShapes[name])),
      output: [valueInfo(io.output, FLOAT, image)],
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return {
    model: onnx.ModelProto.encode(model).finish(),
    externalData,
    externalDataFile,
    metadata,
  };
}

/**
 * Transposes a rank-2 host tensor: `[rows, cols]` → `[cols, rows]`.
 *
 * @example
 * ```ts
 * import { transpose2d } from "./onnx.ts";
 * transpose2d({ shape: [1, 2], data: Float32Array.of(1, 2) }).shape; // [2, 1]
 * ```
 */
export function transpose2d(tensor: HostTensor): HostTensor {
  const [rows, cols] = tensor.shape;
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[j * rows + i] = tensor.data[i * cols + j];
  }
  return { shape: [cols, rows], data: out };
}

function checkTokenizer(config: ModelConfig, tokenizer: TokenizerDescription): void {
  if (tokenizer.vocabulary.length !== config.vocabSize) {
    throw new RangeError(
      `tokenizer has ${tokenizer.vocabulary.length} words, config.vocabSize is ${config.vocabSize}`,
    );
  }
  if (tokenizer.maxTokens !== config.textLength) {
    throw new RangeError(
      `tokenizer encodes ${tokenizer.maxTokens} tokens, config.textLength is ${config.textLength}`,
    );
  }
}

function valueInfo(name: string, elemType: number, dims: readonly number[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: [{ dimParam: "batch" }, ...dims.map((dimValue) => ({ dimValue }))] },
      },
    },
  };
}
