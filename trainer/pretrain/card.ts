/**
 * Model cards of the bundled shapes models, written from the run's
 * measurements (never hand-edited numbers).
 *
 * @module
 */

import type { ModelConfig } from "../model/config.ts";
import type { ForwardCost } from "../model/cost.ts";
import { writeFileAtomic } from "../checkpoint.ts";
import type { AccuracyRow } from "./evaluate.ts";

/** The two students of the bundle. */
export type StudentName = "meanflow" | "scm";

/** What `evaluate` writes to `<out>/evaluation.json`. */
export interface Evaluation {
  /** Held-out prompts judged per K. */
  readonly prompts: number;
  /** Seed of the prompt subset and the sampler seeds. */
  readonly seed: number;
  /** The guided teacher ODE (guidance, Euler steps) on the same prompts and seeds. */
  readonly teacher: { guidance: number; steps: number; strict: number; partial: number };
  /** Student rows by name: K = 1, 2 on the uniform (angular) grid, 2 on the default grid, 4. */
  readonly students: Record<StudentName, AccuracyRow[]>;
  /** Each student's default two-step grid (bundle.ts' `chooseTwoStepGrid`). */
  readonly defaultGrids: Record<StudentName, readonly number[]>;
  /** The midpoint sweeps on training prompts behind `defaultGrids`. */
  readonly gridSweeps: Record<StudentName, AccuracyRow[]>;
}

/** Everything a card reports. */
export interface CardFacts {
  /** Student name (`meanflow` or `scm`). */
  readonly name: string;
  /** Its architecture. */
  readonly config: ModelConfig;
  /** Bundle directory name. */
  readonly directory: string;
  /** Parameters and FLOPs of one forward pass at batch 1. */
  readonly cost: ForwardCost;
  /** The run's evaluation (teacher reference and counts). */
  readonly evaluation: Evaluation;
  /** This model's accuracy rows. */
  readonly rows: readonly AccuracyRow[];
  /** Its default two-step grid (metadata `default_grid`). */
  readonly defaultGrid: readonly number[];
  /** The midpoint sweep behind `defaultGrid`. */
  readonly gridSweep: readonly AccuracyRow[];
  /** Prompts of the sample-grid rows, top to bottom. */
  readonly samplePrompts: readonly string[];
  /** Training facts of the student stage (steps, seconds, loss). */
  readonly facts: Readonly<Record<string, string>>;
  /** Training facts of the teacher stage. */
  readonly teacherFacts: Readonly<Record<string, string>>;
  /** Max |ONNX Runtime − TF.js| on a fixed batch. */
  readonly parity: number;
  /** Bytes of `model.onnx` plus `model.bin`. */
  readonly bytes: number;
  /** The guidance sweep (`guidance.json`). */
  readonly guidance: {
    guidance: number;
    odeSteps: number;
    sweep: { guidance: number; strict: number; partial: number }[];
  };
}

const percent = (v: number) => `${(100 * v).toFixed(1)} %`;
const minutes = (seconds: string) => `${(Number(seconds) / 60).toFixed(1)} min`;

/**
 * Renders a card as markdown.
 *
 * @example
 * ```ts ignore
 * import { renderCard } from "./card.ts";
 * const markdown = renderCard(facts);
 * ```
 */
export function renderCard(f: CardFacts): string {
  const twoTime = f.config.kind === "two-time";
  const e = f.evaluation;
  const title = twoTime
    ? "shapes-meanflow: a two-time MeanFlow map"
    : "shapes-scm: a one-time sCM map";
  const objective = twoTime
    ? "regresses the average velocity `u(x_t, r, t)` on `(x_t − x_r) / (t − r)` between two " +
      "states of a trajectory (t = 1 with probability 1/4, else uniform; r = t or r = 0 with " +
      "probability 1/4 each, else uniform in [0, t); r = t targets the trajectory's velocity)"
    : "regresses the endpoint `f(x_θ, θ)` on the trajectory's end `x_0`, with TrigFlow states " +
      "`x_θ = (cos θ + σ_d sin θ)·x^RF_τ`, `τ = σ_d sin θ / (cos θ + σ_d sin θ)` (θ = arctan(80/0.5) " +
      "with probability 1/4, else uniform); initialised from the teacher where names and shapes agree";
  const sampler = twoTime
    ? "`x ← x − (t_k − t_{k+1})·u(x, t_{k+1}, t_k)` on the uniform grid `1 − k/K`"
    : "the consistency sampler (`x0 = f(x, t_k)`, re-noised with the seeded stream) on the " +
      "angular grid `t_max·(1 − k/K)`, `t_max = arctan(80/0.5)`";
  const round = (t: number) => Number(t.toFixed(4));
  const isDefault = (grid: readonly number[]) => grid.join() === f.defaultGrid.join();
  const table = f.rows.map((r) =>
    `| ${r.steps} | ${r.grid.map(round).join(", ")}${isDefault(r.grid) ? " (default)" : ""} | ${
      percent(r.strict)
    } | ${percent(r.partial)} | ${r.count} |`
  );
  const midpoints = f.gridSweep.map((r) =>
    `| ${round(r.grid[1])} | ${percent(r.strict)} | ${percent(r.partial)} |`
  );
  const sweep = f.guidance.sweep.map((s) =>
    `| ${s.guidance} | ${percent(s.strict)} | ${percent(s.partial)} |`
  );
  const stage = f.name;
  return `# ${title}

A small text-to-image flow map for the procedural **shapes** world (32×32 RGB,
prompts like "two red circles left of a blue square"), bundled so the SDK works
out of the box and the trainer has a base to post-train with Flow-Map GRPO.
Trained from scratch on this project's 2-core CPU; all numbers below were
measured by the run that produced these weights.

| | |
|---|---|
| kind | ${f.config.kind} (${
    twoTime ? "MeanFlow, average velocity `u(x, r, t)`" : "sCM, endpoint `f(x, t)`"
  }) |
| path | ${f.config.path.name}${twoTime ? "" : `, σ_d = ${f.config.path.sigmaD}`} |
| network | MMDiT with an endpoint (x-prediction) head, depth ${f.config.depth}, width ${f.config.hiddenDim}, ${f.config.heads} heads, patch ${f.config.patchSize} (${
    (f.config.imageSize / f.config.patchSize) ** 2
  } image + ${f.config.textLength} text tokens) |
| parameters | ${f.cost.parameters.toLocaleString("en-US")} |
| FLOPs per sampling step (batch 1) | ${(f.cost.flops / 1e6).toFixed(1)} M (matrix products ${
    (f.cost.matmulFlops / 1e6).toFixed(1)
  } M) |
| default grid (K = 2) | ${
    JSON.stringify(f.defaultGrid.map(round))
  } (midpoint chosen on training prompts, below) |
| files | \`model.onnx\` + \`model.bin\` (${
    (f.bytes / 1e6).toFixed(1)
  } MB), ONNX Runtime vs TF.js max abs diff ${f.parity.toExponential(1)} |
| tokenizer | shapes-vocab-v1 (${f.config.vocabSize} words, ${f.config.textLength} tokens); all-padding = unconditional |

## Held-out composition accuracy

${e.prompts} prompts from the held-out split (\`shapes-split-v1\` eval: colour–shape
bindings never seen in training), one image each, seed \`${e.seed} + i\` for prompt
i, sampled by \`src/sampler.ts\` — ${sampler} — and judged by
\`src/shapes/verdict.ts\`. Strict: every constraint of the prompt holds;
partial: mean fraction of constraints that hold.

| K | grid | strict | partial | images |
|---|---|---|---|---|
${table.join("\n")}

The default two-step grid (the model's metadata; \`generate\` with \`steps: 2\`)
takes the midpoint with the best strict accuracy on ${f.gridSweep[0].count} training prompts
(one image each); held-out prompts play no part in the choice:

| midpoint | strict (train) | partial (train) |
|---|---|---|
${midpoints.join("\n")}

Reference: the guided teacher itself (w = ${e.teacher.guidance}, ${e.teacher.steps} Euler
steps, two network passes per step) scores ${percent(e.teacher.strict)} strict,
${percent(e.teacher.partial)} partial on the same prompts and seeds.

## Samples

\`samples.png\`: rows are held-out prompts, columns K = 1, 2 (default grid), 4 (same seed
per row):

${f.samplePrompts.map((p, i) => `${i + 1}. ${p}`).join("\n")}

## Recipe

1. **Teacher** (the two-time network at r = t, i.e. a velocity model): flow
   matching on rectified flow, \`x_t = (1 − t)·x0 + t·ε\`, target \`ε − x0\`,
   logit-normal t (mean ${f.teacherFacts.timeMean}; positive favours the noisy times where
   the layout is decided), prompt dropout 10 % (all-padding tokens) for classifier-free
   guidance; AdamW (lr ${f.teacherFacts.lr}, 50 warm-up steps, weight decay
   0.01, β = (0.9, 0.99), clip 1), EMA 0.999, batch ${f.teacherFacts.batch}, data rendered on the fly
   from training prompts. ${f.teacherFacts.steps} steps, ${
    minutes(f.teacherFacts.seconds)
  }, final loss ${f.teacherFacts.loss}.
2. **Trajectories**: guidance scale chosen on 64 *training* prompts by
   strict accuracy of the guided ODE (${f.guidance.odeSteps} Euler steps):

   | w | strict | partial |
   |---|---|---|
${sweep.map((l) => `   ${l}`).join("\n")}

   then ${f.facts.trajectories} trajectories of the guided teacher ODE (w = ${f.guidance.guidance},
   ${f.guidance.odeSteps} uniform Euler steps) from seeded noise on training prompts, every state
   stored. Guidance is folded into the students: one network pass per step.
3. **This student** ${objective}. States between stored times are linear
   interpolations (exact for the Euler path). AdamW lr ${f.facts.lr}, 50 warm-up steps,
   EMA 0.999, batch ${f.facts.batch}: ${f.facts.steps} steps, ${
    minutes(f.facts.seconds)
  }, final loss ${f.facts.loss}.

Reproduce (from the repository root; OpenBLAS kernels are picked
automatically; batches, noise and times are seeded by step, so a step budget
replays this run — it was run with minute budgets, which stopped it at these
step counts):

\`\`\`sh
deno task pretrain --stage teacher --batch ${f.teacherFacts.batch} --lr ${f.teacherFacts.lr} \\
  --time-mean ${f.teacherFacts.timeMean} --steps ${f.teacherFacts.steps}
deno task pretrain --stage trajectories --trajectories ${f.facts.trajectories} --ode-steps ${f.guidance.odeSteps} \\
  --guidance ${f.guidance.sweep.map((r) => r.guidance).join(",")}
deno task pretrain --stage ${stage} --batch ${f.facts.batch} --lr ${f.facts.lr} --steps ${f.facts.steps}
deno task pretrain --stage evaluate --eval-prompts ${e.prompts}
deno task pretrain --stage bundle
\`\`\`

## Known limits

- Tiny and briefly trained (minutes on a CPU): shapes are recognisable but
  edges are soft and counts, colours and relations often fail; that headroom
  is intended for RL post-training.
- Distilled from a ${f.guidance.odeSteps}-step Euler teacher: the student can be no better
  than that teacher's ODE, and inherits its guidance scale (w = ${f.guidance.guidance}).
- Trained and evaluated only at 32×32 on the shapes world's vocabulary;
  any other word is refused by the tokenizer.
`;
}

/**
 * Writes a card atomically.
 *
 * @example
 * ```ts ignore
 * import { writeCard } from "./card.ts";
 * await writeCard("src/models/shapes-scm/card.md", facts);
 * ```
 */
export async function writeCard(path: string, facts: CardFacts): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(renderCard(facts)));
}
