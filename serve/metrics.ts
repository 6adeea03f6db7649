/**
 * A small Prometheus registry: counters and histograms with labels, and
 * gauges read at scrape time, rendered in the text exposition format 0.0.4.
 *
 * @module
 */

/** Label names to values. */
export type Labels = Readonly<Record<string, string>>;

/** The `Content-Type` of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Anything a {@linkcode Registry} can render. */
export interface Metric {
  /** The metric's `# HELP`, `# TYPE` and sample lines. */
  render(): string;
}

/** A monotonically increasing count per label set. */
export class Counter implements Metric {
  readonly #name: string;
  readonly #help: string;
  readonly #values = new Map<string, number>();

  /** A counter `name` (should end in `_total`) described by `help`. */
  constructor(name: string, help: string) {
    this.#name = name;
    this.#help = help;
  }

  /** Adds `by` (default 1) to the count of `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  /** The exposition text. */
  render(): string {
    const lines = [...this.#values].map(([labels, value]) => `${this.#name}${labels} ${value}`);
    return header(this.#name, this.#help, "counter") + lines.map((line) => line + "\n").join("");
  }
}

/** A metric whose value is read at scrape time. */
class SampledMetric implements Metric {
  readonly #name: string;
  readonly #help: string;
  readonly #type: "gauge" | "counter";
  readonly #read: () => number;

  constructor(name: string, help: string, type: "gauge" | "counter", read: () => number) {
    this.#name = name;
    this.#help = help;
    this.#type = type;
    this.#read = read;
  }

  /** The exposition text. */
  render(): string {
    return header(this.#name, this.#help, this.#type) + `${this.#name} ${this.#read()}\n`;
  }
}

/** A value read when scraped (queue depth, cache size, …). */
export class Gauge extends SampledMetric {
  /** A gauge `name` whose value is `read()` at scrape time. */
  constructor(name: string, help: string, read: () => number) {
    super(name, help, "gauge", read);
  }
}

/** A counter whose value is `read()` at scrape time (for counts kept elsewhere). */
export class CounterOf extends SampledMetric {
  /** A counter `name` whose value is `read()` at scrape time. */
  constructor(name: string, help: string, read: () => number) {
    super(name, help, "counter", read);
  }
}

/** Observations in cumulative `le` buckets, with their sum and count, per label set. */
export class Histogram implements Metric {
  readonly #name: string;
  readonly #help: string;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number }>();

  /** A histogram `name` with ascending bucket upper bounds (`+Inf` is added). */
  constructor(name: string, help: string, bounds: readonly number[]) {
    this.#name = name;
    this.#help = help;
    this.#bounds = [...bounds].sort((a, b) => a - b);
  }

  /** Records `value` for `labels`. */
  observe(labels: Labels, value: number): void {
    const key = labelText(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      series = { labels, counts: new Array(this.#bounds.length + 1).fill(0), sum: 0 };
      this.#series.set(key, series);
    }
    const bucket = this.#bounds.findIndex((bound) => value <= bound);
    series.counts[bucket < 0 ? this.#bounds.length : bucket]++;
    series.sum += value;
  }

  /** The exposition text. */
  render(): string {
    let text = header(this.#name, this.#help, "histogram");
    for (const { labels, counts, sum } of this.#series.values()) {
      let cumulative = 0;
      counts.forEach((count, i) => {
        cumulative += count;
        const le = i < this.#bounds.length ? String(this.#bounds[i]) : "+Inf";
        text += `${this.#name}_bucket${labelText({ ...labels, le })} ${cumulative}\n`;
      });
      text += `${this.#name}_sum${labelText(labels)} ${sum}\n`;
      text += `${this.#name}_count${labelText(labels)} ${cumulative}\n`;
    }
    return text;
  }
}

/** The metrics of one app, rendered together. */
export class Registry {
  readonly #metrics: Metric[] = [];

  /** Registers a metric and returns it. */
  add<M extends Metric>(metric: M): M {
    this.#metrics.push(metric);
    return metric;
  }

  /** Every metric in the text exposition format. */
  render(): string {
    return this.#metrics.map((metric) => metric.render()).join("");
  }
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${
    help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
  }\n# TYPE ${name} ${type}\n`;
}

function labelText(labels: Labels): string {
  const pairs = Object.entries(labels).map(([name, value]) =>
    `${name}="${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
  );
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}
