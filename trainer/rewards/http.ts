/**
 * A reward computed by a remote server over HTTP (e.g. a VLM judge), with
 * batching, a per-request timeout, bounded retries and reply validation.
 *
 * Protocol: each batch is one `POST` of JSON
 *
 *     {"prompts": ["a red circle", …],
 *      "images": [{"width": 32, "height": 32, "channels": 3, "format": "png", "data": "<base64>"}, …]}
 *
 * where `data` is a PNG file (`"format": "png"`) or the raw HWC bytes
 * (`"format": "raw"`), and the server answers `200` with
 * `{"scores": [0.5, …]}`, one finite number per image, in order.
 *
 * Network errors, timeouts, `429` and `5xx` answers are retried with
 * exponential back-off; other statuses and malformed replies fail at once.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import sharp from "sharp";
import { checkRgbImage, type RgbImage } from "../../src/shapes/image.ts";
import { defineReward, type Reward, RewardError } from "./reward.ts";

/** Options of {@link httpReward}. */
export interface HttpRewardOptions {
  /** The endpoint that receives the POSTs. */
  url: string | URL;
  /** Name in logs and errors; default "http". */
  name?: string;
  /** Declared score range; default `(−∞, ∞)`. */
  range?: readonly [number, number];
  /** Images per request; default 16. */
  batchSize?: number;
  /** Requests in flight at once; default 2. */
  concurrency?: number;
  /** Milliseconds one attempt may take, reply included; default 30000. */
  timeoutMs?: number;
  /** Extra attempts after a retryable failure; default 2. */
  retries?: number;
  /** Wait before the first retry, doubled for each further one; default 250 ms. */
  retryDelayMs?: number;
  /** Image encoding on the wire; default "png". */
  format?: "png" | "raw";
  /** Extra request headers (e.g. authorization). */
  headers?: HeadersInit;
}

/**
 * A reward served over HTTP.
 *
 * @example
 * ```ts
 * import { httpReward } from "./http.ts";
 * const judge = httpReward({ url: "http://127.0.0.1:8000/score", range: [0, 1], batchSize: 8 });
 * // const scores = await judge.score(images, prompts);
 * ```
 */
export function httpReward(options: HttpRewardOptions): Reward {
  const {
    url,
    name = "http",
    range = [-Infinity, Infinity],
    batchSize = 16,
    concurrency = 2,
    timeoutMs = 30_000,
    retries = 2,
    retryDelayMs = 250,
    format = "png",
    headers,
  } = options;
  const endpoint = new URL(url);
  checkInteger("batchSize", batchSize, 1);
  checkInteger("concurrency", concurrency, 1);
  checkInteger("retries", retries, 0);
  if (!(timeoutMs > 0) || !(retryDelayMs >= 0)) {
    throw new RangeError("timeoutMs must be > 0 and retryDelayMs ≥ 0");
  }
  if (format !== "png" && format !== "raw") {
    throw new RangeError(`format must be png or raw, got ${format}`);
  }
  const requestHeaders = {
    ...Object.fromEntries(new Headers(headers)),
    "content-type": "application/json",
  };

  /** One attempt: the parsed reply, or why it may be retried; fatal answers throw. */
  const attempt = async (body: string): Promise<{ reply: unknown } | { retry: string }> => {
    let response: Response, text: string;
    try {
      response = await fetch(endpoint, {
        method: "POST",
        headers: requestHeaders,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const timedOut = (error as Error).name === "TimeoutError";
      return { retry: timedOut ? `timed out after ${timeoutMs} ms` : (error as Error).message };
    }
    if (response.status === 429 || response.status >= 500) {
      return { retry: `HTTP ${response.status} ${snippet(text)}` };
    }
    if (!response.ok) {
      throw new RewardError(
        name,
        "failed",
        `${endpoint} answered HTTP ${response.status} ${snippet(text)}`,
      );
    }
    try {
      return { reply: JSON.parse(text) };
    } catch {
      throw new RewardError(name, "failed", `${endpoint} replied with non-JSON ${snippet(text)}`);
    }
  };

  const post = async (
    images: readonly RgbImage[],
    prompts: readonly string[],
  ): Promise<number[]> => {
    const encoded = await Promise.all(images.map((image) => encode(image, format)));
    const body = JSON.stringify({ prompts, images: encoded });
    let last = "";
    for (let n = 0; n <= retries; n++) {
      if (n > 0) await new Promise((resolve) => setTimeout(resolve, retryDelayMs * 2 ** (n - 1)));
      const outcome = await attempt(body);
      if ("reply" in outcome) return validate(name, outcome.reply, images.length);
      last = outcome.retry;
    }
    throw new RewardError(
      name,
      "failed",
      `${endpoint} failed ${retries + 1} attempts; last: ${last}`,
    );
  };

  return defineReward(name, range, async (images, prompts) => {
    const scores = new Float32Array(images.length);
    const starts = Array.from(
      { length: Math.ceil(images.length / batchSize) },
      (_, b) => b * batchSize,
    );
    const worker = async () => {
      for (let start = starts.shift(); start !== undefined; start = starts.shift()) {
        const end = Math.min(images.length, start + batchSize);
        scores.set(await post(images.slice(start, end), prompts.slice(start, end)), start);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, starts.length) }, worker));
    return scores;
  });
}

/** One image as the protocol's JSON object. */
async function encode(image: RgbImage, format: "png" | "raw") {
  checkRgbImage(image);
  const { width, height, channels, data } = image;
  const bytes = format === "raw"
    ? data
    : await sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
  return {
    width,
    height,
    channels,
    format,
    data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"),
  };
}

/** Checks a reply against the protocol; wrong lengths and non-numbers are typed errors. */
function validate(name: string, reply: unknown, count: number): number[] {
  const scores = (reply as { scores?: unknown })?.scores;
  if (!Array.isArray(scores)) {
    throw new RewardError(
      name,
      "failed",
      `reply has no "scores" array: ${snippet(JSON.stringify(reply))}`,
    );
  }
  if (scores.length !== count) {
    throw new RewardError(
      name,
      "length",
      `server returned ${scores.length} scores for a batch of ${count}`,
    );
  }
  const bad = scores.flatMap((s, i) => (typeof s === "number" && Number.isFinite(s) ? [] : [i]));
  if (bad.length > 0) {
    throw new RewardError(
      name,
      "non-finite",
      `server returned ${JSON.stringify(scores[bad[0]])} at batch index ${bad.join(", ")}`,
      {
        indices: bad,
      },
    );
  }
  return scores;
}

function checkInteger(key: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${key} must be an integer ≥ ${min}, got ${value}`);
  }
}

function snippet(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}
