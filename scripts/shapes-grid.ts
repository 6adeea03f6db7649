/**
 * Renders a PNG grid of shapes-world prompts, their images and the pixel
 * evaluator's verdicts, so a person can check renderer and evaluator at a
 * glance. Every third cell (by default) judges an image drawn for a different
 * prompt of the same category, to show failing verdicts too.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import sharp from "sharp";
import { UniformStream } from "../src/rng.ts";
import { renderPrompt } from "../trainer/data/dataset.ts";
import { allPrompts, canonicalKey, CATEGORIES, parsePrompt } from "../src/shapes/prompts.ts";
import { type Split, splitPrompts } from "../trainer/data/splits.ts";
import { evaluateImage } from "../src/shapes/verdict.ts";
import { parseFlags, runCommand } from "../cli/command.ts";
import { integer, readFlag } from "../cli/readers.ts";

const HELP = `Usage: deno run -A scripts/shapes-grid.ts [options]

Renders prompts of the shapes world with their images and evaluator verdicts.

Options:
  --out <file>        output PNG (default scripts/shapes-grid.png)
  --split <name>      train | eval | all (default all)
  --cells <n>         number of cells, spread over the six categories (default 24)
  --columns <n>       cells per row (default 6)
  --mismatch <k>      one cell in k (on diagonals) judges an image of another prompt; 0 = never (default 3)
  --seed <n>          picks prompts and layouts (default 0)
  --scale <n>         pixel upscaling of the 32×32 images (default 4)
  -h, --help          show this help`;

interface Options {
  readonly out: string;
  readonly split: Split | "all";
  readonly cells: number;
  readonly columns: number;
  readonly mismatch: number;
  readonly seed: number;
  readonly scale: number;
}

function parseCommand(args: string[]): Options | "help" {
  const values = parseFlags(args, {
    out: { type: "string", default: "scripts/shapes-grid.png" },
    split: { type: "string", default: "all" },
    cells: { type: "string", default: "24" },
    columns: { type: "string", default: "6" },
    mismatch: { type: "string", default: "3" },
    seed: { type: "string", default: "0" },
    scale: { type: "string", default: "4" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) return "help";
  const int = (name: "cells" | "columns" | "mismatch" | "seed" | "scale", min: number) =>
    readFlag(integer({ min }), values[name], `--${name}`);
  if (!["train", "eval", "all"].includes(values.split)) {
    throw new Error(`--split must be train, eval or all, got ${values.split}`);
  }
  return {
    out: values.out,
    split: values.split as Split | "all",
    cells: int("cells", 1),
    columns: int("columns", 1),
    mismatch: int("mismatch", 0),
    seed: int("seed", 0),
    scale: int("scale", 1),
  };
}

async function run({ out, split, cells, columns, mismatch, seed, scale }: Options): Promise<void> {
  const prompts = split === "all" ? allPrompts() : splitPrompts(split);

  // prompts round-robin over the categories, drawn with a seeded stream
  const rng = new UniformStream(seed, 1);
  const byCategory = CATEGORIES.map((c) => prompts.filter((p) => parsePrompt(p).category === c));
  const chosen = Array.from({ length: cells }, (_, i) => {
    const pool = byCategory[i % CATEGORIES.length];
    return pool[rng.nextInt(pool.length)];
  });

  const side = 32 * scale, cellWidth = Math.max(side + 16, 210), line = 13, textLines = 5;
  const cellHeight = side + 12 + line * textLines + 8;
  const rows = Math.ceil(cells / columns);
  const width = columns * cellWidth, height = rows * cellHeight;
  const tiles: { input: Buffer; left: number; top: number }[] = [];
  const text: string[] = [];
  const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

  for (const [i, prompt] of chosen.entries()) {
    const spec = parsePrompt(prompt);
    let drawn = prompt;
    if (mismatch > 0 && (i + Math.floor(i / columns)) % mismatch === mismatch - 1) {
      const others = byCategory[i % CATEGORIES.length].filter((p) =>
        canonicalKey(parsePrompt(p)) !== canonicalKey(spec)
      );
      drawn = others[rng.nextInt(others.length)];
    }
    const { image } = renderPrompt(drawn, seed * 1000 + i);
    const verdict = evaluateImage(image, spec);
    const x = (i % columns) * cellWidth, y = Math.floor(i / columns) * cellHeight;
    const png = await sharp(image.data, { raw: { width: 32, height: 32, channels: 3 } })
      .resize(side, side, { kernel: "nearest" })
      .png()
      .toBuffer();
    tiles.push({ input: png, left: x + Math.floor((cellWidth - side) / 2), top: y + 8 });
    const failed = verdict.constraints.filter((c) => !c.satisfied).map((c) => c.description);
    const lines: [string, string][] = [
      ...wrap(`“${prompt}”`, 36).slice(0, 2).map((t): [string, string] => [t, "#111"]),
      [
        `${verdict.strict ? "PASS" : "FAIL"} · partial ${
          verdict.partial.toFixed(2)
        } · ${spec.category}`,
        verdict.strict ? "#0a7a26" : "#c01818",
      ],
      [
        failed.length > 0 ? `✗ ${failed.join("; ")}` : `found: ${summary(verdict.objects)}`,
        failed.length > 0 ? "#c01818" : "#555",
      ],
    ];
    if (drawn !== prompt) lines.splice(2, 0, [`(image of “${drawn}”)`, "#555"]);
    lines.slice(0, textLines).forEach(([t, color], k) => {
      text.push(
        `<text x="${x + cellWidth / 2}" y="${y + side + 22 + k * line}" fill="${color}">${
          escape(clip(t, 40))
        }</text>`,
      );
    });
  }

  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<style>text { font-family: 'DejaVu Sans', sans-serif; font-size: 10.5px; text-anchor: middle; }</style>
${text.join("\n")}
</svg>`;
  await sharp({ create: { width, height, channels: 3, background: "#f4f4f0" } })
    .composite([...tiles, { input: Buffer.from(svg), left: 0, top: 0 }])
    .png({ palette: true, compressionLevel: 9 })
    .toFile(out);
  console.log(`wrote ${out} (${width}×${height}, ${cells} cells, split ${split})`);
}

function wrap(s: string, width: number): string[] {
  const out: string[] = [];
  for (const word of s.split(" ")) {
    const last = out.at(-1);
    if (last !== undefined && last.length + word.length < width) {
      out[out.length - 1] = `${last} ${word}`;
    } else out.push(word);
  }
  return out;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function summary(objects: readonly { shape: string; color: string }[]): string {
  return objects.map((o) => `${o.color} ${o.shape}`).join(", ") || "nothing";
}

if (import.meta.main) {
  Deno.exit(await runCommand("shapes-grid", Deno.args, { help: HELP, parse: parseCommand, run }));
}
