/**
 * The trainer's headline benchmark (issue 7): Flow-Map GRPO on the bundled
 * models — MeanFlow with the local anchor and sCM with the endpoint anchor —
 * one CPU run of at most 45 minutes each, then a markdown table of held-out
 * strict accuracy (base vs trained, K = 1…4), out-of-domain signals,
 * trajectories per second and where the time went.
 *
 *     deno task bench-train [--configs a.json,b.json] [--minutes 45] [--out scripts/bench-train-results.md]
 *
 * A config whose base model file is missing is reported as pending, never
 * replaced by another model.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { selectBackend } from "../trainer/backend.ts";
import { loadTrainConfig, type TrainConfig } from "../trainer/config.ts";
import type { EvalReport } from "../trainer/eval/table.ts";
import { type RunSummary, Trainer } from "../trainer/run.ts";
import { buildReward, loadBaseModel } from "../trainer/setup.ts";

const HEADLINE = [
  "trainer/configs/shapes-meanflow-local.json",
  "trainer/configs/shapes-scm-endpoint.json",
];

const { values } = parseArgs({
  options: {
    configs: { type: "string", default: HEADLINE.join(",") },
    minutes: { type: "string", default: "45" },
    out: { type: "string", default: "scripts/bench-train-results.md" },
  },
});

const minutes = Number(values.minutes);
if (!(minutes > 0)) {
  throw new RangeError(`--minutes must be a positive number, got ${values.minutes}`);
}
const backend = await selectBackend("auto", (m) => console.log(m));
const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
const sections: string[] = [];

for (const path of values.configs.split(",")) {
  const loaded = await loadTrainConfig(path);
  const config: TrainConfig = { ...loaded, train: { ...loaded.train, maxMinutes: minutes } };
  if ("onnx" in config.model) {
    try {
      await Deno.stat(config.model.onnx);
    } catch {
      console.log(`${config.name}: base model ${config.model.onnx} is missing — run pending`);
      sections.push(
        `## ${config.name}\n\nPending: the base model \`${config.model.onnx}\` is not in the repository yet.\n`,
      );
      continue;
    }
  }
  const outDir = `runs/bench-${config.name}-${stamp}`;
  const base = await loadBaseModel(config.model);
  const trainer = await Trainer.create(config, base, {
    outDir,
    resume: false,
    reward: buildReward(config.reward),
    log: (line) => console.log(`${config.name} ${line}`),
  });
  const started = performance.now();
  const summary = await trainer.run();
  await trainer.dispose();
  sections.push(section(config, summary, (performance.now() - started) / 1000, outDir));
}

const header = [
  "# Flow-Map GRPO benchmark (trainer, issue 7)",
  "",
  `Command: \`deno task bench-train --minutes ${minutes}\` — ${new Date().toISOString()}, ` +
  `backend ${backend.name}, ${navigator.hardwareConcurrency} CPU threads.`,
  "Held-out prompts of the fixed split (`trainer/data/splits.ts`), deterministic K-step samplers,",
  "the same seeds for base and trained (EMA adapter). Accuracies in %; JPEG in kB (quality 95,",
  "lower = more compressible); diversity = mean pairwise pixel distance between a prompt's seeds.",
  "",
];
await Deno.writeTextFile(values.out, header.join("\n") + "\n" + sections.join("\n"));
console.log(`wrote ${values.out}`);

function section(
  config: TrainConfig,
  summary: RunSummary,
  seconds: number,
  outDir: string,
): string {
  const report = summary.evaluation as EvalReport;
  const trajectories = summary.metrics.reduce((n, m) => n + m.trajectories, 0);
  const s = summary.seconds;
  const training = s.rollout + s.reward + s.update;
  const pct = (v: number) => (100 * v).toFixed(1);
  const share = (v: number) => `${v.toFixed(0)} s (${((100 * v) / seconds).toFixed(0)} %)`;
  const anchor = config.rollout.anchor;
  const lines = [
    `## ${config.name}`,
    "",
    `Anchor ${anchor.kind}${
      anchor.kind === "local"
        ? ` (delta ${anchor.delta}, noise ${anchor.noiseLevel})`
        : anchor.kind === "endpoint"
        ? ` (eta ${anchor.eta})`
        : ""
    }, ` +
    `${config.rollout.prompts} prompts × G = ${config.rollout.groupSize}, P = ${config.rollout.stochasticSteps}, ` +
    `reward ${config.reward.map((r) => r.kind + ("mode" in r ? `:${r.mode}` : "")).join(" + ")}, ` +
    `${summary.iterations} iterations in ${
      (seconds / 60).toFixed(1)
    } min; run directory \`${outDir}\`.`,
    "",
    "| K | strict base | strict trained | Δ | partial base | partial trained | JPEG base | JPEG trained | diversity base | diversity trained |",
    "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ...report.rows.map(({ steps, base, trained }) =>
      `| ${steps} | ${pct(base.strict)} | ${pct(trained.strict)} | ${
        pct(trained.strict - base.strict)
      } | ` +
      `${pct(base.partial)} | ${pct(trained.partial)} | ${base.jpegKb.toFixed(3)} | ${
        trained.jpegKb.toFixed(3)
      } | ` +
      `${base.diversity.toFixed(4)} | ${trained.diversity.toFixed(4)} |`
    ),
    "",
    `Throughput: ${
      (trajectories / training).toFixed(2)
    } trajectories/s over rollout + reward + update ` +
    `(${trajectories} trajectories). Time: rollout ${share(s.rollout)}, reward ${
      share(s.reward)
    }, ` +
    `update ${share(s.update)}, evaluation ${share(s.eval)}.`,
    "",
  ];
  return lines.join("\n");
}
