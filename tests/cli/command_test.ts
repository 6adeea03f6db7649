import assert from "node:assert/strict";
import { ExpectedError, parseFlags, runCommand, UsageError } from "../../cli/command.ts";
import { runDeno } from "../_fixtures.ts";

/** Every command-line entry point, with the name its error lines start with. */
const COMMANDS: [file: string, name: string][] = [
  ["scripts/bench-kernels.ts", "bench-kernels"],
  ["scripts/bench-sdk.ts", "bench-sdk"],
  ["scripts/bench-train.ts", "bench-train"],
  ["scripts/bench-update.ts", "bench-update"],
  ["scripts/bench-workers.ts", "bench-workers"],
  ["scripts/build-wasm.ts", "build-wasm"],
  ["scripts/eval-adapter.ts", "eval-adapter"],
  ["scripts/generate.ts", "generate"],
  ["scripts/grpo-signal.ts", "grpo-signal"],
  ["scripts/load.ts", "load"],
  ["scripts/model-info.ts", "model-info"],
  ["scripts/shapes-grid.ts", "shapes-grid"],
  ["scripts/shapes-report.ts", "shapes-report"],
  ["trainer/train.ts", "train"],
  ["trainer/pretrain/main.ts", "pretrain"],
  ["serve/main.ts", "serve"],
];

const runAll = (flag: string) =>
  Promise.all(COMMANDS.map(([file]) => runDeno(["run", "-A", file, flag])));

Deno.test("cli: an unknown flag exits 2 with the command's name, never a stack trace", async () => {
  for (const [i, result] of (await runAll("--bogus")).entries()) {
    const [file, name] = COMMANDS[i];
    assert.equal(result.code, 2, `${file}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`^${name}: .*--bogus`), file);
    assert.doesNotMatch(result.stderr, /^\s+at |Uncaught/m, file);
  }
});

Deno.test("cli: --help exits 0 and prints the usage", async () => {
  for (const [i, result] of (await runAll("--help")).entries()) {
    const [file] = COMMANDS[i];
    assert.equal(result.code, 0, `${file}: ${result.stderr}`);
    assert.match(result.stdout, /usage/i, file);
  }
});

Deno.test("runCommand: typed errors decide the exit code; every failure is one line", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (line: string) => errors.push(line);
  try {
    const exit = (run: () => void) =>
      runCommand("demo", [], { help: "usage: demo", parse: () => ({}), run });
    const hint = "(the last checkpoint is kept: --resume)";
    assert.equal(
      await exit(() => {
        throw new ExpectedError("reward failed", { hint });
      }),
      1,
    );
    assert.equal(
      await exit(() => {
        throw new UsageError("--resume needs --out");
      }),
      2,
    );
    assert.equal(
      await exit(() => {
        throw new Error("a bug\nover lines");
      }),
      1,
    );
    assert.equal(await exit(() => {}), 0);
  } finally {
    console.error = original;
  }
  assert.deepEqual(errors, [
    "demo: reward failed (the last checkpoint is kept: --resume)",
    "demo: --resume needs --out",
    "demo: a bug over lines",
  ]);
});

Deno.test("parseFlags: typed values; a bad flag is one UsageError line pointing to --help", () => {
  const options = { n: { type: "string" }, tag: { type: "string", multiple: true } } as const;
  const flags = parseFlags(["--n", "4", "--tag", "a", "--tag", "b"], options);
  assert.equal(flags.n, "4");
  assert.deepEqual(flags.tag, ["a", "b"]);
  for (const args of [["--nope"], ["stray"], ["--n"]]) {
    assert.throws(
      () => parseFlags(args, options),
      (error) => error instanceof UsageError && /^[^\n]+ \(see --help\)$/.test(error.message),
    );
  }
  assert.equal(
    parseFlags(["--no-n"], { n: { type: "boolean" } }, { allowNegative: true }).n,
    false,
  );
});
