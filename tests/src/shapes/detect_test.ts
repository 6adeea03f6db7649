import assert from "node:assert/strict";
import { UniformStream } from "../../../src/rng.ts";
import { renderPrompt } from "../../../trainer/data/dataset.ts";
import { detectObjects } from "../../../src/shapes/detect.ts";
import { createImage } from "../../../src/shapes/image.ts";
import { addNoise, gaussianBlur } from "../../../trainer/data/perturb.ts";
import { allPrompts, canonicalKey, parsePrompt } from "../../../src/shapes/prompts.ts";
import { renderScene, type SceneObject } from "../../../src/shapes/render.ts";
import { evaluateImage } from "../../../src/shapes/verdict.ts";

const prompts = allPrompts();
const specs = prompts.map(parsePrompt);
const keys = specs.map(canonicalKey);

function scene(...objects: SceneObject[]) {
  return renderScene({ width: 32, height: 32, objects });
}

Deno.test("ground truth: every prompt's render passes strictly (≥ 99 %), also blurred or noisy", () => {
  let strict = 0, blurred = 0, noisy = 0;
  for (const [i, prompt] of prompts.entries()) {
    const { image, spec } = renderPrompt(prompt, 1000 + i);
    strict += Number(evaluateImage(image, spec).strict);
    if (i % 4 === 0) {
      blurred += Number(evaluateImage(gaussianBlur(image, 0.75), spec).strict);
      noisy += Number(evaluateImage(addNoise(image, 0.05, i), spec).strict);
    }
  }
  assert.ok(strict / prompts.length >= 0.99, `strict accuracy ${strict / prompts.length}`);
  const quarter = Math.ceil(prompts.length / 4);
  assert.ok(blurred / quarter >= 0.97, `blur 0.75 accuracy ${blurred / quarter}`);
  assert.ok(noisy / quarter >= 0.97, `noise 0.05 accuracy ${noisy / quarter}`);
});

Deno.test("detections recover shape, colour and position of rendered objects", () => {
  const objects = detectObjects(scene(
    { shape: "circle", color: "red", cx: 8, cy: 8, size: 5 },
    { shape: "square", color: "purple", cx: 24, cy: 9, size: 4 },
    { shape: "triangle", color: "cyan", cx: 16, cy: 24, size: 5 },
  ));
  assert.deepEqual(objects.map((o) => `${o.color} ${o.shape}`), [
    "red circle",
    "purple square",
    "cyan triangle",
  ]);
  assert.ok(Math.abs(objects[0].x - 8) < 0.05 && Math.abs(objects[0].y - 8) < 0.05);
  assert.ok(Math.abs(objects[2].y - (24 + 5 / 3)) < 0.1); // a triangle's centroid sits 1/3 below its box centre
  assert.ok(Math.abs(objects[1].area - 64) < 1);
});

Deno.test("random noise and blank images fail strictly and earn almost no partial credit", () => {
  let partial = 0, count = 0;
  for (const [i, prompt] of prompts.entries()) {
    if (i % 3 !== 0) continue;
    const rng = new UniformStream(i, 77);
    const image = createImage(32, 32);
    for (let k = 0; k < image.data.length; k++) image.data[k] = rng.nextInt(256);
    for (const candidate of [image, gaussianBlur(image, 1)]) {
      const verdict = evaluateImage(candidate, prompt);
      assert.equal(verdict.strict, false, prompt);
      partial += verdict.partial, count += 1;
    }
    assert.equal(evaluateImage(createImage(32, 32), prompt).partial, 0, prompt);
  }
  assert.ok(partial / count < 0.02, `mean partial credit on noise ${partial / count}`);
});

Deno.test("images of a different prompt of the same category fail", () => {
  let passed = 0, total = 0;
  for (const [i, spec] of specs.entries()) {
    const rng = new UniformStream(i, 5);
    const same = prompts.filter((_, j) =>
      specs[j].category === spec.category && keys[j] !== keys[i]
    );
    const wrong = same[rng.nextInt(same.length)];
    passed += Number(evaluateImage(renderPrompt(wrong, i).image, spec).strict);
    total += 1;
  }
  assert.ok(passed / total <= 0.01, `wrong-prompt pass rate ${passed / total}`);
});

Deno.test("targeted failures: each broken constraint is named and costs partial credit", () => {
  const red = { shape: "circle", color: "red", cy: 16, size: 4.5 } as const;
  const failing = (image: ReturnType<typeof scene>, prompt: string) => {
    const verdict = evaluateImage(image, prompt);
    assert.equal(verdict.strict, false);
    return [
      verdict.partial,
      verdict.constraints.filter((c) => !c.satisfied).map((c) => c.description),
    ];
  };
  // wrong count
  const three = scene({ ...red, cx: 6, size: 3.5 }, { ...red, cx: 16, size: 3.5 }, {
    ...red,
    cx: 26,
    size: 3.5,
  });
  assert.equal(evaluateImage(three, "three circles").strict, true);
  assert.deepEqual(failing(three, "two circles"), [0.5, ["exactly two circles"]]);
  // wrong colour
  const blue = scene({ ...red, color: "blue", cx: 16 });
  assert.deepEqual(failing(blue, "a red circle"), [2 / 3, ["the circle is red"]]);
  // swapped positions
  const pair = scene({ ...red, cx: 8 }, {
    shape: "square",
    color: "blue",
    cx: 24,
    cy: 15,
    size: 4,
  });
  assert.equal(evaluateImage(pair, "a red circle left of a blue square").strict, true);
  assert.equal(evaluateImage(pair, "a blue square right of a red circle").strict, true);
  assert.deepEqual(failing(pair, "a blue square left of a red circle"), [
    0.75,
    ["one blue square left of one red circle"],
  ]);
  assert.deepEqual(failing(pair, "a red circle above a blue square"), [0.75, [
    "one red circle above one blue square",
  ]]);
  // missing object
  const lone = scene({ ...red, cx: 8 });
  assert.deepEqual(failing(lone, "a red circle and a blue square"), [2 / 3, [
    "exactly one blue square",
  ]]);
  assert.deepEqual(failing(lone, "a red circle left of a blue square"), [
    0.5,
    ["exactly one blue square", "one red circle left of one blue square"],
  ]);
  // extra object and wrong shape
  const extra = scene({ ...red, cx: 8 }, {
    shape: "triangle",
    color: "green",
    cx: 24,
    cy: 16,
    size: 5,
  });
  assert.deepEqual(failing(extra, "a red circle"), [2 / 3, ["nothing else"]]);
  assert.deepEqual(failing(scene({ ...red, shape: "square", cx: 16 }), "a red circle"), [0, [
    "exactly one circle",
    "the circle is red",
    "nothing else",
  ]]);
  // colour attribution: colours swapped between the shapes
  const swapped = scene({ ...red, color: "blue", cx: 8 }, {
    shape: "square",
    color: "red",
    cx: 24,
    cy: 16,
    size: 4,
  });
  assert.deepEqual(failing(swapped, "a red circle and a blue square"), [0, [
    "exactly one red circle",
    "exactly one blue square",
    "nothing else",
  ]]);
});
