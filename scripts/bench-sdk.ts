/**
 * `deno task bench-sdk`: the SDK's overhead over raw ONNX Runtime. For batch
 * 1 and 16 and K = 1, 2, 4 steps it times `generate` (tokenise, seeded noise,
 * K evaluations, sampler updates, 8-bit images) against K bare
 * `session.run` calls on the very session `generate` uses (same graph, same
 * thread count), and reports the time of the seeded noise alone, images/s,
 * achieved GFLOP/s against a measured sgemm peak (one large ONNX MatMul),
 * adapter merge time and peak memory.
 *
 * Uses the bundled model, or the default-size MeanFlow network with random
 * weights when the bundled model is missing (the cost is the same).
 *
 * @example
 * ```sh
 * npx -y deno@2.9.6 task bench-sdk --threads 1 --reps 101
 * ```
 *
 * @module
 */

import onnxProto from "onnx-proto";
import { generate, type Model, type ModelBytes, readModelInfo } from "../mod.ts";
import type { LoraAdapter, LoraModule } from "../src/lora/adapter.ts";
import { mergeLoraAdapters } from "../src/lora/merge.ts";
import { openModel } from "../src/onnx/model.ts";
import { openRuntime, type Ort, type OrtSession, type Runtime } from "../src/onnx/runtime.ts";
import { readModelFiles } from "../src/onnx/source.ts";
import { SamplingNoise } from "../src/noise.ts";
import { NormalStream } from "../src/rng.ts";
import { meanFlowConfig, type ModelConfig } from "../trainer/model/config.ts";
import { forwardCost } from "../trainer/model/cost.ts";
import { emitOnnx } from "../trainer/model/onnx.ts";
import { initParameters } from "../trainer/model/parameters.ts";
import { shapesTokenizer } from "../src/text.ts";
import { parseFlags, runCommand } from "../cli/command.ts";
import { integer, oneOf, readFlag } from "../cli/readers.ts";

const HELP = `Usage: deno task bench-sdk [--threads T] [--reps R] [--runtime node|web]

  --threads T   threads of every session (default 1)
  --reps R      timed repetitions per cell, interleaved, median reported (default 101)
  --runtime     node (default) or web`;

const BUNDLED = new URL("../src/models/shapes-meanflow/", import.meta.url);
const PROMPT = "two red circles";
const { onnx } = onnxProto;

interface Options {
  readonly threads: number;
  readonly reps: number;
  readonly runtimeName: "node" | "web";
}

function parseCommand(args: string[]): Options | "help" {
  const values = parseFlags(args, {
    threads: { type: "string", default: "1" },
    reps: { type: "string", default: "101" },
    runtime: { type: "string", default: "node" },
    help: { type: "boolean" },
  });
  if (values.help) return "help";
  const runtime = readFlag(oneOf(["node", "web"] as const), values.runtime, "--runtime");
  return {
    threads: readFlag(integer({ min: 1 }), values.threads, "--threads"),
    reps: readFlag(integer({ min: 1 }), values.reps, "--reps"),
    runtimeName: runtime,
  };
}

async function run({ threads, reps, runtimeName }: Options): Promise<void> {
  const peakRss = trackPeakRss();

  const { bytes, config, source } = await benchModel();
  const runtime = await openRuntime(runtimeName, threads);
  // Raw runs go to the very session the model opened: two sessions of one
  // graph differ by up to ~15 % here (where their weights land in memory).
  const { model, session: raw } = await modelWithItsSession(runtime, bytes);
  const peak = await sgemmPeak(runtime);
  console.log(`model: ${source}`);
  console.log(
    `runtime: onnxruntime-${runtimeName}, ${threads} thread(s); ${reps} interleaved reps, ` +
      `medians; sgemm peak ${peak.toFixed(1)} GFLOP/s (1024³ ONNX MatMul)\n`,
  );
  console.log(
    "| batch | K | raw session.run × K (ms) | generate (ms) | overhead | of which seeded noise (ms) | images/s | GFLOP/s | % of sgemm peak |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const batch of [1, 16]) {
    const flops = forwardCost(config, batch).flops;
    for (const steps of [1, 2, 4]) {
      const feeds = rawFeeds(runtime.ort, model, batch);
      const runRaw = async () => {
        for (let k = 0; k < steps; k++) await raw.run(feeds);
      };
      const runGenerate = () => generate(model, { prompt: PROMPT, n: batch, steps, seed: 1 });
      const seeds = Array.from({ length: batch }, (_, i) => 1 + i);
      const noise = new Float32Array(batch * sampleSize(model));
      const runNoise = () => Promise.resolve(new SamplingNoise(seeds).fill(noise));
      const [rawMs, generateMs, noiseMs] = await interleaved([runRaw, runGenerate, runNoise], reps);
      const gflops = (flops * steps) / (generateMs * 1e6);
      console.log(
        `| ${batch} | ${steps} | ${rawMs.toFixed(2)} | ${generateMs.toFixed(2)} | ` +
          `${(generateMs / rawMs).toFixed(3)}× | ${noiseMs.toFixed(2)} | ` +
          `${(batch / (generateMs / 1e3)).toFixed(1)} | ` +
          `${gflops.toFixed(1)} | ${((100 * gflops) / peak).toFixed(0)}% |`,
      );
    }
  }
  const merge = await adapterMerge(model, bytes);
  console.log(
    `\nadapter merge (rank 8 on all ${model.info.loraTargets.length} linear layers): ` +
      `mergeLoraAdapters ${merge.mergeMs.toFixed(1)} ms, withAdapters (merge + new session) ` +
      `${merge.withAdaptersMs.toFixed(1)} ms`,
  );
  console.log(`peak memory (RSS): ${(peakRss() / 2 ** 20).toFixed(0)} MiB`);
  await model.dispose();
}

async function modelWithItsSession(
  runtime: Runtime,
  bytes: ModelBytes,
): Promise<{ model: Model; session: OrtSession }> {
  let session: OrtSession | undefined;
  const recording: Runtime = {
    ...runtime,
    createSession: async (model, externalData) =>
      session = await runtime.createSession(model, externalData),
  };
  const files = await readModelFiles(bytes);
  const model = await openModel(recording, files, files.weights);
  return { model, session: session! };
}

async function benchModel(): Promise<{ bytes: ModelBytes; config: ModelConfig; source: string }> {
  try {
    const model = await Deno.readFile(new URL("model.onnx", BUNDLED));
    const weights = await Deno.readFile(new URL("model.bin", BUNDLED));
    const config = JSON.parse(readModelInfo(model).metadata.config);
    return { bytes: { model, weights }, config, source: "bundled shapes-meanflow" };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const config = meanFlowConfig;
  const files = emitOnnx(config, initParameters(config, 0), {
    name: "model",
    tokenizer: JSON.parse(shapesTokenizer.toMetadata()),
    defaultGrid: [1, 0.5, 0],
  });
  return {
    bytes: { model: files.model, weights: files.externalData },
    config,
    source:
      "bundled model missing — default-size MeanFlow config (2.3M parameters), random weights",
  };
}

function sampleSize(model: Model): number {
  return model.info.imageShape.reduce((a, b) => a * b, 1);
}

function rawFeeds(ort: Ort, model: Model, batch: number) {
  const x = new NormalStream(0).fill(new Float32Array(batch * sampleSize(model)));
  const tokens = model.encodePrompts(Array(batch).fill(PROMPT));
  return {
    x: new ort.Tensor("float32", x, [batch, ...model.info.imageShape]),
    t: new ort.Tensor("float32", new Float32Array(batch).fill(1), [batch]),
    r: new ort.Tensor("float32", new Float32Array(batch), [batch]),
    tokens: new ort.Tensor("int32", tokens, [batch, model.info.tokenizer.maxTokens]),
  };
}

/** Runs the tasks round-robin `reps` times after ten warm-ups each (so WebAssembly tiers up); median ms of each. */
async function interleaved(tasks: (() => Promise<unknown>)[], reps: number): Promise<number[]> {
  for (let warmUp = 0; warmUp < 10; warmUp++) for (const task of tasks) await task();
  const times = tasks.map(() => [] as number[]);
  for (let rep = 0; rep < reps; rep++) {
    for (const [i, task] of tasks.entries()) {
      const start = performance.now();
      await task();
      times[i].push(performance.now() - start);
    }
  }
  return times.map((list) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)]);
}

/** GFLOP/s of one 1024×1024×1024 MatMul in the runtime (best of 5). */
async function sgemmPeak(runtime: Runtime): Promise<number> {
  const n = 1024;
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const input = (name: string) => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimValue: n }, { dimValue: n }] } } },
  });
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "sgemm",
      node: [{ opType: "MatMul", input: ["a", "b"], output: ["c"] }],
      input: [input("a"), input("b")],
      output: [input("c")],
    },
  })).finish();
  const session = await runtime.createSession(bytes);
  const data = new NormalStream(1).fill(new Float32Array(n * n));
  const feeds = {
    a: new runtime.ort.Tensor("float32", data, [n, n]),
    b: new runtime.ort.Tensor("float32", data, [n, n]),
  };
  let best = Infinity;
  for (let i = 0; i < 6; i++) {
    const start = performance.now();
    await session.run(feeds);
    if (i > 0) best = Math.min(best, performance.now() - start);
  }
  await session.release();
  return (2 * n ** 3) / (best * 1e6);
}

async function adapterMerge(model: Model, bytes: ModelBytes) {
  const rank = 8;
  const modules = new Map<string, LoraModule>(model.info.loraTargets.map((target, i) => {
    const [inFeatures, outFeatures] = target.shape;
    const stream = new NormalStream(7, i);
    return [target.module, {
      module: target.module,
      rank,
      inFeatures,
      outFeatures,
      alpha: rank,
      a: stream.fill(new Float32Array(rank * inFeatures)).map((v) => 0.01 * v),
      b: stream.fill(new Float32Array(outFeatures * rank)).map((v) => 0.01 * v),
    }];
  }));
  const adapter: LoraAdapter = { modules, metadata: {} };
  let start = performance.now();
  mergeLoraAdapters(bytes.weights, model.info.loraTargets, [{ adapter, scale: 1 }]);
  const mergeMs = performance.now() - start;
  start = performance.now();
  const adapted = await model.withAdapters([{ source: adapter }]);
  const withAdaptersMs = performance.now() - start;
  await adapted.dispose();
  return { mergeMs, withAdaptersMs };
}

function trackPeakRss(): () => number {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, Deno.memoryUsage().rss)), 20);
  return () => {
    clearInterval(timer);
    return Math.max(peak, Deno.memoryUsage().rss);
  };
}

if (import.meta.main) {
  Deno.exit(await runCommand("bench-sdk", Deno.args, { help: HELP, parse: parseCommand, run }));
}
