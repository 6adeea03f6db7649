/**
 * Writes an evaluation into a {@link RunDirectory}: `eval.json` and `eval.md` (the
 * latest, and a copy per iteration under `eval/`), `samples.png` (per K, the
 * base row over the trained row, first seed of the first eight prompts), and
 * the reward curve `reward-curve.png`.
 *
 * @module
 */

import { join } from "node:path";
import type { RunDirectory } from "../run_directory.ts";
import { encodeImage, type Image } from "../../src/image.ts";
import { writeFileAtomic } from "../checkpoint.ts";
import { readMetrics } from "../metrics.ts";
import type { EvalAtSteps } from "./evaluate.ts";
import { imageGrid, linePlot } from "./pictures.ts";
import { type EvalReport, markdownTable } from "./table.ts";

/** One evaluation's results, base and trained on the same plan. */
export interface EvaluationResults {
  /** Iterations completed. */
  readonly iteration: number;
  /** Seeds per prompt (images are prompt-major). */
  readonly seedsPerPrompt: number;
  /** The base model, per K. */
  readonly base: readonly EvalAtSteps[];
  /** Base + EMA adapter, per K (same order). */
  readonly trained: readonly EvalAtSteps[];
}

/** Builds the report and writes its table, JSON and sample grid; returns the report. */
export async function writeEvaluation(
  run: RunDirectory,
  results: EvaluationResults,
): Promise<EvalReport> {
  const { base, trained, seedsPerPrompt } = results;
  const report: EvalReport = {
    iteration: results.iteration,
    prompts: trained[0].images.length / seedsPerPrompt,
    seedsPerPrompt,
    rows: trained.map((t, i) => ({ steps: t.steps, base: base[i].scores, trained: t.scores })),
  };
  const json = JSON.stringify(report, null, 2) + "\n", md = markdownTable(report);
  await writeFileAtomic(run.evaluation("json", report.iteration), json);
  await writeFileAtomic(run.evaluation("md", report.iteration), md);
  await writeFileAtomic(run.evaluation("json"), json);
  await writeFileAtomic(run.evaluation("md"), md);
  const columns = Math.min(8, report.prompts);
  const firstSeed = (images: readonly Image[]) =>
    Array.from({ length: columns }, (_, i) => images[i * seedsPerPrompt]);
  const rows = trained.flatMap((t, i) => [firstSeed(base[i].images), firstSeed(t.images)]);
  await writeFileAtomic(run.samples, await encodeImage(imageGrid(rows, 2, 2)));
  return report;
}

/**
 * Plots the mean reward per iteration (blue) and the trained adapter's
 * held-out strict accuracy at K = 2, or the first K evaluated (orange), on
 * shared axes, into `reward-curve.png`.
 */
export async function writeRewardCurve(run: RunDirectory): Promise<void> {
  const rewards = (await readMetrics(run.metrics))
    .map((m) => [m.iteration, m.rewardMean] as [number, number]);
  const evaluations: [number, number][] = [];
  for await (const entry of Deno.readDir(run.evaluations)) {
    if (!/^eval-\d+\.json$/.test(entry.name)) continue;
    const file = join(run.evaluations, entry.name);
    const report = JSON.parse(await Deno.readTextFile(file)) as EvalReport;
    const row = report.rows.find((r) => r.steps === 2) ?? report.rows[0];
    evaluations.push([report.iteration, row.trained.strict]);
  }
  evaluations.sort((a, b) => a[0] - b[0]);
  const plot = linePlot([
    { points: rewards, color: [40, 90, 220] },
    { points: evaluations, color: [240, 130, 20] },
  ]);
  await writeFileAtomic(run.rewardCurve, await encodeImage(plot));
}
