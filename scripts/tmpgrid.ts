import { generate, loadModel } from "../mod.ts";
import { splitPrompts } from "../trainer/data/splits.ts";
import { evaluateImage } from "../trainer/data/verdict.ts";
import { UniformStream } from "../src/rng.ts";
import { angularGrid } from "../src/grid.ts";
const all = [...splitPrompts("train")];
const rng = new UniformStream(77);
const prompts = Array.from({ length: 256 }, () => all[rng.nextInt(all.length)]);
for (const name of ["shapes-meanflow", "shapes-scm"]) {
  const model = await loadModel(new URL(`../src/models/${name}/model.onnx`, import.meta.url).pathname, { threads: 1 });
  const tMax = angularGrid(1)[0];
  const mids = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  const grids: number[][] = name === "shapes-meanflow" ? mids.map((m) => [1, m, 0]) : mids.map((m) => [tMax, tMax * m, 0]);
  grids.push(name === "shapes-meanflow" ? [1, 0.75, 0.5, 0.25, 0] : angularGrid(4));
  for (const grid of grids) {
    let strict = 0, partial = 0;
    for (let s = 0; s < prompts.length; s += 32) {
      const chunk = prompts.slice(s, s + 32);
      const images = await generate(model, { prompts: chunk, grid, seed: 5000 + s });
      images.forEach((im, i) => { const v = evaluateImage(im, chunk[i]); strict += v.strict ? 1 : 0; partial += v.partial; });
    }
    console.log(name, grid.map((g) => g.toFixed(3)).join(","), "strict", (100 * strict / prompts.length).toFixed(1), "partial", (100 * partial / prompts.length).toFixed(1));
  }
  await model.dispose();
}
