/**
 * Prints the parameter count and FLOPs per forward pass (batch 1) of the
 * default flow-map networks, traced from the one network definition.
 *
 * @example
 * ```sh
 * npx -y deno@2.9.6 run scripts/model-info.ts
 * npx -y deno@2.9.6 run scripts/model-info.ts --json
 * ```
 *
 * @module
 */

import { meanFlowConfig, type ModelConfig, scmConfig } from "../trainer/model/config.ts";
import { forwardCost } from "../trainer/model/cost.ts";
import { parseFlags, runCommand } from "../cli/command.ts";

const HELP = `Usage: deno run scripts/model-info.ts [--json] [--help]

Parameters and FLOPs per forward pass (batch 1, one network evaluation per
sampling step) of the default two-time (MeanFlow) and one-time (sCM) models.
Matmul FLOPs count 2·m·k·n per matrix product; total FLOPs add one per output
element of every other op (a few more for softmax, LayerNorm and GELU).

  --json   print one JSON object per model instead of a table
  --help   show this help`;

/** One row of the report. */
interface ModelInfo {
  name: string;
  kind: string;
  path: string;
  parameters: number;
  matmulFlops: number;
  flops: number;
  config: ModelConfig;
}

function parseCommand(args: string[]): { json?: boolean } | "help" {
  const values = parseFlags(args, {
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  return values.help ? "help" : values;
}

function run({ json }: { json?: boolean }): void {
  const rows: ModelInfo[] = [["shapes-meanflow", meanFlowConfig], ["shapes-scm", scmConfig]].map(
    ([name, config]) => {
      const c = config as ModelConfig;
      const cost = forwardCost(c);
      return {
        name: name as string,
        kind: c.kind,
        path: `${c.path.name}${c.path.name === "trigflow" ? ` (sigma_d ${c.path.sigmaD})` : ""}`,
        parameters: cost.parameters,
        matmulFlops: cost.matmulFlops,
        flops: cost.flops,
        config: c,
      };
    },
  );
  if (json) {
    for (const row of rows) console.log(JSON.stringify(row));
    return;
  }
  console.log("| model | kind | path | parameters | matmul MFLOP | total MFLOP |");
  console.log("|---|---|---|---:|---:|---:|");
  for (const r of rows) {
    const mflop = (n: number) => (n / 1e6).toFixed(1);
    console.log(
      `| ${r.name} | ${r.kind} | ${r.path} | ${r.parameters.toLocaleString("en-US")} | ${
        mflop(r.matmulFlops)
      } | ${mflop(r.flops)} |`,
    );
  }
  const c = meanFlowConfig;
  console.log(
    `\nnetwork: ${c.depth} double-stream blocks, width ${c.hiddenDim}, ${c.heads} heads, ` +
      `MLP ×${c.mlpRatio}, ${(c.imageSize / c.patchSize) ** 2} image tokens ` +
      `(patch ${c.patchSize}) + ${c.textLength} text tokens`,
  );
}

if (import.meta.main) {
  Deno.exit(await runCommand("model-info", Deno.args, { help: HELP, parse: parseCommand, run }));
}
