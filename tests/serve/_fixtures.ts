/**
 * Fixtures of the service suites: the SDK suites' tiny two-time model, an
 * app over it with a temporary adapter directory and an admin token, valid
 * and broken adapters for it, and a deliberately slow model for overload
 * and deadline tests.
 *
 * @module
 */

import {
  encodeLoraAdapter,
  loadModel,
  type LoraModule,
  type Model,
  type TwoTimeFlowMap,
} from "../../mod.ts";
import { AdapterStore } from "../../serve/adapters.ts";
import {
  createApp,
  type PlaygroundOptions,
  type ServeApp,
  type ServeLimits,
} from "../../serve/app.ts";
import { NormalStream } from "../../src/rng.ts";
import { tinyModels } from "../_fixtures.ts";

/** The admin token of test apps. */
export const TOKEN = "test-admin-token-0123456789";

/** The model id of test apps. */
export const MODEL_ID = "tiny-meanflow";

/** Path of the tiny two-time model's `.onnx` file. */
export async function tinyModelPath(): Promise<string> {
  return (await tinyModels())["two-time"].path;
}

/** Loads the tiny two-time model (one thread, so tests stay predictable). */
export async function loadTinyModel(): Promise<Model> {
  return await loadModel(await tinyModelPath(), { threads: 1 });
}

/** A test app with its model, store and temporary adapter directory. */
export interface TestService extends AsyncDisposable {
  readonly service: ServeApp;
  readonly model: Model;
  readonly adapters: AdapterStore;
  /** `service.app.request`. */
  request(path: string, init?: RequestInit): Promise<Response>;
}

/** Options of {@linkcode testService}. */
export interface TestServiceOptions {
  /** Wraps the loaded model (e.g. {@linkcode slowed}). */
  readonly wrap?: (model: Model) => Model;
  /** Limit overrides. */
  readonly limits?: Partial<ServeLimits>;
  /** Admin token (default {@linkcode TOKEN}; `null`: writes disabled). */
  readonly adminToken?: string | null;
  /** Collects log lines (default: dropped). */
  readonly log?: (line: string) => void;
  /** The playground's options (default: the page without the browser runtime's model). */
  readonly playground?: PlaygroundOptions;
}

/** Creates an app over the tiny model with an empty temporary adapter directory. */
export async function testService(options: TestServiceOptions = {}): Promise<TestService> {
  const base = await loadTinyModel();
  const model = options.wrap?.(base) ?? base;
  const dir = await Deno.makeTempDir({ prefix: "serve-adapters-" });
  const adapters = await AdapterStore.open(dir, model.info.loraTargets);
  const service = createApp({
    model,
    modelId: MODEL_ID,
    adapters,
    adminToken: options.adminToken === null ? undefined : options.adminToken ?? TOKEN,
    limits: options.limits,
    log: options.log ?? (() => {}),
    playground: options.playground,
  });
  return {
    service,
    model,
    adapters,
    request: (path, init) => Promise.resolve(service.app.request(path, init)),
    async [Symbol.asyncDispose]() {
      await service.close();
      await base.dispose();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A rank-2 adapter on the model's first `count` LoRA targets, seeded. */
export function adapterBytes(model: Model, seed: number, count = 2): Uint8Array {
  const modules: LoraModule[] = model.info.loraTargets.slice(0, count).map((target, i) => {
    const [inFeatures, outFeatures] = target.shape;
    const rank = 2;
    const values = (n: number, stream: number) =>
      new NormalStream(seed, 2 * i + stream).fill(new Float32Array(n)).map((v) => 0.3 * v);
    return {
      module: target.module,
      rank,
      inFeatures,
      outFeatures,
      alpha: rank,
      a: values(rank * inFeatures, 0),
      b: values(outFeatures * rank, 1),
    };
  });
  return encodeLoraAdapter(modules, { trainer: "test" });
}

/** A well-formed adapter whose first module is one input feature too wide for the model. */
export function wrongShapeAdapterBytes(model: Model): Uint8Array {
  const target = model.info.loraTargets[0];
  const [inFeatures, outFeatures] = target.shape;
  return encodeLoraAdapter([{
    module: target.module,
    rank: 1,
    inFeatures: inFeatures + 1,
    outFeatures,
    alpha: 1,
    a: new Float32Array(inFeatures + 1).fill(0.1),
    b: new Float32Array(outFeatures).fill(0.1),
  }]);
}

/** The model with every flow-map evaluation delayed by `ms` (for overload and deadline tests). */
export function slowed(model: Model, ms: number): Model {
  const map = model.flowMap as TwoTimeFlowMap<Int32Array>;
  const release = () => model.dispose();
  return {
    info: model.info,
    runtime: model.runtime,
    flowMap: {
      kind: "two-time",
      path: map.path,
      average: async (x, r, t, cond) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return await map.average(x, r, t, cond);
      },
    },
    encodePrompts: (prompts) => model.encodePrompts(prompts),
    withAdapters: (adapters) => model.withAdapters(adapters),
    dispose: release,
    [Symbol.asyncDispose]: release,
  };
}

/** A JSON POST request init. */
export function postJson(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

/** A PUT of adapter bytes with the admin token. */
export function putAdapter(bytes: Uint8Array, token: string | null = TOKEN): RequestInit {
  const headers: Record<string, string> = { "Content-Type": "application/octet-stream" };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  return { method: "PUT", headers, body: bytes as Uint8Array<ArrayBuffer> };
}
