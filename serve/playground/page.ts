/// <reference lib="dom" />
/**
 * The playground page's script (bundled by `bundle.ts`): fills the form from
 * `/playground/config.json`, `/v1/adapters` and the query, generates on the
 * server (`POST /v1/images/generations`) or in the page (the SDK on
 * onnxruntime-web), and after a browser run compares its 8-bit pixels with
 * the server's for the same request.
 *
 * For scripts: `<body data-status>` is `loading`, `ready`, `running`, `done`
 * or `error` (then `data-error` holds the message); each result `<img>` has
 * `data-sha256` (of its RGB bytes) and `data-seed`; after a browser run
 * `<body>` has `data-diff-count` and `data-max-diff`.
 *
 * @module
 */

import { generate, type Image, loadBrowserModel, type Model } from "./browser.ts";
import {
  parsePlaygroundFields,
  parsePlaygroundQuery,
  PLAYGROUND_FIELDS,
  PLAYGROUND_MAX_STEPS,
  type PlaygroundBounds,
  type PlaygroundRequest,
} from "./params.ts";
import { comparePixels, rgbaToRgb, rgbToRgba, sha256Hex } from "./pixels.ts";
import type { PlaygroundConfig } from "./config.ts";

/** An image ready to show: its pixels, a URL to display and its seed. */
interface Shown {
  readonly rgb: Uint8Array;
  readonly url: string;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
}

const body = document.body;
const form = document.querySelector<HTMLFormElement>("#form")!;
const button = form.querySelector<HTMLButtonElement>("button")!;
const message = document.querySelector<HTMLElement>("#message")!;
const results = document.querySelector<HTMLElement>("#results")!;
const reference = document.querySelector<HTMLElement>("#reference")!;
const comparison = document.querySelector<HTMLElement>("#comparison")!;

let config: PlaygroundConfig;
let bounds: PlaygroundBounds;
let browserModel: Promise<Model> | undefined;
let objectUrls: string[] = [];

const NO_BROWSER_MODEL = "this service does not serve its model to browsers " +
  '(start it with --browser-models), so choose runtime "server"';

start().catch((error) => fail(`the playground could not start: ${messageOf(error)}`));

async function start(): Promise<void> {
  const [loaded, adapters] = await Promise.all([
    getJson<PlaygroundConfig>("/playground/config.json"),
    getJson<{ data: { name: string; error?: unknown }[] }>("/v1/adapters"),
  ]);
  config = loaded;
  const names = adapters.data.filter((entry) => entry.error === undefined).map((e) => e.name);
  bounds = {
    maxSteps: config.max_steps,
    maxImages: config.max_images,
    maxPromptChars: config.max_prompt_chars,
    adapters: names,
  };
  describeModel();
  fillAdapters(names);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void run();
  });
  button.disabled = false;

  const query = parsePlaygroundQuery(new URLSearchParams(location.search));
  for (const [name, value] of Object.entries(query.fields)) setField(name, value);
  const errors = [...query.errors];
  const parsed = parsePlaygroundFields({ ...formFields(), ...query.fields }, bounds);
  if (!parsed.ok) errors.push(...parsed.errors);
  else if (parsed.request.runtime === "browser" && config.browser_model === null) {
    errors.push(`runtime: ${NO_BROWSER_MODEL}`);
  }
  if (errors.length > 0) {
    fail(`The page's query parameters are not valid, so nothing ran:\n${errors.join("\n")}`);
    return;
  }
  setStatus("ready");
  say(
    config.browser_model === null
      ? `Ready. Only the server runtime: ${NO_BROWSER_MODEL}.`
      : "Ready.",
  );
  if (query.run) await run();
}

async function run(): Promise<void> {
  const parsed = parsePlaygroundFields(formFields(), bounds);
  if (!parsed.ok) {
    fail(parsed.errors.join("\n"));
    return;
  }
  const request = withSeed(parsed.request);
  clearResults();
  setStatus("running");
  button.disabled = true;
  try {
    if (request.runtime === "server") {
      const started = performance.now();
      const images = await serverImages(request);
      await show(results, images, caption(request, "server", performance.now() - started), 256);
    } else {
      await runInBrowser(request);
    }
    setStatus("done");
  } catch (error) {
    fail(messageOf(error));
  } finally {
    button.disabled = false;
  }
}

async function runInBrowser(request: PlaygroundRequest & { seed: number }): Promise<void> {
  if (config.browser_model === null) {
    throw new Error(NO_BROWSER_MODEL);
  }
  let loadNote = "";
  if (browserModel === undefined) {
    say("Loading the model into onnxruntime-web (WebAssembly)…");
    const loadStart = performance.now();
    browserModel = loadBrowserModel(
      new URL(config.browser_model, location.href),
      new URL(config.runtime_files, location.href),
    );
    browserModel.catch(() => browserModel = undefined);
    await browserModel;
    loadNote = `; model loaded in ${milliseconds(performance.now() - loadStart)}`;
  }
  const model = await browserModel;
  say("Generating in the browser…");
  const started = performance.now();
  const images = await generate(model, {
    prompt: request.prompt,
    n: request.n,
    steps: request.steps,
    seed: request.seed,
  });
  const took = performance.now() - started;
  const shown = await Promise.all(images.map((image, i) => fromImage(image, request.seed + i)));
  await show(results, shown, caption(request, "browser", took) + loadNote, 256);

  say("Fetching the server's images for the same request to compare…");
  const server = await serverImages(request);
  await show(reference, server, "the server's images for the same request", 96);
  const diff = comparePixels(shown.map((image) => image.rgb), server.map((image) => image.rgb));
  body.dataset.diffCount = String(diff.count);
  body.dataset.maxDiff = String(diff.maxDiff);
  comparison.textContent = diff.count === 0
    ? `Browser and server: the same image everywhere — all ${diff.values} 8-bit values are equal.`
    : `Browser and server: ${diff.count} of ${diff.values} 8-bit values differ ` +
      `(${(100 * diff.count / diff.values).toFixed(3)} %), by at most ${diff.maxDiff} ` +
      `level${diff.maxDiff === 1 ? "" : "s"}.`;
}

/** The server's images for a request, decoded to their 8-bit RGB values. */
async function serverImages(request: PlaygroundRequest & { seed: number }): Promise<Shown[]> {
  say("Generating on the server…");
  const response = await fetch("/v1/images/generations", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      prompt: request.prompt,
      n: request.n,
      steps: request.steps,
      seed: request.seed,
      ...(request.adapter !== undefined && { adapter: request.adapter }),
    }),
  });
  const answer = await response.json().catch(() => undefined);
  if (!response.ok) {
    throw new Error(
      `the server refused the request (HTTP ${response.status}): ${
        answer?.error?.message ?? response.statusText
      }`,
    );
  }
  const data = answer.data as { b64_json: string; seed: number }[];
  return await Promise.all(data.map(({ b64_json, seed }) => fromPng(b64_json, seed)));
}

async function fromPng(base64: string, seed: number): Promise<Shown> {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }), {
    colorSpaceConversion: "none",
    premultiplyAlpha: "none",
  });
  const { width, height } = bitmap;
  const context = canvasOf(width, height);
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgb = rgbaToRgb(context.getImageData(0, 0, width, height).data);
  return { rgb, url: `data:image/png;base64,${base64}`, seed, width, height };
}

async function fromImage(image: Image, seed: number): Promise<Shown> {
  const { width, height, channels, data } = image;
  if (channels !== 3) throw new Error(`expected RGB images, got ${channels} channels`);
  const context = canvasOf(width, height);
  context.putImageData(new ImageData(rgbToRgba(data), width, height), 0, 0);
  const blob = await new Promise<Blob>((resolve, reject) =>
    context.canvas.toBlob((made) => made ? resolve(made) : reject(new Error("canvas gave no PNG")))
  );
  const url = URL.createObjectURL(blob);
  objectUrls.push(url);
  return { rgb: data, url, seed, width, height };
}

function canvasOf(width: number, height: number): CanvasRenderingContext2D {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  if (context === null) throw new Error("this browser has no 2D canvas");
  return context;
}

async function show(
  section: HTMLElement,
  images: readonly Shown[],
  title: string,
  size: number,
): Promise<void> {
  const heading = document.createElement("h2");
  heading.textContent = title;
  section.replaceChildren(heading);
  for (const image of images) {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.src = image.url;
    img.width = size;
    img.height = size;
    img.alt = `seed ${image.seed}`;
    img.dataset.seed = String(image.seed);
    img.dataset.sha256 = await sha256Hex(image.rgb);
    const label = document.createElement("figcaption");
    label.textContent = `seed ${image.seed} · sha256 ${img.dataset.sha256.slice(0, 12)}…`;
    label.title = img.dataset.sha256;
    figure.append(img, label);
    section.append(figure);
  }
}

function caption(request: PlaygroundRequest, runtime: string, ms: number): string {
  const images = `${request.n} image${request.n === 1 ? "" : "s"}`;
  const steps = `${request.steps} step${request.steps === 1 ? "" : "s"}`;
  return `${runtime}: ${images}, ${steps}, seed ${request.seed}, in ${milliseconds(ms)}`;
}

function withSeed(request: PlaygroundRequest): PlaygroundRequest & { seed: number } {
  if (request.seed !== undefined) return { ...request, seed: request.seed };
  const seed = crypto.getRandomValues(new Uint32Array(1))[0];
  setField("seed", String(seed));
  return { ...request, seed };
}

function describeModel(): void {
  const model = document.querySelector<HTMLElement>("#model")!;
  model.textContent = `Model ${config.model} (${config.kind}, ${config.size}); ` +
    `default ${config.default_steps} steps. Server runtime: this service. ` +
    `Browser runtime: onnxruntime-web in this page.`;
  const steps = form.elements.namedItem("steps") as HTMLInputElement;
  steps.title = `1 to ${Math.min(PLAYGROUND_MAX_STEPS, config.max_steps)}`;
  const n = form.elements.namedItem("n") as HTMLInputElement;
  n.title = `1 to ${config.max_images}`;
  if (config.browser_model === null) {
    const browser = form.querySelector<HTMLInputElement>('input[value="browser"]')!;
    browser.disabled = true;
    browser.parentElement!.title = NO_BROWSER_MODEL;
  }
}

function fillAdapters(names: readonly string[]): void {
  const select = form.elements.namedItem("adapter") as HTMLSelectElement;
  for (const name of names) select.append(new Option(name, name));
}

function formFields(): Record<string, string> {
  const data = new FormData(form);
  const fields: Record<string, string> = {};
  for (const name of PLAYGROUND_FIELDS) fields[name] = String(data.get(name) ?? "");
  return fields;
}

function setField(name: string, value: string): void {
  if (name === "runtime") {
    const radio = form.querySelector<HTMLInputElement>(
      `input[name="runtime"][value="${CSS.escape(value)}"]`,
    );
    if (radio !== null && !radio.disabled) radio.checked = true;
    return;
  }
  const field = form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null;
  if (field === null) return;
  if (field instanceof HTMLSelectElement && ![...field.options].some((o) => o.value === value)) {
    field.append(new Option(`${value} (not listed)`, value));
  }
  field.value = value;
}

function clearResults(): void {
  for (const url of objectUrls) URL.revokeObjectURL(url);
  objectUrls = [];
  results.replaceChildren();
  reference.replaceChildren();
  comparison.textContent = "";
  delete body.dataset.diffCount;
  delete body.dataset.maxDiff;
  delete body.dataset.error;
}

function setStatus(status: "ready" | "running" | "done" | "error"): void {
  body.dataset.status = status;
  if (status === "done") say("Done.");
}

function say(text: string): void {
  message.textContent = text;
}

function fail(text: string): void {
  body.dataset.error = text;
  setStatus("error");
  say(text);
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`GET ${path} answered HTTP ${response.status}`);
  return await response.json() as T;
}

function milliseconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
