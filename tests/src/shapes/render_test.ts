import assert from "node:assert/strict";
import { renderPrompt } from "../../../trainer/data/dataset.ts";
import { createImage, imagesToTensor, tensorToImages } from "../../../src/shapes/image.ts";
import { allPrompts, parsePrompt } from "../../../src/shapes/prompts.ts";
import { renderScene, shapeCoverage } from "../../../src/shapes/render.ts";
import { sampleScene } from "../../../src/shapes/scene.ts";
import { PALETTE } from "../../../src/shapes/world.ts";

Deno.test("scenes are deterministic from the seed and differ across seeds", () => {
  const spec = parsePrompt("a green triangle above a yellow circle");
  assert.deepEqual(sampleScene(spec, 9), sampleScene(spec, 9));
  assert.deepEqual(renderScene(sampleScene(spec, 9)).data, renderScene(sampleScene(spec, 9)).data);
  assert.notDeepEqual(sampleScene(spec, 9), sampleScene(spec, 10));
});

Deno.test("every prompt lays out as asked: counts, colours, bounds, gaps, relations", () => {
  for (const [i, prompt] of allPrompts().entries()) {
    const spec = parsePrompt(prompt);
    const { objects, width, height } = sampleScene(spec, i);
    assert.equal(objects.length, spec.groups.reduce((n, g) => n + g.count, 0));
    let at = 0;
    for (const group of spec.groups) {
      for (let k = 0; k < group.count; k++, at++) {
        assert.equal(objects[at].shape, group.shape);
        if (group.color) assert.equal(objects[at].color, group.color);
      }
    }
    for (const [j, o] of objects.entries()) {
      assert.ok(
        o.cx - o.size >= 1 && o.cx + o.size <= width - 1 && o.cy - o.size >= 1 &&
          o.cy + o.size <= height - 1,
      );
      for (const p of objects.slice(j + 1)) {
        const gap = Math.max(Math.abs(o.cx - p.cx), Math.abs(o.cy - p.cy)) - o.size - p.size;
        assert.ok(gap >= 3, `${prompt}: gap ${gap}`);
      }
    }
    if (spec.relation) {
      const [a, b] = objects;
      const dx = b.cx - a.cx, dy = b.cy - a.cy;
      const along = { "left of": dx, "right of": -dx, "above": dy, "below": -dy }[spec.relation];
      const across = spec.relation.endsWith("of") ? Math.abs(dy) : Math.abs(dx);
      assert.ok(along >= 2 * across && along > 0, prompt);
    }
  }
});

Deno.test("rendering is anti-aliased: interior pixels are the palette colour, edges blend", () => {
  const image = renderScene({
    width: 32,
    height: 32,
    objects: [{ shape: "square", color: "blue", cx: 16.3, cy: 16, size: 5 }],
  });
  const at = (
    x: number,
    y: number,
  ) => [...image.data.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3)];
  assert.deepEqual(at(16, 16), [...PALETTE.blue]);
  assert.deepEqual(at(0, 0), [0, 0, 0]);
  // the right edge at x = 21.3 covers 30 % of pixel column 21
  assert.deepEqual(at(21, 16), PALETTE.blue.map((v) => Math.round(0.3 * v)));
  assert.equal(shapeCoverage("circle", 0, 0, 2, 0, 0), 1);
  assert.equal(shapeCoverage("triangle", 0, 0, 2, 0, -2.5), 0);
});

Deno.test("canvas size is configurable and objects scale with it", () => {
  const { image, scene } = renderPrompt("four circles", 3, { width: 64, height: 48 });
  assert.equal(image.width, 64);
  assert.equal(image.height, 48);
  assert.equal(image.data.length, 64 * 48 * 3);
  for (const o of scene.objects) assert.ok(o.size >= 3.5 * 1.5 && o.size <= 4.5 * 1.5);
  assert.throws(() => renderPrompt("a circle", 1, { width: 16 }), /at least 24/);
});

Deno.test("images convert to [-1, 1] tensors (CHW and HWC) and back exactly", () => {
  const { image } = renderPrompt("a red square and a blue circle", 4);
  const chw = imagesToTensor([image, image], "chw");
  assert.equal(chw.length, 2 * 3 * 32 * 32);
  assert.equal(chw[0 * 1024 + 5], image.data[5 * 3] / 127.5 - 1); // red plane, pixel 5
  assert.equal(chw[2 * 1024 + 5], image.data[5 * 3 + 2] / 127.5 - 1); // blue plane
  const hwc = imagesToTensor([image], "hwc");
  assert.equal(hwc[5 * 3 + 1], image.data[5 * 3 + 1] / 127.5 - 1);
  assert.deepEqual(tensorToImages(chw, 2, 32, 32, "chw")[1].data, image.data);
  assert.deepEqual(tensorToImages(hwc, 1, 32, 32, "hwc")[0].data, image.data);
  const odd = tensorToImages(Float32Array.of(NaN, 2, -3), 1, 1, 1, "hwc")[0].data;
  assert.deepEqual([...odd], [0, 255, 0]);
  assert.throws(() => imagesToTensor([image, createImage(16, 16)]), /image 1 is 16×16/);
  assert.throws(() => tensorToImages(chw, 3, 32, 32), /not 3 images/);
});
