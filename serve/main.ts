/**
 * `deno task serve`: the generation service on `Deno.serve`.
 *
 * @example
 * ```sh
 * FLOWMAP_ADMIN_TOKEN=$(openssl rand -hex 24) npx -y deno@2.9.6 task serve --port 8000 --adapters adapters
 * ```
 *
 * @module
 */

import { sep } from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel, type ModelBytes } from "../mod.ts";
import { readModelFiles } from "../mod.ts";
import { AdapterStore } from "./adapters.ts";
import { createApp, DEFAULT_SERVE_LIMITS } from "./app.ts";
import { ADMIN_TOKEN_ENV } from "./middleware/admin.ts";
import { serveApp } from "./server.ts";
import { parseFlags, runCommand } from "../cli/command.ts";
import { integer, readFlag } from "../cli/readers.ts";

const HELP = `Usage: deno task serve [options]

Serves few-step image generation over HTTP (Hono on Deno.serve):
POST /v1/images/generations, POST /v1/generate, GET /v1/models,
GET|PUT|DELETE /v1/adapters[/:name], GET /healthz, GET /metrics, and a
playground page at GET / (generate on the server or in the browser).

  --port P               port to listen on (default 8000; 0 picks a free one)
  --host H               interface to bind (default 127.0.0.1)
  --adapters DIR         adapter directory, created if missing (default adapters)
  --model PATH           model .onnx file, its .bin next to it
                         (default: the bundled shapes-meanflow model)
  --threads T            ONNX Runtime threads per evaluation (default: one per core)
  --browser-models       serve the model's files to the playground's browser runtime
                         (default: on for the bundled models, off for any other
                         --model; --no-browser-models turns it off)
  --max-concurrency C    generations running at once (default ${DEFAULT_SERVE_LIMITS.concurrency})
  --queue Q              generations waiting before 429 (default ${DEFAULT_SERVE_LIMITS.queue})
  --timeout-ms MS        deadline per generation request, queueing included
                         (default ${DEFAULT_SERVE_LIMITS.timeoutMs})
  --help                 show this help

Adapter writes (PUT/DELETE /v1/adapters/:name) need Authorization: Bearer
$${ADMIN_TOKEN_ENV} (at least 16 characters); without it they answer 403.
SIGINT or SIGTERM stops accepting connections and drains in-flight requests;
a second signal exits at once.

Exit codes: 0 after a clean shutdown, 1 startup failed, 2 bad arguments.`;

const MIN_TOKEN_LENGTH = 16;

interface Command {
  readonly port: number;
  readonly hostname: string;
  readonly adaptersDir: string;
  readonly model: string | undefined;
  readonly threads: number | undefined;
  readonly browserModels: boolean | undefined;
  readonly concurrency: number;
  readonly queue: number;
  readonly timeoutMs: number;
}

function parseCommand(args: string[]): Command | "help" {
  const values = parseFlags(args, {
    port: { type: "string" },
    host: { type: "string" },
    adapters: { type: "string" },
    model: { type: "string" },
    threads: { type: "string" },
    "browser-models": { type: "boolean" },
    "max-concurrency": { type: "string" },
    queue: { type: "string" },
    "timeout-ms": { type: "string" },
    help: { type: "boolean", short: "h" },
  }, { allowNegative: true });
  if (values.help) return "help";
  const port = readFlag(integer({ min: 0, max: 65535 }), values.port, "--port") ?? 8000;
  return {
    port,
    hostname: values.host ?? "127.0.0.1",
    adaptersDir: values.adapters ?? "adapters",
    model: values.model,
    threads: readFlag(integer({ min: 1 }), values.threads, "--threads"),
    browserModels: values["browser-models"],
    concurrency: readFlag(integer({ min: 1 }), values["max-concurrency"], "--max-concurrency") ??
      DEFAULT_SERVE_LIMITS.concurrency,
    queue: readFlag(integer({ min: 0 }), values.queue, "--queue") ?? DEFAULT_SERVE_LIMITS.queue,
    timeoutMs: readFlag(integer({ min: 1 }), values["timeout-ms"], "--timeout-ms") ??
      DEFAULT_SERVE_LIMITS.timeoutMs,
  };
}

function adminToken(): string | undefined {
  const token = Deno.env.get(ADMIN_TOKEN_ENV);
  if (token === undefined || token === "") return undefined;
  if (token.length < MIN_TOKEN_LENGTH || !/^[A-Za-z0-9._~+/-]+=*$/.test(token)) {
    throw new Error(
      `${ADMIN_TOKEN_ENV} must be at least ${MIN_TOKEN_LENGTH} characters of A-Z, a-z, 0-9, ` +
        `and ._~+/- (a bearer token); generate one with: openssl rand -hex 24`,
    );
  }
  return token;
}

/** Where the bundled models live (`src/models/<name>/model.onnx`). */
const BUNDLED_MODELS = new URL("../src/models/", import.meta.url);

/**
 * The model's files for the playground's browser runtime: served when
 * `--browser-models` says so, by default only for the bundled models (public
 * already); a model given with `--model` stays private unless asked.
 */
async function browserModelOf(command: Command): Promise<ModelBytes | undefined> {
  const path = command.model ??
    fileURLToPath(new URL("shapes-meanflow/model.onnx", BUNDLED_MODELS));
  const serve = command.browserModels ?? await isBundled(path);
  if (!serve) return undefined;
  const { model, weights } = await readModelFiles(path);
  return { model, weights };
}

async function isBundled(path: string): Promise<boolean> {
  try {
    const [file, bundled] = await Promise.all([
      Deno.realPath(path),
      Deno.realPath(BUNDLED_MODELS),
    ]);
    return file.startsWith(bundled + sep);
  } catch {
    return false;
  }
}

/** The model's public id: the name of the directory holding its `.onnx` file. */
function modelIdOf(path: string | undefined): string {
  if (path === undefined) return "shapes-meanflow";
  const parts = path.split(/[/\\]/).filter((part) => part !== "");
  return parts.length > 1 ? parts[parts.length - 2] : parts[0].replace(/\.onnx$/, "");
}

async function run(command: Command): Promise<void> {
  const token = adminToken();
  await using model = await loadModel(command.model, { threads: command.threads });
  const adapters = await AdapterStore.open(command.adaptersDir, model.info.loraTargets);
  const browserModel = await browserModelOf(command);
  const service = createApp({
    model,
    modelId: modelIdOf(command.model),
    adapters,
    adminToken: token,
    limits: {
      concurrency: command.concurrency,
      queue: command.queue,
      timeoutMs: command.timeoutMs,
    },
    playground: { browserModel },
  });
  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) Deno.exit(1);
    console.log("serve: shutting down, draining in-flight requests");
    stop.abort();
  };
  const signals = ["SIGINT", "SIGTERM"] as const;
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  const server = serveApp(service, {
    hostname: command.hostname,
    port: command.port,
    signal: stop.signal,
  });
  console.log(
    `serve: listening on ${server.url.origin} (model ${modelIdOf(command.model)}, ` +
      `adapters in ${adapters.dir}, writes ${token === undefined ? "disabled" : "enabled"}, ` +
      `browser models ${browserModel === undefined ? "not served" : "served"}); ` +
      `playground at ${server.url.origin}/`,
  );
  await server.finished;
  for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  console.log("serve: stopped");
}

if (import.meta.main) {
  Deno.exit(await runCommand("serve", Deno.args, { help: HELP, parse: parseCommand, run }));
}
