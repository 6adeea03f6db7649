/**
 * The SDK as a dependency: a user's app in a folder of its own, outside this
 * repository, imports mod.ts by `file:` URL (with an empty deno.json, and
 * with none), by the name the README maps to it, or by `http:` URL from a
 * loopback server; it generates with the bundled model and writes a PNG. The
 * PNGs equal the same call made here, byte for byte per runtime; the web run
 * has no FFI.
 */
import assert from "node:assert/strict";
import sharp from "sharp";
import { encodeImage, generate, loadModel, type RuntimeName } from "../mod.ts";
import { runDeno } from "./_fixtures.ts";

const REPO = new URL("../", import.meta.url);
const MODELS = new URL("src/models/", REPO).pathname;
const REQUEST = { prompt: "two red circles", steps: 2, seed: 7 } as const;

/** The whole app, as a user would write it; `runtime` is its first argument. */
const app = (mod: string) => `
import { encodeImage, generate, loadModel } from ${JSON.stringify(mod)};
const runtime = Deno.args[0] as "node" | "web";
await using model = await loadModel(undefined, { runtime });
const [image] = await generate(model, ${JSON.stringify(REQUEST)});
await Deno.writeFile(\`\${runtime}.png\`, await encodeImage(image, "png"));
`;

/** The PNG the same call gives inside the repository. */
async function pngHere(runtime: RuntimeName): Promise<Uint8Array> {
  await using model = await loadModel(undefined, { runtime });
  const [image] = await generate(model, REQUEST);
  return await encodeImage(image, "png");
}

/** Where Deno keeps npm packages for an app without node_modules. */
async function npmCache(): Promise<string> {
  const info = await runDeno(["info", "--json"]);
  assert.equal(info.code, 0, info.stderr);
  return JSON.parse(info.stdout).npmCache;
}

/** Runs the app in `dir`; the web run may read only the models and npm packages, and write `dir`. */
async function runApp(dir: string, runtime: RuntimeName, extra: string[] = []): Promise<void> {
  const read = `--allow-read=${MODELS},${await npmCache()}`;
  const ffi = runtime === "node" ? ["--allow-ffi"] : [];
  const args = ["run", "--no-prompt", read, `--allow-write=${dir}`, ...ffi, ...extra];
  const result = await runDeno([...args, "main.ts", runtime], undefined, dir);
  assert.equal(result.code, 0, `${runtime} app in ${dir}: ${result.stderr}`);
}

/** Pixels of a PNG, decoded by sharp. */
async function pixels(png: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await sharp(png).raw().toBuffer());
}

/** The app's folder variants: its deno.json (none: `undefined`) and how it names mod.ts. */
const MOD = new URL("mod.ts", REPO).href;
const VARIANTS: [name: string, config: string | undefined, mod: string][] = [
  ["empty deno.json", "{}", MOD],
  ["no deno.json", undefined, MOD],
  [
    "the README's import map entry",
    JSON.stringify({ imports: { "@flowmap/flowmap-grpo": MOD } }),
    "@flowmap/flowmap-grpo",
  ],
];

Deno.test("app: mod.ts by file: URL or import map name, on node and web, equals the in-repo call", async () => {
  const expected = { node: await pngHere("node"), web: await pngHere("web") };
  for (const [variant, config, mod] of VARIANTS) {
    const dir = await Deno.makeTempDir({ prefix: "flowmap-app-" });
    try {
      await Deno.writeTextFile(`${dir}/main.ts`, app(mod));
      if (config !== undefined) await Deno.writeTextFile(`${dir}/deno.json`, config);
      for (const runtime of ["node", "web"] as const) {
        await runApp(dir, runtime);
        const png = await Deno.readFile(`${dir}/${runtime}.png`);
        assert.deepEqual(png, expected[runtime], `${variant}, ${runtime}: the in-repo PNG`);
      }
      // onnxruntime-web and -node agree to 1e-4, so at most one 8-bit level
      const [node, web] = await Promise.all(
        ["node", "web"].map(async (runtime) =>
          pixels(await Deno.readFile(`${dir}/${runtime}.png`))
        ),
      );
      assert.equal(web.length, node.length);
      const worst = web.reduce((max, value, i) => Math.max(max, Math.abs(value - node[i])), 0);
      assert.ok(worst <= 1, `${variant}: web and node pixels differ by ${worst} levels`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("app: mod.ts and the bundled model by http: URL from a loopback server", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, serveRepository);
  const dir = await Deno.makeTempDir({ prefix: "flowmap-app-http-" });
  try {
    const origin = `127.0.0.1:${server.addr.port}`;
    await Deno.writeTextFile(`${dir}/main.ts`, app(`http://${origin}/mod.ts`));
    // a port used by an earlier run may still have its modules cached: fetch them afresh
    const remote = [
      `--allow-import=${origin}`,
      `--allow-net=${origin}`,
      `--reload=http://${origin}/`,
    ];
    await runApp(dir, "web", remote);
    assert.deepEqual(await Deno.readFile(`${dir}/web.png`), await pngHere("web"));
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The repository's files, read-only, as a static web server would serve them. */
async function serveRepository(request: Request): Promise<Response> {
  const file = new URL(`.${new URL(request.url).pathname}`, REPO);
  if (!file.href.startsWith(REPO.href)) return new Response("outside", { status: 403 });
  try {
    const type = file.pathname.endsWith(".ts")
      ? "application/typescript"
      : "application/octet-stream";
    return new Response(await Deno.readFile(file), { headers: { "content-type": type } });
  } catch {
    return new Response("not found", { status: 404 });
  }
}
