/**
 * The playground in a real browser: the service (bundled shapes-meanflow
 * model, browser models served) on 127.0.0.1, and headless Chromium loading
 * `/?…&run=1` with `--dump-dom` — no driver. `--virtual-time-budget` makes
 * Chromium wait for the run (virtual time stands still while fetches are
 * pending), so the dumped DOM holds the finished page, and the timings the
 * page shows are Chromium's virtual ones.
 *
 * Both runtimes run: the server's images must have the SDK's exact pixels,
 * and the browser's (the SDK bundled, on onnxruntime-web) must be within 1
 * level of the server's with at most 0.1 % of values differing. A screenshot
 * of a browser run is saved to `$FLOWMAP_PLAYGROUND_SCREENSHOT` (the README's
 * docs/playground.png comes from it) or a temporary file.
 *
 * Without Chromium (the Debian package `chromium`, which .ci/run installs, or
 * `$FLOWMAP_CHROMIUM`) the test is skipped with a message saying so.
 */
import assert from "node:assert/strict";
import { generate, loadModel } from "../../../mod.ts";
import { AdapterStore } from "../../../serve/adapters.ts";
import { createApp } from "../../../serve/app.ts";
import { sha256Hex } from "../../../serve/playground/pixels.ts";
import { serveApp } from "../../../serve/server.ts";
import { readModelFiles } from "../../../src/onnx/source.ts";

const BUNDLED = new URL("../../../src/models/shapes-meanflow/model.onnx", import.meta.url);
/** Real time a Chromium run may take before it is killed. */
const CHROMIUM_TIMEOUT_MS = 240_000;
/** Chromium runs per page before a dump of an unfinished run counts as the result. */
const ATTEMPTS = 3;
/** Largest share of 8-bit values that may differ between browser and server. */
const MAX_DIFF_SHARE = 0.001;

const chromium = findChromium();

if (chromium === undefined) {
  const why = "no Chromium found (install the Debian package chromium, as .ci/run does, " +
    "or set FLOWMAP_CHROMIUM to its path)";
  console.warn(`playground browser test skipped: ${why}`);
  Deno.test({ name: `playground in headless Chromium: skipped, ${why}`, ignore: true, fn() {} });
} else {
  Deno.test("playground in headless Chromium: both runtimes, the same image everywhere", async (t) => {
    await using model = await loadModel(BUNDLED, { threads: 1 });
    const files = await readModelFiles(BUNDLED);
    const dir = await Deno.makeTempDir({ prefix: "playground-browser-" });
    const adapters = await AdapterStore.open(dir, model.info.loraTargets);
    await using service = createApp({
      model,
      modelId: "shapes-meanflow",
      adapters,
      playground: { browserModel: { model: files.model, weights: files.weights } },
      log: () => {},
    });
    const stop = new AbortController();
    const server = serveApp(service, { hostname: "127.0.0.1", port: 0, signal: stop.signal });
    const page = (query: string) => new URL(`/?${query}`, server.url).href;
    const sdkHashes = async (prompt: string, n: number, steps: number, seed: number) => {
      const images = await generate(model, { prompt, n, steps, seed });
      return await Promise.all(images.map((image) => sha256Hex(image.data)));
    };
    try {
      await t.step("server runtime: the page shows the SDK's exact pixels", async () => {
        const dom = await dumpDom(
          chromium,
          page("prompt=two+red+circles&seed=7&steps=2&n=2&runtime=server&run=1"),
        );
        assert.equal(
          bodyAttribute(dom, "data-status"),
          "done",
          bodyAttribute(dom, "data-error") ?? "",
        );
        const shown = hashes(section(dom, "results"));
        assert.deepEqual(shown, await sdkHashes("two red circles", 2, 2, 7));
        assert.equal(bodyAttribute(dom, "data-diff-count"), undefined, "no comparison");
      });

      const cells = [
        { prompt: "two red circles", steps: 2, seed: 7, screenshot: true },
        { prompt: "three green triangles", steps: 4, seed: 100, screenshot: false },
      ];
      for (const { prompt, steps, seed, screenshot } of cells) {
        await t.step(`browser runtime, ${steps} steps: within 1 level of the server`, async () => {
          const n = 4;
          const query = new URLSearchParams({
            prompt,
            seed: String(seed),
            steps: String(steps),
            n: String(n),
            runtime: "browser",
            run: "1",
          });
          const shot = screenshot ? screenshotPath() : undefined;
          const dom = await dumpDom(chromium, page(query.toString()), shot);
          assert.equal(
            bodyAttribute(dom, "data-status"),
            "done",
            bodyAttribute(dom, "data-error") ?? "",
          );
          const browser = hashes(section(dom, "results"));
          const server = hashes(section(dom, "reference"));
          assert.equal(browser.length, n, "the browser's images appear");
          assert.deepEqual(server, await sdkHashes(prompt, n, steps, seed));
          const count = Number(bodyAttribute(dom, "data-diff-count"));
          const maxDiff = Number(bodyAttribute(dom, "data-max-diff"));
          const values = n * 3 * 32 * 32;
          console.log(
            `  browser vs server, "${prompt}", ${steps} steps, seeds ${seed}–${seed + n - 1}: ` +
              `${count} of ${values} values differ, max ${maxDiff}; ` +
              `${browser.filter((hash, i) => hash !== server[i]).length} of ${n} images differ`,
          );
          assert.ok(maxDiff <= 1, `largest difference ${maxDiff} levels`);
          assert.ok(count <= MAX_DIFF_SHARE * values, `${count} of ${values} values differ`);
          assert.equal(count === 0, browser.every((hash, i) => hash === server[i]));
          if (shot !== undefined) {
            const png = await Deno.readFile(shot);
            assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG screenshot");
            console.log(`  screenshot: ${shot}`);
          }
        });
      }

      await t.step("bad query parameters: a clear message, no run", async () => {
        const dom = await dumpDom(chromium, page("prompt=two+red+circles&steps=9&sede=7&run=1"));
        assert.equal(bodyAttribute(dom, "data-status"), "error");
        const error = bodyAttribute(dom, "data-error") ?? "";
        assert.match(error, /unknown query parameter "sede"/);
        assert.match(error, /steps: an integer from 1 to 4, got "9"/);
        assert.deepEqual(hashes(section(dom, "results")), []);
      });
    } finally {
      stop.abort();
      await server.finished;
      await Deno.remove(dir, { recursive: true });
    }
  });
}

function findChromium(): string | undefined {
  const configured = Deno.env.get("FLOWMAP_CHROMIUM");
  if (configured) return configured;
  const dirs = (Deno.env.get("PATH") ?? "/usr/bin").split(":");
  for (const dir of dirs) {
    for (const name of ["chromium", "chromium-browser"]) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch { /* not here */ }
    }
  }
  return undefined;
}

function screenshotPath(): string {
  return Deno.env.get("FLOWMAP_PLAYGROUND_SCREENSHOT") ??
    Deno.makeTempFileSync({ prefix: "playground-", suffix: ".png" });
}

/**
 * Chromium's DOM of `url` once the page's run ended, and optionally a
 * screenshot. On a loaded machine the virtual-time budget can run out while
 * the page still waits (`data-status="running"`); that dump is retried in a
 * fresh browser, at most {@linkcode ATTEMPTS} times in all.
 */
async function dumpDom(chromium: string, url: string, screenshot?: string): Promise<string> {
  for (let attempt = 1;; attempt++) {
    const dom = await dumpOnce(chromium, url, screenshot);
    const status = bodyAttribute(dom, "data-status");
    if ((status !== "running" && status !== "loading") || attempt === ATTEMPTS) return dom;
    console.warn(`  attempt ${attempt}: the dump came while the page was ${status}; retrying`);
  }
}

async function dumpOnce(chromium: string, url: string, screenshot?: string): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "playground-chromium-" });
  try {
    const { code, stdout, stderr } = await new Deno.Command(chromium, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        "--virtual-time-budget=600000",
        "--window-size=1200,1000",
        ...(screenshot === undefined ? [] : [`--screenshot=${screenshot}`]),
        "--dump-dom",
        url,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(CHROMIUM_TIMEOUT_MS),
    }).output();
    const dom = new TextDecoder().decode(stdout);
    if (code !== 0 || !dom.includes("<body")) {
      const log = new TextDecoder().decode(stderr).split("\n").slice(-15).join("\n");
      throw new Error(`chromium exited with ${code} and no page:\n${log}`);
    }
    return dom;
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

function bodyAttribute(dom: string, name: string): string | undefined {
  const body = dom.match(/<body\b[^>]*>/)?.[0] ?? "";
  const value = body.match(new RegExp(`\\s${name}="([^"]*)"`))?.[1];
  return value?.replaceAll("&quot;", '"').replaceAll("&lt;", "<").replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");
}

function section(dom: string, id: string): string {
  return dom.match(new RegExp(`<section id="${id}"[^>]*>(.*?)</section>`, "s"))?.[1] ?? "";
}

function hashes(html: string): string[] {
  return [...html.matchAll(/<img\b[^>]*\sdata-sha256="([0-9a-f]{64})"/g)].map((m) => m[1]);
}
