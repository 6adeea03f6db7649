/**
 * The evaluation table, as in the paper: held-out strict and partial
 * composition accuracy of the base and the trained adapter at each K, with
 * the out-of-domain signals beside them.
 *
 * @module
 */

import type { EvalScores } from "./evaluate.ts";

/** One row: a K with base and trained scores. */
export interface EvalRow {
  /** K. */
  readonly steps: number;
  /** The base model. */
  readonly base: EvalScores;
  /** Base + EMA adapter. */
  readonly trained: EvalScores;
}

/** A whole evaluation, as written to `eval-<iteration>.json`. */
export interface EvalReport {
  /** Iterations completed when evaluated. */
  readonly iteration: number;
  /** Held-out prompts evaluated. */
  readonly prompts: number;
  /** Seeds per prompt. */
  readonly seedsPerPrompt: number;
  /** One row per K. */
  readonly rows: readonly EvalRow[];
}

/**
 * The markdown table of a report (percentages for accuracies).
 *
 * @example
 * ```ts
 * import { markdownTable } from "./table.ts";
 * const s = { strict: 0.5, partial: 0.75, jpegKb: 1.2, diversity: 0.1 };
 * markdownTable({ iteration: 10, prompts: 2, seedsPerPrompt: 2, rows: [{ steps: 1, base: s, trained: s }] });
 * ```
 */
export function markdownTable(report: EvalReport): string {
  const pct = (v: number) => (100 * v).toFixed(1);
  const signed = (v: number) => `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)}`;
  const lines = [
    `Held-out evaluation after ${report.iteration} iterations: ${report.prompts} prompts × ` +
    `${report.seedsPerPrompt} seeds, deterministic samplers, same seeds for base and trained.`,
    "",
    "| K | strict base | strict trained | Δ strict | partial base | partial trained | JPEG kB base | JPEG kB trained | diversity base | diversity trained |",
    "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const { steps, base, trained } of report.rows) {
    lines.push(
      `| ${steps} | ${pct(base.strict)} | ${pct(trained.strict)} | ${
        signed(trained.strict - base.strict)
      } | ${pct(base.partial)} | ${pct(trained.partial)} | ${base.jpegKb.toFixed(3)} | ${
        trained.jpegKb.toFixed(3)
      } | ${base.diversity.toFixed(4)} | ${trained.diversity.toFixed(4)} |`,
    );
  }
  return lines.join("\n") + "\n";
}
