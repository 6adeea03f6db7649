import assert from "node:assert/strict";
import { compositionReward, encodeImage, generate, generateSteered, loadModel } from "../../mod.ts";
import { runDeno, tinyModels } from "../_fixtures.ts";

const cli = (...args: string[]) =>
  runDeno(["run", "-A", "--no-lock", "scripts/generate.ts", ...args]);

Deno.test("cli: --help prints the usage and exits 0", async () => {
  const { code, stdout } = await cli("--help");
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: deno task generate --prompt TEXT/);
  const flags = ["--steps", "--shift", "--grid", "--seed", "--n", "--out", "--format", "--adapter"];
  for (const flag of flags) {
    assert.ok(stdout.includes(flag), flag);
  }
});

Deno.test("cli: writes the PNG the SDK generates; --n numbers the files", async () => {
  const models = await tinyModels();
  const { path } = models["two-time"];
  const out = `${models.dir}/cli.png`;
  const args = ["--prompt", "two red circles", "--steps", "2", "--seed", "7", "--model", path];
  const single = await cli(...args, "--out", out);
  assert.equal(single.code, 0, single.stderr);
  assert.equal(single.stdout.trim(), `wrote ${out} (32×32, seed 7)`);
  await using model = await loadModel(path);
  const [image] = await generate(model, { prompt: "two red circles", steps: 2, seed: 7 });
  assert.deepEqual(await Deno.readFile(out), await encodeImage(image, "png"));

  const shiftArgs = ["--prompt", "two red circles", "--steps", "3", "--shift", "3", "--seed", "7"];
  const shifted = await cli(...shiftArgs, "--model", path, "--out", out);
  assert.equal(shifted.code, 0, shifted.stderr);
  const [three] = await generate(model, { prompt: "two red circles", steps: 3, shift: 3, seed: 7 });
  assert.deepEqual(await Deno.readFile(out), await encodeImage(three, "png"));

  const many = await cli(...args, "--n", "2", "--grid", "1,0.5,0", "--out", `${models.dir}/m.webp`);
  assert.equal(many.code, 0, many.stderr);
  for (const i of [0, 1]) {
    const bytes = await Deno.readFile(`${models.dir}/m-${i}.webp`);
    assert.equal(new TextDecoder().decode(bytes.subarray(8, 12)), "WEBP");
  }
});

Deno.test("cli: bad arguments exit 2, failed generation exits 1, each with one line", async () => {
  const { path } = (await tinyModels())["one-time"];
  const cases: [string[], number, RegExp][] = [
    [["--prompt", "a", "--bogus"], 2, /Unknown option '--bogus'/],
    [["--steps", "2"], 2, /--prompt is required/],
    [["--prompt", "a", "--steps", "two"], 2, /--steps must be an integer ≥ 1, got two/],
    [["--prompt", "a", "--grid", "1,,0"], 2, /--grid lists numbers/],
    [["--prompt", "a", "--shift", "0.5"], 2, /--shift must be ≥ 1, got 0.5/],
    [["--prompt", "a", "--shift", "2", "--model", path], 1, /TrigFlow grids are angular/],
    [["--prompt", "a", "--format", "gif"], 2, /--format must be png or webp/],
    [["--prompt", "a", "--runtime", "gpu"], 2, /--runtime must be node or web/],
    [["--prompt", "a red elephant", "--model", path], 1, /unknown word "elephant"/],
    [
      ["--prompt", "a", "--model", path, "--adapter", "missing.safetensors:0.5"],
      1,
      /cannot read adapter file missing\.safetensors: no such file/,
    ],
    [
      ["--prompt", "a", "--model", "nowhere/model.onnx"],
      1,
      /cannot read model file nowhere\/model\.onnx/,
    ],
  ];
  for (const [args, code, message] of cases) {
    const result = await cli(...args);
    assert.equal(result.code, code, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one line, no stack trace: ${result.stderr}`);
    assert.match(lines[0], /^generate: /);
  }
});

Deno.test("cli: --steer writes the image generateSteered picks; bad steering flags exit 2", async () => {
  const out = `${(await tinyModels()).dir}/steered.png`;
  const prompt = "a red circle left of a blue square";
  // the bundled model, where candidates' rewards differ: seed 1's best candidate is not the first
  const steered = await cli(
    ...["--prompt", prompt, "--steps", "2", "--seed", "1", "--out", out],
    ...["--steer", "composition", "--particles", "4"],
  );
  assert.equal(steered.code, 0, steered.stderr);
  await using model = await loadModel();
  const { images } = await generateSteered(model, {
    prompt,
    steps: 2,
    seed: 1,
    steering: { reward: compositionReward(), method: "best-of-n", particles: 4 },
  });
  const [plain] = await generate(model, { prompt, steps: 2, seed: 1 });
  assert.deepEqual(await Deno.readFile(out), await encodeImage(images[0], "png"));
  assert.notDeepEqual(images[0].data, plain.data, "steering changed the image");

  const cases: [string[], RegExp][] = [
    [["--particles", "4"], /--particles, --method and --strength need --steer REWARD/],
    [["--steer", "beauty"], /--steer must be one of composition/],
    [["--steer", "composition", "--method", "greedy"], /--method must be best-of-n or posterior/],
    [["--steer", "composition", "--particles", "0"], /--particles/],
  ];
  for (const [flags, message] of cases) {
    const result = await cli("--prompt", prompt, "--out", out, ...flags);
    assert.equal(result.code, 2, `${flags.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message, flags.join(" "));
    assert.doesNotMatch(result.stderr, /^\s+at /m);
  }
});
