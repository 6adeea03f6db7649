import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import sharp from "sharp";
import { renderPrompt } from "../../../trainer/data/dataset.ts";
import { httpReward } from "../../../trainer/rewards/http.ts";
import { RewardError } from "../../../trainer/rewards/reward.ts";

interface WireImage {
  width: number;
  height: number;
  channels: number;
  format: "png" | "raw";
  data: string;
}

/** A reward server on 127.0.0.1 whose behaviour per request is scripted by `reply`. */
async function withServer(
  reply: (
    request: number,
    body: { prompts: string[]; images: WireImage[] },
  ) => Promise<Response> | Response,
  run: (url: string, requests: () => number) => Promise<void>,
) {
  let count = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.json();
    return reply(count++, body);
  });
  try {
    await run(`http://127.0.0.1:${server.addr.port}/score`, () => count);
  } finally {
    await server.shutdown();
  }
}

/** Mean pixel value / 255 of a wire image, decoding PNG with sharp. */
async function brightness(image: WireImage): Promise<number> {
  const bytes = Buffer.from(image.data, "base64");
  const raw = image.format === "png" ? await sharp(bytes).raw().toBuffer() : bytes;
  assert.equal(raw.length, image.width * image.height * image.channels);
  return raw.reduce((a, b) => a + b, 0) / raw.length / 255;
}

const examples = [
  "a red circle",
  "two squares",
  "a cyan triangle",
  "three circles",
  "a blue square and a red circle",
]
  .map((p, i) => renderPrompt(p, i));
const images = examples.map((e) => e.image);
const prompts = examples.map((e) => e.prompt);
const ok = (scores: unknown) => Response.json({ scores });

Deno.test("http reward batches requests and keeps the order, for PNG and raw images", async () => {
  for (const format of ["png", "raw"] as const) {
    const batches: string[][] = [];
    await withServer(async (_, body) => {
      batches.push(body.prompts);
      return ok(await Promise.all(body.images.map(brightness)));
    }, async (url, requests) => {
      const reward = httpReward({
        url,
        format,
        batchSize: 2,
        concurrency: 2,
        range: [0, 1],
        name: "bright",
      });
      const scores = await reward.score(images, prompts);
      assert.equal(requests(), 3);
      assert.deepEqual(batches.flat().sort(), [...prompts].sort());
      for (const [i, image] of images.entries()) {
        const expected = image.data.reduce((a, b) => a + b, 0) / image.data.length / 255;
        assert.ok(Math.abs(scores[i] - expected) < 1e-6, `${format} ${i}`);
      }
    });
  }
});

Deno.test("http reward retries 5xx and 429 with back-off, then gives up", async () => {
  await withServer(
    (n) => (n < 2 ? new Response("busy", { status: n === 0 ? 503 : 429 }) : ok([1])),
    async (url, requests) => {
      const scores = await httpReward({ url, retries: 2, retryDelayMs: 5 }).score(
        images.slice(0, 1),
        prompts.slice(0, 1),
      );
      assert.deepEqual([...scores], [1]);
      assert.equal(requests(), 3);
    },
  );
  await withServer(() => new Response("down", { status: 500 }), async (url, requests) => {
    await assert.rejects(
      httpReward({ url, retries: 1, retryDelayMs: 5 }).score(
        images.slice(0, 1),
        prompts.slice(0, 1),
      ),
      (e: RewardError) =>
        e.kind === "failed" && /failed 2 attempts; last: HTTP 500 "down"/.test(e.message),
    );
    assert.equal(requests(), 2);
  });
});

Deno.test("http reward times out slow replies and does not retry client errors", async () => {
  await withServer(async () => {
    await new Promise((r) => setTimeout(r, 300));
    return ok([1]);
  }, async (url, requests) => {
    await assert.rejects(
      httpReward({ url, timeoutMs: 50, retries: 1, retryDelayMs: 5 }).score(
        images.slice(0, 1),
        prompts.slice(0, 1),
      ),
      (e: RewardError) => e.kind === "failed" && /timed out after 50 ms/.test(e.message),
    );
    assert.equal(requests(), 2);
  });
  await withServer(() => new Response("bad prompt", { status: 400 }), async (url, requests) => {
    await assert.rejects(
      httpReward({ url, retries: 3 }).score(images.slice(0, 1), prompts.slice(0, 1)),
      (e: RewardError) => e.kind === "failed" && /HTTP 400 "bad prompt"/.test(e.message),
    );
    assert.equal(requests(), 1);
  });
});

Deno.test("http reward validates replies: length, non-numbers, shape, range", async () => {
  const cases: [unknown, string, RegExp][] = [
    [{ scores: [1] }, "length", /returned 1 scores for a batch of 2/],
    [{ scores: [1, null] }, "non-finite", /null at batch index 1/],
    [{ scores: [1, "0.5"] }, "non-finite", /"0.5" at batch index 1/],
    [{ score: [1, 1] }, "failed", /no "scores" array/],
    [{ scores: [1, 7] }, "range", /7 outside \[0, 1\] at index 1/],
  ];
  for (const [body, kind, pattern] of cases) {
    await withServer(() => Response.json(body), async (url) => {
      await assert.rejects(
        httpReward({ url, range: [0, 1] }).score(images.slice(0, 2), prompts.slice(0, 2)),
        (e: RewardError) => e instanceof RewardError && e.kind === kind && pattern.test(e.message),
        JSON.stringify(body),
      );
    });
  }
  await withServer(() => new Response("<html>"), async (url) => {
    await assert.rejects(
      httpReward({ url }).score(images.slice(0, 1), prompts.slice(0, 1)),
      /non-JSON "<html>"/,
    );
  });
  assert.throws(() => httpReward({ url: "http://127.0.0.1:1", batchSize: 0 }), /batchSize/);
});
