/**
 * `deno task generate`: prompt to PNG/WebP with a flow-map model.
 *
 * @example
 * ```sh
 * npx -y deno@2.9.6 task generate --prompt "two red circles" --steps 2 --seed 7 --out out.png
 * ```
 *
 * @module
 */

import {
  type AdapterSpec,
  encodeImage,
  generate,
  generateSteered,
  loadModel,
  MAX_PARTICLES,
  NAMED_REWARDS,
  namedReward,
  STEERING_METHODS,
  type SteeringMethod,
} from "../mod.ts";
import { parseFlags, runCommand, UsageError } from "../cli/command.ts";
import { integer, number, readFlag } from "../cli/readers.ts";

const HELP = `Usage: deno task generate --prompt TEXT [options]

Generates images from a prompt with a few-step flow-map model and writes them
as PNG or WebP. Same prompt, seed and steps give byte-identical files.

  --prompt TEXT          what to draw, e.g. "two red circles" (required)
  --steps K              sampling steps (default: the model's default grid)
  --shift M              shift M ≥ 1 of the K-step rectified-flow grid
                         (default: the model's own, recorded in its file)
  --grid T0,...,0        explicit time grid instead of --steps, e.g. 1,0.5,0
  --seed S               seed of the first image; image i uses S + i (default 0)
  --n N                  number of images (default 1); with N > 1, --out out.png
                         writes out-0.png, out-1.png, ...
  --out FILE             output file (default out.png)
  --format png|webp      image format (default: from --out's extension, else png)
  --adapter FILE[:SCALE] merge a LoRA adapter (safetensors) at SCALE (default 1);
                         repeatable
  --model PATH|URL       model .onnx file, its .bin next to it
                         (default: the bundled shapes-meanflow model)
  --runtime node|web     ONNX Runtime package (default node; web = WebAssembly)
  --threads T            threads per evaluation (default: the runtime's)
  --steer REWARD         steer toward a named reward: composition (partial
                         credit) or composition:strict
  --particles P          with --steer: candidates (best-of-n) or posterior
                         samples per step (posterior), 1…64 (default 8)
  --method M             with --steer: best-of-n (default) or posterior
  --strength L           with --method posterior: lambda of exp(lambda·r)
  --help                 show this help

Exit codes: 0 success, 1 generation failed, 2 bad arguments.`;

interface Command {
  readonly prompt: string;
  readonly steps?: number;
  readonly shift?: number;
  readonly grid?: number[];
  readonly seed: number;
  readonly n: number;
  readonly outputs: string[];
  readonly format: "png" | "webp";
  readonly adapters: AdapterSpec[];
  readonly model?: string;
  readonly runtime: "node" | "web";
  readonly threads?: number;
  readonly steering?: {
    readonly reward: string;
    readonly method: SteeringMethod;
    readonly particles: number;
    readonly strength?: number;
  };
}

function parseCommand(args: string[]): Command | "help" {
  const values = parseFlags(args, {
    prompt: { type: "string" },
    steps: { type: "string" },
    shift: { type: "string" },
    grid: { type: "string" },
    seed: { type: "string" },
    n: { type: "string" },
    out: { type: "string" },
    format: { type: "string" },
    adapter: { type: "string", multiple: true },
    model: { type: "string" },
    runtime: { type: "string" },
    threads: { type: "string" },
    steer: { type: "string" },
    particles: { type: "string" },
    method: { type: "string" },
    strength: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return "help";
  if (values.prompt === undefined) throw new UsageError("--prompt is required (see --help)");
  const out = values.out ?? "out.png";
  const extension = out.match(/\.(png|webp)$/i)?.[1].toLowerCase();
  const format = values.format ?? extension ?? "png";
  if (format !== "png" && format !== "webp") {
    throw new UsageError(`--format must be png or webp, got ${format}`);
  }
  const n = readFlag(integer({ min: 1 }), values.n, "--n") ?? 1;
  const runtime = values.runtime ?? "node";
  if (runtime !== "node" && runtime !== "web") {
    throw new UsageError(`--runtime must be node or web, got ${runtime}`);
  }
  return {
    prompt: values.prompt,
    steps: readFlag(integer({ min: 1 }), values.steps, "--steps"),
    shift: readFlag(number({ min: 1 }), values.shift, "--shift"),
    grid: values.grid === undefined ? undefined : values.grid.split(",").map((t) => {
      const value = t.trim() === "" ? NaN : Number(t);
      if (!Number.isFinite(value)) throw new UsageError(`--grid lists numbers, got ${values.grid}`);
      return value;
    }),
    seed: readFlag(integer({ min: 0 }), values.seed, "--seed") ?? 0,
    n,
    outputs: n === 1
      ? [out]
      : Array.from({ length: n }, (_, i) => out.replace(/(\.[^./\\]*)?$/, `-${i}$1`)),
    format,
    adapters: (values.adapter ?? []).map(adapterSpec),
    model: values.model,
    runtime,
    threads: readFlag(integer({ min: 1 }), values.threads, "--threads"),
    steering: steeringOf(values),
  };
}

function steeringOf(values: {
  steer?: string;
  particles?: string;
  method?: string;
  strength?: string;
}): Command["steering"] {
  const { steer, method = "best-of-n", strength } = values;
  if (steer === undefined) {
    if (values.particles ?? values.method ?? strength) {
      throw new UsageError("--particles, --method and --strength need --steer REWARD");
    }
    return undefined;
  }
  if (!Object.hasOwn(NAMED_REWARDS, steer)) {
    throw new UsageError(
      `--steer must be one of ${Object.keys(NAMED_REWARDS).join(", ")}, got ${steer}`,
    );
  }
  if (!(STEERING_METHODS as readonly string[]).includes(method)) {
    throw new UsageError(`--method must be best-of-n or posterior, got ${method}`);
  }
  const particles =
    readFlag(integer({ min: 1, max: MAX_PARTICLES }), values.particles, "--particles") ?? 8;
  if (strength !== undefined && (method !== "posterior" || !Number.isFinite(Number(strength)))) {
    throw new UsageError(`--strength takes a finite number, with --method posterior`);
  }
  return {
    reward: steer,
    method: method as SteeringMethod,
    particles,
    strength: strength === undefined ? undefined : Number(strength),
  };
}

function adapterSpec(text: string): AdapterSpec {
  const scaled = text.match(/^(.+):([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)$/i);
  return scaled ? { source: scaled[1], scale: Number(scaled[2]) } : { source: text };
}

async function run(command: Command): Promise<void> {
  const options = { runtime: command.runtime, threads: command.threads };
  await using base = await loadModel(command.model, options);
  await using adapted = command.adapters.length > 0
    ? await base.withAdapters(command.adapters)
    : undefined;
  const model = adapted ?? base;
  const request = {
    prompt: command.prompt,
    n: command.n,
    steps: command.steps,
    shift: command.shift,
    grid: command.grid,
    seed: command.seed,
  };
  const { steering } = command;
  let images;
  if (steering) {
    const result = await generateSteered(model, {
      ...request,
      steering: { ...steering, reward: namedReward(steering.reward) },
    });
    images = result.images;
    console.log(
      `steered (${steering.method}, ${steering.particles} particles): ` +
        `${result.nfe} NFE and ${result.rewardCalls} reward calls per image`,
    );
  } else {
    images = await generate(model, request);
  }
  for (const [i, image] of images.entries()) {
    await Deno.writeFile(command.outputs[i], await encodeImage(image, command.format));
    console.log(
      `wrote ${command.outputs[i]} (${image.width}×${image.height}, seed ${command.seed + i})`,
    );
  }
}

if (import.meta.main) {
  Deno.exit(await runCommand("generate", Deno.args, { help: HELP, parse: parseCommand, run }));
}
