import assert from "node:assert/strict";
import {
  encodeLoraAdapter,
  encodeSafetensors,
  float32Tensor,
  LORA_CONFIG_METADATA_KEY,
  LoraError,
  type LoraErrorCode,
  type LoraModule,
  normaliseModulePath,
  NormalStream,
  parseLoraAdapter,
  parseSafetensors,
  type SafetensorsTensor,
} from "../../../mod.ts";

const A = float32Tensor([1, 2, 3, 4, 5, 6], [2, 3]); // rank 2, in 3
const B = float32Tensor([1, 0, 0, 1, 1, 1, 2, 2], [4, 2]); // out 4, rank 2

function adapterFrom(
  tensors: Record<string, SafetensorsTensor>,
  metadata: Record<string, string> = {},
) {
  return parseLoraAdapter(encodeSafetensors(tensors, metadata));
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

Deno.test("PEFT keys, with and without the base_model.model. wrapper", () => {
  for (const prefix of ["base_model.model.", ""]) {
    const adapter = adapterFrom({
      [`${prefix}blocks.0.attn.to_q.lora_A.weight`]: A,
      [`${prefix}blocks.0.attn.to_q.lora_B.weight`]: B,
    }, { lora_alpha: "8" });
    assert.deepEqual([...adapter.modules.keys()], ["blocks.0.attn.to_q"]);
    const module = adapter.modules.get("blocks.0.attn.to_q")!;
    assert.deepEqual(
      [module.rank, module.inFeatures, module.outFeatures, module.alpha],
      [2, 3, 4, 8],
    );
    assert.deepEqual([...module.a], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...module.b], [1, 0, 0, 1, 1, 1, 2, 2]);
    assert.equal(adapter.metadata.lora_alpha, "8");
  }
});

Deno.test("diffusers and kohya spellings: component prefixes, down = A, up = B", () => {
  const adapter = adapterFrom({
    "transformer.blocks.0.attn.to_q.lora_A.weight": A,
    "transformer.blocks.0.attn.to_q.lora_B.weight": B,
    "unet.mid.proj.lora.down.weight": A,
    "unet.mid.proj.lora.up.weight": B,
    "base_model.model.transformer.out.lora_down.weight": A,
    "base_model.model.transformer.out.lora_up.weight": B,
    "out.alpha": float32Tensor([3], [], "F16"),
  });
  assert.deepEqual([...adapter.modules.keys()], ["blocks.0.attn.to_q", "mid.proj", "out"]);
  for (const module of adapter.modules.values()) {
    assert.deepEqual([...module.a], [1, 2, 3, 4, 5, 6], module.module);
    assert.deepEqual([...module.b], [1, 0, 0, 1, 1, 1, 2, 2], module.module);
  }
  assert.equal(adapter.modules.get("out")!.alpha, 3);
  assert.equal(adapter.modules.get("mid.proj")!.alpha, 2, "default alpha = rank");
});

Deno.test("module paths are normalised once, prefix by prefix", () => {
  assert.equal(normaliseModulePath("base_model.model.transformer.a.b"), "a.b");
  assert.equal(normaliseModulePath("unet.a"), "a");
  assert.equal(
    normaliseModulePath("transformer_blocks.0.attn.to_q"),
    "transformer_blocks.0.attn.to_q",
  );
  assert.equal(normaliseModulePath("transformer.unet.a"), "unet.a");
  assert.equal(normaliseModulePath("x.base_model.model.a"), "x.base_model.model.a");
});

Deno.test("alpha: per-module tensor, then config JSON, then metadata number, then rank", () => {
  const pair = (module: string) => ({
    [`${module}.lora_A.weight`]: A,
    [`${module}.lora_B.weight`]: B,
  });
  const tensors = {
    ...pair("a.q"),
    ...pair("a.k"),
    ...pair("b.v"),
    "a.q.alpha": float32Tensor([16], [1]),
  };
  const alphas = (metadata: Record<string, string>) =>
    [...adapterFrom(tensors, metadata).modules.values()].map((
      { module, alpha },
    ) => [module, alpha]);

  assert.deepEqual(alphas({}), [["a.k", 2], ["a.q", 16], ["b.v", 2]]);
  assert.deepEqual(alphas({ lora_alpha: "4" }), [["a.k", 4], ["a.q", 16], ["b.v", 4]]);
  assert.deepEqual(alphas({ alpha: "0.5" }), [["a.k", 0.5], ["a.q", 16], ["b.v", 0.5]]);
  assert.deepEqual(alphas({ lora_alpha: "4", alpha: "5" }), [["a.k", 4], ["a.q", 16], ["b.v", 4]]);
  // diffusers' PEFT config JSON, keys under the component prefix; its alpha_pattern
  // matches the end of a module path at a dot, as in PEFT.
  const config = {
    "transformer.r": 2,
    "transformer.lora_alpha": 6,
    "transformer.alpha_pattern": { v: 7 },
  };
  assert.deepEqual(
    alphas({ [LORA_CONFIG_METADATA_KEY]: JSON.stringify(config), lora_alpha: "4" }),
    [["a.k", 6], ["a.q", 16], ["b.v", 7]],
  );
  assert.deepEqual(
    alphas({
      [LORA_CONFIG_METADATA_KEY]: JSON.stringify({ r: 2, alpha_pattern: { "a\\.k": 9 } }),
      alpha: "3",
    }),
    [["a.k", 9], ["a.q", 16], ["b.v", 3]],
  );
});

Deno.test("invalid alpha values and unsupported configs are refused", () => {
  const tensors = { "m.lora_A.weight": A, "m.lora_B.weight": B };
  for (const value of ["abc", "0", "-1", "", "Infinity"]) {
    assertLoraError(
      () => adapterFrom(tensors, { lora_alpha: value }),
      "invalid_alpha",
      /alpha from lora_alpha must be a positive finite number/,
    );
  }
  assertLoraError(
    () => adapterFrom({ ...tensors, "m.alpha": float32Tensor([1, 2], [2]) }),
    "invalid_alpha",
    /m\.alpha must be a float scalar, got F32 \[2\]/,
    ["m"],
  );
  assertLoraError(
    () =>
      adapterFrom({ ...tensors, "m.alpha": { dtype: "I64", shape: [], data: new Uint8Array(8) } }),
    "invalid_alpha",
    /got I64 \[\]/,
  );
  assertLoraError(
    () => adapterFrom({ ...tensors, "m.alpha": float32Tensor([-2], []) }),
    "invalid_alpha",
    /m: alpha must be positive and finite, got -2/,
  );
  for (const flag of ["use_rslora", "use_dora"]) {
    assertLoraError(
      () => adapterFrom(tensors, { [LORA_CONFIG_METADATA_KEY]: JSON.stringify({ [flag]: true }) }),
      "unsupported_config",
      new RegExp(`sets ${flag}`),
    );
  }
  assertLoraError(
    () => adapterFrom(tensors, { [LORA_CONFIG_METADATA_KEY]: "{not json" }),
    "unsupported_config",
    /not valid JSON/,
  );
  assertLoraError(
    () =>
      adapterFrom(tensors, {
        [LORA_CONFIG_METADATA_KEY]: JSON.stringify({ alpha_pattern: { "(": 1 } }),
      }),
    "unsupported_config",
    /alpha_pattern key "\(" is not a valid pattern/,
  );
});

Deno.test("F16 and BF16 adapter weights decode exactly", () => {
  const values = [0.5, -0.25, 1.5, 2, -3, 0.125];
  for (const dtype of ["F16", "BF16"] as const) {
    const adapter = adapterFrom({
      "m.lora_A.weight": float32Tensor(values, [2, 3], dtype),
      "m.lora_B.weight": float32Tensor(values, [3, 2], dtype),
    });
    assert.deepEqual([...adapter.modules.get("m")!.a], values);
  }
});

Deno.test("keys that are not LoRA weights are refused, all named", () => {
  assertLoraError(
    () =>
      adapterFrom({
        "m.lora_A.weight": A,
        "m.lora_B.weight": B,
        "m.lora_magnitude_vector": float32Tensor([1], [1]),
        "m.weight": float32Tensor([1], [1]),
        ".lora_A.weight": A,
      }),
    "unrecognised_key",
    /not LoRA weights .*: \.lora_A\.weight, m\.lora_magnitude_vector, m\.weight/,
    [".lora_A.weight", "m.lora_magnitude_vector", "m.weight"],
  );
});

Deno.test("modules missing A or B, or given twice, are refused", () => {
  assertLoraError(
    () =>
      adapterFrom({
        "p.lora_A.weight": A,
        "q.lora_up.weight": B,
        "r.lora_A.weight": A,
        "r.lora_B.weight": B,
      }),
    "incomplete_module",
    /p \(no B\/up weight\), q \(no A\/down weight\)/,
    ["p", "q"],
  );
  assertLoraError(
    () => adapterFrom({ "r.alpha": float32Tensor([1], []) }),
    "incomplete_module",
    /r \(no A\/down weight\)/,
  );
  assertLoraError(
    () =>
      adapterFrom({
        "base_model.model.m.lora_A.weight": A,
        "m.lora_A.weight": A,
        "m.lora_B.weight": B,
      }),
    "duplicate_module",
    /same weight twice .* for: m/,
    ["m"],
  );
  assertLoraError(
    () => adapterFrom({ "m.lora_down.weight": A, "m.lora_A.weight": A, "m.lora_B.weight": B }),
    "duplicate_module",
    /for: m/,
  );
  assertLoraError(() => adapterFrom({}), "empty_adapter", /holds no LoRA weights/);
});

Deno.test("NaN-free but mismatched shapes are refused", () => {
  assertLoraError(
    () =>
      adapterFrom({ "m.lora_A.weight": A, "m.lora_B.weight": float32Tensor([1, 2, 3, 4], [4, 1]) }),
    "invalid_shape",
    /m: A is \[2, 3\] and B is \[4, 1\]; A must be \[r, in\] and B \[out, r\] with the same rank r/,
    ["m"],
  );
  assertLoraError(
    () => adapterFrom({ "m.lora_A.weight": float32Tensor([1, 2, 3], [3]), "m.lora_B.weight": B }),
    "invalid_shape",
    /non-empty matrices, got shape \[3\]/,
  );
  assertLoraError(
    () =>
      adapterFrom({
        "m.lora_A.weight": float32Tensor([1, 2, 3, 4, 5, 6], [2, 3, 1, 1]),
        "m.lora_B.weight": B,
      }),
    "invalid_shape",
    /got shape \[2, 3, 1, 1\]/,
  );
  assertLoraError(
    () =>
      adapterFrom({
        "m.lora_A.weight": float32Tensor([], [0, 3]),
        "m.lora_B.weight": float32Tensor([], [4, 0]),
      }),
    "invalid_shape",
    /got shape \[0, 3\]/,
  );
});

Deno.test("integer weights and NaN or infinite values are refused", () => {
  assertLoraError(
    () =>
      adapterFrom({
        "m.lora_A.weight": { dtype: "I32", shape: [2, 3], data: new Uint8Array(24) },
        "m.lora_B.weight": B,
      }),
    "invalid_dtype",
    /m: LoRA weights must be F32, F16 or BF16, got I32/,
  );
  for (const bad of [NaN, Infinity]) {
    assertLoraError(
      () =>
        adapterFrom({
          "m.lora_A.weight": float32Tensor([1, 2, bad, 4, 5, 6], [2, 3]),
          "m.lora_B.weight": B,
        }),
      "non_finite",
      /m: LoRA weights contain NaN or infinity/,
    );
  }
});

function randomModule(
  module: string,
  rank: number,
  inFeatures: number,
  outFeatures: number,
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

Deno.test("encodeLoraAdapter → parseLoraAdapter gives the same modules", () => {
  const shared = [
    randomModule("blocks.1.proj", 2, 5, 3, 4, 1),
    randomModule("blocks.0.attn.to_q", 4, 3, 3, 4, 2),
  ];
  const bytes = encodeLoraAdapter(shared, { trainer: "flow-map-grpo" });
  const file = parseSafetensors(bytes);
  assert.deepEqual(file.metadata, { lora_alpha: "4", trainer: "flow-map-grpo" });
  assert.deepEqual([...file.tensors.keys()].sort(), [
    "base_model.model.blocks.0.attn.to_q.lora_A.weight",
    "base_model.model.blocks.0.attn.to_q.lora_B.weight",
    "base_model.model.blocks.1.proj.lora_A.weight",
    "base_model.model.blocks.1.proj.lora_B.weight",
  ]);
  const parsed = parseLoraAdapter(bytes);
  assert.deepEqual([...parsed.modules.values()], [shared[1], shared[0]]);

  const mixed = [randomModule("p", 1, 2, 2, 1.5, 3), randomModule("q", 3, 2, 2, 0.75, 4)];
  const mixedBytes = encodeLoraAdapter(mixed);
  assert.deepEqual(parseSafetensors(mixedBytes).metadata, {});
  assert.deepEqual([...parseLoraAdapter(mixedBytes).modules.values()], mixed);
  assert.deepEqual(encodeLoraAdapter(parseLoraAdapter(mixedBytes).modules.values()), mixedBytes);
});

Deno.test("encodeLoraAdapter refuses inconsistent modules and reserved metadata", () => {
  const good = randomModule("m", 2, 3, 4, 2, 5);
  assertLoraError(
    () => encodeLoraAdapter([{ ...good, a: new Float32Array(5) }]),
    "invalid_shape",
    /m: A must be \[r, in\] and B \[out, r\] with one rank r; got A with 5 values/,
  );
  assertLoraError(
    () => encodeLoraAdapter([{ ...good, rank: 0 }]),
    "invalid_shape",
    /positive integers/,
  );
  assertLoraError(() => encodeLoraAdapter([{ ...good, alpha: NaN }]), "invalid_alpha", /got NaN/);
  assertLoraError(() => encodeLoraAdapter([good, good]), "duplicate_module", /twice: m/, ["m"]);
  assertLoraError(() => encodeLoraAdapter([]), "empty_adapter", /at least one module/);
  assertLoraError(
    () => encodeLoraAdapter([good], { alpha: "1", [LORA_CONFIG_METADATA_KEY]: "{}" }),
    "reserved_metadata",
    /lora_adapter_metadata, alpha are written by the encoder/,
  );
});
