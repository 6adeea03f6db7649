import assert from "node:assert/strict";
import { shapesTokenizer } from "../../src/text.ts";
import { timeGrid } from "../../src/grid.ts";
import { LoraAdapter } from "../../trainer/model/lora.ts";
import { pathOf } from "../../trainer/model/config.ts";
import { FlowMapPolicy } from "../../trainer/policy.ts";
import { joinRollouts, rollout, tfjsRolloutMaps } from "../../trainer/rollout.ts";
import { fastBackend, tinyModel } from "./_trainer.ts";

await fastBackend();

Deno.test("rollout: slices drawn at their place in the iteration join into the whole rollout", async () => {
  const model = await tinyModel("meanflow");
  const adapter = new LoraAdapter(model.config, { rank: 2, alpha: 2, targets: ["to_q"], seed: 3 });
  try {
    const anchor = { kind: "endpoint", eta: 1 } as const;
    const policy = new FlowMapPolicy(model, anchor, timeGrid(pathOf(model.config), { steps: 3 }));
    const maps = tfjsRolloutMaps(policy, adapter);
    const prompts = ["a red circle", "two squares", "a blue square", "a circle"].flatMap((
      p,
    ) => [p, p]);
    const options = {
      prompts,
      tokenizer: shapesTokenizer,
      seed: 5,
      iteration: 2,
      microBatch: 2,
      reduction: "sum",
      reference: true,
      endpointEstimates: true,
      initialNoiseGroup: 4, // a group's shared start noise must not depend on the slice
    } as const;
    const whole = await rollout(policy, maps, options);
    const parts = await Promise.all(
      [[0, 2], [2, 6], [6, 8]].map(([from, to]) =>
        rollout(policy, maps, { ...options, prompts: prompts.slice(from, to), first: from })
      ),
    );
    const joined = joinRollouts(parts);
    assert.deepEqual(joined, whole);
    // what the update reads goes to its worker threads without a copy; what rewards read stays plain
    const shared = [
      joined.tokens,
      ...joined.states,
      ...joined.logProbOld,
      ...joined.referenceMeans!,
    ];
    assert.ok(shared.every((a) => a.buffer instanceof SharedArrayBuffer));
    const plain = [joined.images, ...joined.endpointEstimates!];
    assert.ok(plain.every((a) => a.buffer instanceof ArrayBuffer));
    const unplaced = await rollout(policy, maps, { ...options, prompts: prompts.slice(2, 6) });
    assert.notDeepEqual(unplaced.states[1], parts[1].states[1], "the place draws the noise");
  } finally {
    adapter.dispose();
    model.dispose();
  }
});
