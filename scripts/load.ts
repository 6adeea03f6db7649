/**
 * `deno task load`: the service under load on loopback. Closed-loop clients
 * at concurrency 1, 8 and 32 for `--seconds` each against `POST
 * /v1/generate` (one PNG per request, seeds counting up) report requests/s,
 * p50/p99 latency and errors. At concurrency 1 and 8 the SDK's own
 * in-process throughput for the same requests (`generate` + `encodeImage`)
 * is measured in slices alternating with the server's, so drifting
 * background load hits both alike; the done-when ratio is server/SDK at 8.
 *
 * Memory is the server's RSS from its `/metrics`, and growth is counted
 * after a warm-up at concurrency 32: V8 grows its heap reservation in steps
 * over the first minute or two of load (about 145 → 255 MiB here) while the
 * live heap stays flat. That is not a leak; a leak keeps growing after it.
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

import { ExpectedError, parseFlags, runCommand, UsageError } from "../cli/command.ts";
import { integer, readFlag } from "../cli/readers.ts";
import { exists } from "../cli/files.ts";
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
/** Alternating slices of each compared phase. */
const SLICES = 6;

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

function parseOptions(args: string[]): Options | "help" {
  const values = parseFlags(args, {
    url: { type: "string" },
    model: { type: "string" },
    seconds: { type: "string" },
    "warm-up": { type: "string" },
    "max-requests": { type: "string" },
    threads: { type: "string" },
    "max-concurrency": { type: "string" },
    prompt: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return "help";
  return {
    url: values.url === undefined ? undefined : loopbackUrl(values.url),
    model: values.model,
    seconds: readFlag(integer({ min: 1, max: 600 }), values.seconds, "--seconds") ?? 60,
    warmUpSeconds: readFlag(integer({ min: 0, max: 600 }), values["warm-up"], "--warm-up") ?? 90,
    maxRequests:
      readFlag(integer({ min: 1, max: 1e9 }), values["max-requests"], "--max-requests") ??
        1_000_000,
    threads: readFlag(integer({ min: 1, max: 256 }), values.threads, "--threads"),
    concurrency:
      readFlag(integer({ min: 1, max: 1024 }), values["max-concurrency"], "--max-concurrency") ??
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

/** The model to load and a description: `--model`, the bundled model, or random weights. */
async function modelSource(
  path: string | undefined,
): Promise<{ source: ModelSource; description: string }> {
  if (path !== undefined) return { source: path, description: path };
  if (await exists(BUNDLED)) {
    return { source: BUNDLED, description: "bundled shapes-meanflow" };
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

/** Runs `concurrency` closed-loop workers of `task` for `seconds` or `maxRequests` in all. */
async function phase(
  concurrency: number,
  seconds: number,
  maxRequests: number,
  task: (index: number) => Promise<void>,
): Promise<PhaseResult> {
  const latenciesMs: number[] = [];
  let next = 0, errors = 0, firstError: string | undefined;
  const started = performance.now();
  const end = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end && next < maxRequests) {
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

/**
 * Measures each task at `concurrency` in alternating slices (each gets
 * `options.seconds` in all), so drifting background load on a shared
 * machine hits every task alike.
 */
async function interleaved(
  concurrency: number,
  options: Options,
  tasks: readonly ((index: number) => Promise<void>)[],
): Promise<PhaseResult[]> {
  const totals: PhaseResult[] = tasks.map(() => ({
    requests: 0,
    errors: 0,
    seconds: 0,
    latenciesMs: [],
    firstError: undefined,
  }));
  const slices = tasks.length > 1 ? SLICES : 1;
  const cap = Math.ceil(options.maxRequests / slices);
  for (let slice = 0; slice < slices; slice++) {
    for (const [i, task] of tasks.entries()) {
      const part = await phase(concurrency, options.seconds / slices, cap, task);
      const total = totals[i];
      totals[i] = {
        requests: total.requests + part.requests,
        errors: total.errors + part.errors,
        seconds: total.seconds + part.seconds,
        latenciesMs: total.latenciesMs.concat(part.latenciesMs),
        firstError: total.firstError ?? part.firstError,
      };
    }
  }
  return totals;
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

function rate(result: PhaseResult): number {
  return result.latenciesMs.length / result.seconds;
}

function row(target: string, concurrency: number, result: PhaseResult, rssAfter?: number) {
  const sorted = [...result.latenciesMs].sort((a, b) => a - b);
  const cells = [
    target,
    concurrency,
    result.requests,
    rate(result).toFixed(1),
    percentile(sorted, 50).toFixed(1),
    percentile(sorted, 99).toFixed(1),
    result.errors,
    rssAfter === undefined ? "–" : (rssAfter / 2 ** 20).toFixed(0),
  ];
  return `| ${cells.join(" | ")} |`;
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
  const target = options.url === undefined
    ? `in-process server ${url.origin} (${options.concurrency} generation slots)`
    : url.origin;
  console.log(`model: ${description}`);
  console.log(
    `target: ${target}; POST /v1/generate {"prompt": "${options.prompt}", seed}; ` +
      `${options.seconds} s per phase, server and SDK alternating in ${SLICES} slices; ` +
      `${navigator.hardwareConcurrency} cores\n`,
  );
  const request = requestTask(url, options.prompt);
  const direct = sdkTask(model, options.prompt);
  const rssIdle = await serverRss(url);
  const warmUpSeconds = options.warmUpSeconds;
  await phase(32, warmUpSeconds, options.maxRequests, request);
  await phase(8, Math.min(10, warmUpSeconds), options.maxRequests, direct);
  const rssStart = await serverRss(url);

  console.log(
    "| target | concurrency | requests | req/s | p50 ms | p99 ms | errors | server RSS after (MiB) |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  const served = new Map<number, PhaseResult>(), sdk = new Map<number, PhaseResult>();
  for (const concurrency of CONCURRENCIES) {
    const tasks = SDK_CONCURRENCIES.includes(concurrency) ? [request, direct] : [request];
    const [server, own] = await interleaved(concurrency, options, tasks);
    served.set(concurrency, server);
    console.log(row("server", concurrency, server, await serverRss(url)));
    if (server.firstError) console.log(`  first error: ${server.firstError}`);
    if (own === undefined) continue;
    sdk.set(concurrency, own);
    console.log(row("SDK in-process", concurrency, own));
  }
  const rssEnd = await serverRss(url);
  await stopServer?.();
  await model.dispose();

  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  const growth = 100 * (rssEnd / rssStart - 1);
  console.log(
    `\nserver RSS: ${mib(rssIdle)} idle → ${mib(rssStart)} after a ${warmUpSeconds} s warm-up ` +
      `at concurrency 32 → ${mib(rssEnd)} after the phases (${growth.toFixed(1)}%)\n`,
  );
  const ratio = rate(served.get(8)!) / rate(sdk.get(8)!);
  const errors32 = served.get(32)!.errors;
  const checks: [string, boolean][] = [
    [`zero errors at concurrency 32 (${errors32})`, errors32 === 0],
    [`server RSS growth over the phases under 10% (${growth.toFixed(1)}%)`, growth < 10],
    [
      `throughput at concurrency 8 ≥ 0.9× the SDK's in-process (${ratio.toFixed(3)}×)`,
      ratio >= 0.9,
    ],
  ];
  for (const [text, ok] of checks) console.log(`${ok ? "PASS" : "FAIL"} ${text}`);
  return checks.every(([, ok]) => ok);
}

async function main(options: Options): Promise<void> {
  if (!(await run(options))) throw new ExpectedError("a check failed (see FAIL above)");
}

if (import.meta.main) {
  Deno.exit(await runCommand("load", Deno.args, { help: HELP, parse: parseOptions, run: main }));
}
