/**
 * `deno task load`: the service under load on loopback. Runs closed-loop
 * clients at concurrency 1, 8 and 32 for `--seconds` each against
 * `POST /v1/generate` (one PNG per request, seeds counting up), reports
 * requests/s, p50/p99 latency, errors and the server's RSS growth (from its
 * `/metrics`; growth is counted after a warm-up at concurrency 32, because
 * V8 grows its heap reservation in steps over the first minute or two of
 * load — about 145 → 255 MiB here — while the live heap stays flat; that is
 * not a leak, and a leak would keep growing after it), then the SDK's own in-process throughput for the same
 * requests (`generate` + `encodeImage`) at concurrency 1 and 8, and the
 * server/SDK ratio at concurrency 8.
 *
 * Starts the service in this process (bundled model, `--model PATH`, or the
 * default-size MeanFlow config with random weights when neither exists), or
 * targets `--url http://127.0.0.1:PORT`. Refuses non-loopback targets.
 *
 * @example
 * ```sh
 * npx -y deno@2.9.6 task load --seconds 20
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { encodeImage, generate, loadModel, type Model, type ModelSource } from "../mod.ts";
import { AdapterStore } from "../serve/adapters.ts";
import { createApp, DEFAULT_SERVE_LIMITS } from "../serve/app.ts";
import { serveApp } from "../serve/server.ts";
import { meanFlowConfig } from "../trainer/model/config.ts";
import { emitOnnx } from "../trainer/model/onnx.ts";
import { initParameters } from "../trainer/model/parameters.ts";
import { shapesTokenizer } from "../src/text.ts";

const HELP = `Usage: deno task load [options]

  --url URL              target a running server (loopback only: 127.0.0.1, ::1, localhost)
                         (default: start the service in this process)
  --model PATH           model .onnx for the in-process server and the SDK baseline
                         (default: bundled shapes-meanflow, else default-size random weights)
  --seconds S            duration of each phase, 1..600 (default 60)
  --warm-up S            server warm-up at concurrency 32 before measuring, 0..600
                         (default 90; the SDK's warm-up is at most 10 s)
  --max-requests N       cap on requests per phase (default 1000000)
  --threads T            ONNX Runtime threads (default: one per core)
  --max-concurrency C    in-process server's generation slots (default ${DEFAULT_SERVE_LIMITS.concurrency})
  --prompt TEXT          the prompt of every request (default "two red circles")
  --help                 show this help`;

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const BUNDLED = new URL("../src/models/shapes-meanflow/model.onnx", import.meta.url);
const CONCURRENCIES = [1, 8, 32];
const SDK_CONCURRENCIES = [1, 8];

interface Options {
  readonly url: URL | undefined;
  readonly model: string | undefined;
  readonly seconds: number;
  readonly warmUpSeconds: number;
  readonly maxRequests: number;
  readonly threads: number | undefined;
  readonly concurrency: number;
  readonly prompt: string;
}

interface PhaseResult {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
  readonly firstError: string | undefined;
}

class UsageError extends Error {}

function parseOptions(args: string[]): Options | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: "string" },
        model: { type: "string" },
        seconds: { type: "string" },
        "warm-up": { type: "string" },
        "max-requests": { type: "string" },
        threads: { type: "string" },
        "max-concurrency": { type: "string" },
        prompt: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0]);
  }
  if (values.help) return "help";
  return {
    url: values.url === undefined ? undefined : loopbackUrl(values.url),
    model: values.model,
    seconds: integer("--seconds", values.seconds, 1, 600) ?? 60,
    warmUpSeconds: integer("--warm-up", values["warm-up"], 0, 600) ?? 90,
    maxRequests: integer("--max-requests", values["max-requests"], 1, 1e9) ?? 1_000_000,
    threads: integer("--threads", values.threads, 1, 256),
    concurrency: integer("--max-concurrency", values["max-concurrency"], 1, 1024) ??
      DEFAULT_SERVE_LIMITS.concurrency,
    prompt: values.prompt ?? "two red circles",
  };
}

function loopbackUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--url must be a URL such as http://127.0.0.1:8000, got ${text}`);
  }
  if (url.protocol !== "http:" || !LOOPBACK.has(url.hostname)) {
    throw new UsageError(
      `--url must be http:// on loopback (127.0.0.1, [::1] or localhost); refusing ${url.origin}`,
    );
  }
  return url;
}

function integer(flag: string, text: string | undefined, min: number, max: number) {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(`${flag} must be an integer in ${min}..${max}, got ${text}`);
  }
  return value;
}

/** The model to load and a description: `--model`, the bundled model, or random weights. */
async function modelSource(
  path: string | undefined,
): Promise<{ source: ModelSource; description: string }> {
  if (path !== undefined) return { source: path, description: path };
  try {
    await Deno.stat(BUNDLED);
    return { source: BUNDLED, description: "bundled shapes-meanflow" };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const files = emitOnnx(meanFlowConfig, initParameters(meanFlowConfig, 0), {
    name: "model",
    tokenizer: JSON.parse(shapesTokenizer.toMetadata()),
    defaultGrid: [1, 0.5, 0],
  });
  return {
    source: { model: files.model, weights: files.externalData },
    description: "bundled model missing — default-size MeanFlow config, random weights",
  };
}

/** Runs `concurrency` closed-loop workers of `task` for `seconds` (or `maxRequests` in all). */
async function phase(
  concurrency: number,
  options: Options,
  task: (index: number) => Promise<void>,
): Promise<PhaseResult> {
  const latenciesMs: number[] = [];
  let next = 0, errors = 0, firstError: string | undefined;
  const started = performance.now();
  const end = started + options.seconds * 1000;
  const worker = async () => {
    while (performance.now() < end && next < options.maxRequests) {
      const index = next++;
      const begun = performance.now();
      try {
        await task(index);
        latenciesMs.push(performance.now() - begun);
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    requests: next,
    errors,
    seconds: (performance.now() - started) / 1000,
    latenciesMs,
    firstError,
  };
}

function requestTask(url: URL, prompt: string) {
  const endpoint = new URL("/v1/generate", url);
  return async (index: number) => {
    const response = await fetch(endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "image/png" },
      body: JSON.stringify({ prompt, seed: index }),
    });
    const body = await response.arrayBuffer();
    if (response.status !== 200 || response.headers.get("Content-Type") !== "image/png") {
      throw new Error(`HTTP ${response.status}: ${new TextDecoder().decode(body).slice(0, 200)}`);
    }
  };
}

function sdkTask(model: Model, prompt: string) {
  return async (index: number) => {
    const [image] = await generate(model, { prompt, seed: index });
    await encodeImage(image, "png");
  };
}

async function serverRss(url: URL): Promise<number> {
  const text = await (await fetch(new URL("/metrics", url))).text();
  const match = text.match(/^process_resident_memory_bytes (\S+)$/m);
  if (match === null) throw new Error(`${url.origin}/metrics has no process_resident_memory_bytes`);
  return Number(match[1]);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function row(target: string, concurrency: number, result: PhaseResult, rss?: [number, number]) {
  const sorted = [...result.latenciesMs].sort((a, b) => a - b);
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  const memory = rss === undefined
    ? "| – | – | – |"
    : `| ${mib(rss[0])} | ${mib(rss[1])} | ${(100 * (rss[1] / rss[0] - 1)).toFixed(1)}% |`;
  return `| ${target} | ${concurrency} | ${result.requests} | ${
    (result.latenciesMs.length / result.seconds).toFixed(1)
  } | ` +
    `${percentile(sorted, 50).toFixed(1)} | ${
      percentile(sorted, 99).toFixed(1)
    } | ${result.errors} ${memory}`;
}

async function run(options: Options): Promise<boolean> {
  const { source, description } = await modelSource(options.model);
  const model = await loadModel(source, { threads: options.threads });
  let url = options.url, stopServer: (() => Promise<void>) | undefined;
  if (url === undefined) {
    const dir = await Deno.makeTempDir({ prefix: "load-adapters-" });
    const service = createApp({
      model,
      modelId: "load",
      adapters: await AdapterStore.open(dir, model.info.loraTargets),
      limits: { concurrency: options.concurrency },
    });
    const stop = new AbortController();
    const server = serveApp(service, { hostname: "127.0.0.1", port: 0, signal: stop.signal });
    url = server.url;
    stopServer = async () => {
      stop.abort();
      await server.finished;
      await Deno.remove(dir, { recursive: true });
    };
  }
  console.log(`model: ${description}`);
  console.log(
    `target: ${
      options.url === undefined
        ? `in-process server ${url.origin} (${options.concurrency} generation slots)`
        : url.origin
    }; ` +
      `POST /v1/generate {"prompt": "${options.prompt}", seed}; ${options.seconds} s per phase; ` +
      `${navigator.hardwareConcurrency} cores\n`,
  );
  console.log(
    "| target | concurrency | requests | req/s | p50 ms | p99 ms | errors | RSS before MiB | RSS after MiB | growth |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  const request = requestTask(url, options.prompt);
  const rssIdle = await serverRss(url);
  const warmUp = { ...options, seconds: options.warmUpSeconds };
  if (warmUp.seconds > 0) await phase(Math.max(...CONCURRENCIES), warmUp, request);
  const rssStart = await serverRss(url);
  const served = new Map<number, PhaseResult>();
  for (const concurrency of CONCURRENCIES) {
    const before = await serverRss(url);
    const result = await phase(concurrency, options, request);
    served.set(concurrency, result);
    console.log(row("server", concurrency, result, [before, await serverRss(url)]));
    if (result.firstError) console.log(`  first error: ${result.firstError}`);
  }
  const rssEnd = await serverRss(url);
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  console.log(
    `server RSS: ${mib(rssIdle)} idle → ${mib(rssStart)} after a ${options.warmUpSeconds} s ` +
      `warm-up at concurrency 32 → ${mib(rssEnd)} after the three phases`,
  );
  await stopServer?.();

  const direct = sdkTask(model, options.prompt);
  const sdkWarmUp = { ...options, seconds: Math.min(10, options.warmUpSeconds) };
  if (sdkWarmUp.seconds > 0) await phase(Math.max(...SDK_CONCURRENCIES), sdkWarmUp, direct);
  const sdk = new Map<number, PhaseResult>();
  for (const concurrency of SDK_CONCURRENCIES) {
    const result = await phase(concurrency, options, direct);
    sdk.set(concurrency, result);
    console.log(row("SDK in-process", concurrency, result));
  }
  await model.dispose();

  const rate = (result: PhaseResult) => result.latenciesMs.length / result.seconds;
  const ratio = rate(served.get(8)!) / rate(sdk.get(8)!);
  const growth = 100 * (rssEnd / rssStart - 1);
  const errors32 = served.get(32)!.errors;
  const checks: [string, boolean][] = [
    [`zero errors at concurrency 32 (${errors32})`, errors32 === 0],
    [`server RSS growth over the three phases under 10% (${growth.toFixed(1)}%)`, growth < 10],
    [
      `throughput at concurrency 8 ≥ 0.9× the SDK's in-process (${ratio.toFixed(3)}×)`,
      ratio >= 0.9,
    ],
  ];
  console.log("");
  for (const [text, ok] of checks) console.log(`${ok ? "PASS" : "FAIL"} ${text}`);
  return checks.every(([, ok]) => ok);
}

async function main(args: string[]): Promise<number> {
  let options;
  try {
    options = parseOptions(args);
  } catch (error) {
    console.error(`load: ${(error as Error).message}`);
    return 2;
  }
  if (options === "help") {
    console.log(HELP);
    return 0;
  }
  return (await run(options)) ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
