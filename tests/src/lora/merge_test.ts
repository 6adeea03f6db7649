import assert from "node:assert/strict";
import {
  checkLoraAdapters,
  encodeLoraAdapter,
  encodeSafetensors,
  float32Tensor,
  type LoraAdapter,
  LoraError,
  type LoraErrorCode,
  type LoraModule,
  type LoraTarget,
  mergeLoraAdapters,
  NormalStream,
  parseLoraAdapter,
  type ScaledLoraAdapter,
} from "../../../mod.ts";

/**
 * A model's external data: three targetable weights (W^T, [in, out]) with
 * non-target bytes before, between and after them, one at an offset that is
 * not a multiple of 4.
 */
const TARGETS: LoraTarget[] = [
  { module: "blocks.0.attn.to_q", initializer: "q.weight", shape: [6, 6], offset: 16, length: 144 },
  {
    module: "blocks.0.attn.to_out",
    initializer: "out.weight",
    shape: [6, 4],
    offset: 162,
    length: 96,
  },
  { module: "blocks.1.mlp", initializer: "mlp.weight", shape: [4, 8], offset: 300, length: 128 },
];
const BASE_LENGTH = 500;

function baseBytes(): Uint8Array {
  const bytes = new Uint8Array(BASE_LENGTH).map((_, i) => (i * 37 + 11) % 256);
  const view = new DataView(bytes.buffer);
  const noise = new NormalStream(99);
  for (const { offset, length } of TARGETS) {
    const values = noise.fill(new Float32Array(length / 4));
    values.forEach((value, i) => view.setFloat32(offset + 4 * i, value, true));
  }
  return bytes;
}

function randomModule(
  module: string,
  rank: number,
  [inFeatures, outFeatures]: readonly number[],
  alpha: number,
  seed: number,
): LoraModule {
  const noise = new NormalStream(seed);
  return {
    module,
    rank,
    inFeatures,
    outFeatures,
    alpha,
    a: noise.fill(new Float32Array(rank * inFeatures)),
    b: noise.fill(new Float32Array(outFeatures * rank)),
  };
}

function adapterOf(...modules: LoraModule[]): LoraAdapter {
  return { metadata: {}, modules: new Map(modules.map((module) => [module.module, module])) };
}

/** Several adapters, two of them on the same layer, with assorted ranks, alphas and scales. */
function scaledAdapters(): ScaledLoraAdapter[] {
  const [q, out, mlp] = TARGETS;
  return [
    {
      adapter: adapterOf(
        randomModule(q.module, 2, q.shape, 4, 1),
        randomModule(mlp.module, 3, mlp.shape, 1.5, 2),
      ),
      scale: 0.8,
    },
    { adapter: adapterOf(randomModule(q.module, 4, q.shape, 4, 3)), scale: -0.35 },
    { adapter: adapterOf(randomModule(out.module, 1, out.shape, 8, 4)), scale: 1 },
  ];
}

/**
 * The naive reference, written independently of src/lora/merge.ts: build the
 * matrices A^T [in][r] and B^T [r][out] explicitly, multiply, and add
 * (alpha / r) · scale · A^T B^T to W^T in float64, rounding to float32 once.
 */
function referenceMerge(base: Uint8Array, adapters: ScaledLoraAdapter[]): Uint8Array {
  const out = base.slice();
  const view = new DataView(out.buffer);
  for (const target of TARGETS) {
    const [rows, columns] = target.shape;
    const delta = Array.from({ length: rows }, () => new Array<number>(columns).fill(0));
    for (const { adapter, scale } of adapters) {
      const module = adapter.modules.get(target.module);
      if (module === undefined) continue;
      const r = module.rank;
      const aT = Array.from(
        { length: rows },
        (_, i) => Array.from({ length: r }, (_, k) => module.a[k * rows + i]),
      );
      const bT = Array.from(
        { length: r },
        (_, k) => Array.from({ length: columns }, (_, j) => module.b[j * r + k]),
      );
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < columns; j++) {
          let product = 0;
          for (let k = 0; k < r; k++) product += aT[i][k] * bT[k][j];
          delta[i][j] += (module.alpha / r) * scale * product;
        }
      }
    }
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < columns; j++) {
        const position = target.offset + 4 * (i * columns + j);
        if (delta[i][j] !== 0) {
          view.setFloat32(
            position,
            Math.fround(view.getFloat32(position, true) + delta[i][j]),
            true,
          );
        }
      }
    }
  }
  return out;
}

function assertLoraError(
  run: () => unknown,
  code: LoraErrorCode,
  message: RegExp,
  modules?: string[],
): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof LoraError, `expected LoraError, got ${error}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    if (modules !== undefined) assert.deepEqual(error.modules, modules);
    return true;
  });
}

Deno.test("merging several scaled adapters equals the naive W^T + (alpha/r)·scale·A^T B^T, bit for bit", () => {
  const base = baseBytes();
  const adapters = scaledAdapters();
  const merged = mergeLoraAdapters(base, TARGETS, adapters);
  assert.deepEqual(merged, referenceMerge(base, adapters));
  // Non-target bytes are untouched; every target changed.
  const inTarget = (i: number) =>
    TARGETS.some(({ offset, length }) => i >= offset && i < offset + length);
  for (let i = 0; i < base.length; i++) {
    if (!inTarget(i)) assert.equal(merged[i], base[i], `byte ${i}`);
  }
  for (const { offset, length } of TARGETS) {
    assert.notDeepEqual(
      merged.subarray(offset, offset + length),
      base.subarray(offset, offset + length),
    );
  }
});

Deno.test("the merged layer equals the trainer's LoRA forward x W^T + c (x A^T) B^T", () => {
  // Export → import round trip first, as the trainer's adapters arrive as files.
  const target = TARGETS[0];
  const module = randomModule(target.module, 3, target.shape, 6, 21);
  const scale = 0.7;
  const adapter = parseLoraAdapter(encodeLoraAdapter([module]));
  assert.deepEqual(adapter.modules.get(target.module), module);
  const base = baseBytes();
  const merged = mergeLoraAdapters(base, TARGETS, [{ adapter, scale }]);

  const [inFeatures, outFeatures] = target.shape;
  const weights = (bytes: Uint8Array) =>
    new Float32Array(bytes.slice(target.offset, target.offset + target.length).buffer);
  const baseW = weights(base), mergedW = weights(merged);
  const x = new NormalStream(5).fill(new Float32Array(3 * inFeatures));
  const factor = (module.alpha / module.rank) * scale;
  for (let row = 0; row < 3; row++) {
    const xA = Array.from({ length: module.rank }, (_, k) => {
      let sum = 0;
      for (let i = 0; i < inFeatures; i++) {
        sum += x[row * inFeatures + i] * module.a[k * inFeatures + i];
      }
      return sum;
    });
    for (let j = 0; j < outFeatures; j++) {
      let lora = 0, viaMerged = 0;
      for (let i = 0; i < inFeatures; i++) {
        lora += x[row * inFeatures + i] * baseW[i * outFeatures + j];
        viaMerged += x[row * inFeatures + i] * mergedW[i * outFeatures + j];
      }
      for (let k = 0; k < module.rank; k++) lora += factor * xA[k] * module.b[j * module.rank + k];
      assert.ok(
        Math.abs(lora - viaMerged) <= 1e-5 * (1 + Math.abs(lora)),
        `row ${row}, column ${j}`,
      );
    }
  }
});

Deno.test("removing adapters restores the exact base bytes, and the base is never written", () => {
  const base = baseBytes();
  const snapshot = base.slice();
  const once = mergeLoraAdapters(base, TARGETS, scaledAdapters());
  const twice = mergeLoraAdapters(base, TARGETS, scaledAdapters());
  assert.deepEqual(once, twice);
  assert.deepEqual(base, snapshot);
  const empty = mergeLoraAdapters(base, TARGETS, []);
  assert.deepEqual(empty, base);
  assert.notEqual(empty.buffer, base.buffer);
  // A subarray of a larger buffer works too.
  const padded = new Uint8Array(BASE_LENGTH + 24);
  padded.set(base, 8);
  assert.deepEqual(
    mergeLoraAdapters(padded.subarray(8, 8 + BASE_LENGTH), TARGETS, scaledAdapters()),
    once,
  );
});

Deno.test("a fresh adapter (B = 0) or scale 0 leaves every byte as it was, even -0", () => {
  const base = baseBytes();
  new DataView(base.buffer).setFloat32(TARGETS[0].offset, -0, true);
  const fresh = {
    ...randomModule(TARGETS[0].module, 2, TARGETS[0].shape, 2, 8),
    b: new Float32Array(12),
  };
  assert.deepEqual(
    mergeLoraAdapters(base, TARGETS, [{ adapter: adapterOf(fresh), scale: 1 }]),
    base,
  );
  const trained = randomModule(TARGETS[0].module, 2, TARGETS[0].shape, 2, 9);
  assert.deepEqual(
    mergeLoraAdapters(base, TARGETS, [{ adapter: adapterOf(trained), scale: 0 }]),
    base,
  );
});

Deno.test("PEFT- and diffusers-prefixed adapters match the model's module names", () => {
  const [q] = TARGETS;
  const module = randomModule(q.module, 2, q.shape, 2, 10);
  const [rows, columns] = q.shape;
  const tensors = (prefix: string) => ({
    [`${prefix}${q.module}.lora_A.weight`]: float32Tensor(module.a, [2, rows]),
    [`${prefix}${q.module}.lora_B.weight`]: float32Tensor(module.b, [columns, 2]),
  });
  const base = baseBytes();
  const expected = mergeLoraAdapters(base, TARGETS, [{ adapter: adapterOf(module), scale: 1 }]);
  for (const prefix of ["", "base_model.model.", "transformer.", "base_model.model.unet."]) {
    const adapter = parseLoraAdapter(encodeSafetensors(tensors(prefix)));
    assert.deepEqual(mergeLoraAdapters(base, TARGETS, [{ adapter, scale: 1 }]), expected, prefix);
  }
  // Targets named with a component prefix match as well.
  const prefixedTargets = TARGETS.map((target) => ({
    ...target,
    module: `transformer.${target.module}`,
  }));
  assert.deepEqual(
    mergeLoraAdapters(base, prefixedTargets, [{ adapter: adapterOf(module), scale: 1 }]),
    expected,
  );
});

Deno.test("adapters with modules the model lacks are refused, naming every one", () => {
  const [q, out] = TARGETS;
  const adapters = [
    {
      adapter: adapterOf(
        randomModule(q.module, 2, q.shape, 2, 1),
        randomModule("blocks.9.ghost", 1, [2, 2], 1, 2),
      ),
      scale: 1,
    },
    { adapter: adapterOf(randomModule("text_encoder.proj", 1, [2, 2], 1, 3)), scale: 1 },
    { adapter: adapterOf(randomModule(out.module, 1, [4, 6], 1, 4)), scale: 1 },
  ];
  for (
    const run of [
      () => mergeLoraAdapters(baseBytes(), TARGETS, adapters),
      () => checkLoraAdapters(TARGETS, adapters),
    ]
  ) {
    assertLoraError(
      run,
      "unknown_module",
      /no LoRA target for: blocks\.9\.ghost, text_encoder\.proj; modules whose shape differs from the model's: blocks\.0\.attn\.to_out \(adapter \[in 4, out 6\], model out\.weight \[6, 4\]\)/,
      ["blocks.0.attn.to_out", "blocks.9.ghost", "text_encoder.proj"],
    );
  }
});

Deno.test("adapters whose shapes differ from the model's are refused, naming every one", () => {
  const [q, out, mlp] = TARGETS;
  const adapters = [{
    adapter: adapterOf(
      randomModule(q.module, 2, [6, 5], 2, 1),
      randomModule(out.module, 2, out.shape, 2, 2),
      randomModule(mlp.module, 2, [8, 4], 2, 3),
    ),
    scale: 1,
  }];
  assertLoraError(
    () => checkLoraAdapters(TARGETS, adapters),
    "shape_mismatch",
    /blocks\.0\.attn\.to_q \(adapter \[in 6, out 5\], model q\.weight \[6, 6\]\), blocks\.1\.mlp \(adapter \[in 8, out 4\], model mlp\.weight \[4, 8\]\)/,
    ["blocks.0.attn.to_q", "blocks.1.mlp"],
  );
  checkLoraAdapters(TARGETS, scaledAdapters());
});

Deno.test("invalid targets, bases and scales are refused", () => {
  const [q, out] = TARGETS;
  const adapters = scaledAdapters();
  const base = baseBytes();
  const cases: [LoraTarget[], RegExp, string[]][] = [
    [
      [q, { ...out, offset: 100 }],
      /blocks\.0\.attn\.to_out: its bytes overlap those of blocks\.0\.attn\.to_q/,
      ["blocks.0.attn.to_out"],
    ],
    [[q, { ...q }], /blocks\.0\.attn\.to_q: listed twice/, ["blocks.0.attn.to_q"]],
    [[q, { ...out, module: `unet.${q.module}` }], /unet\.blocks\.0\.attn\.to_q: listed twice/, [
      `unet.${q.module}`,
    ]],
    [[{ ...q, length: 140 }], /length 140 ≠ 6 × 6 × 4 bytes/, [q.module]],
    [[{ ...q, shape: [6, 0] }], /shape must be \[in, out\] with positive integers/, [q.module]],
    [[{ ...q, offset: -4 }], /offset must be a non-negative integer/, [q.module]],
  ];
  for (const [targets, message, modules] of cases) {
    assertLoraError(() => mergeLoraAdapters(base, targets, []), "invalid_target", message, modules);
  }
  assertLoraError(
    () => mergeLoraAdapters(base.subarray(0, 400), TARGETS, []),
    "invalid_base",
    /external data is 400 bytes but the LoRA targets reach byte 428/,
  );
  for (const scale of [NaN, Infinity, "1" as unknown as number]) {
    assertLoraError(
      () => mergeLoraAdapters(base, TARGETS, [adapters[0], { ...adapters[1], scale }]),
      "invalid_scale",
      /adapter 1 has scale .*; need a finite number/,
    );
  }
});

Deno.test("adapters built in memory are checked like parsed ones", () => {
  const [q] = TARGETS;
  const good = randomModule(q.module, 2, q.shape, 2, 1);
  const broken: [LoraModule, LoraErrorCode, RegExp][] = [
    [{ ...good, a: new Float32Array(3) }, "invalid_shape", /got A with 3 values/],
    [{ ...good, b: good.b.map((value, i) => (i === 4 ? NaN : value)) }, "non_finite", /NaN/],
    [{ ...good, alpha: 0 }, "invalid_alpha", /got 0/],
  ];
  for (const [module, code, message] of broken) {
    assertLoraError(
      () => mergeLoraAdapters(baseBytes(), TARGETS, [{ adapter: adapterOf(module), scale: 1 }]),
      code,
      message,
      [q.module],
    );
  }
});
