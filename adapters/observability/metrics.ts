/**
 * Metrics registry with Prometheus text exposition 0.0.4. Collectors are get-or-create by
 * name, so constructing the same metric twice returns the same collector; a registry can be
 * injected for test isolation.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "./metrics.ts";
 * const registry = new MetricsRegistry();
 * const published = registry.counter("augur_bus_published_total", "Messages published.", ["topic"]);
 * published.inc({ topic: "snapshots" });
 * console.log(registry.expose());
 * ```
 * @module
 */

/** Label values keyed by label name. */
export type Labels = Readonly<Record<string, string>>;

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Default histogram buckets in seconds: 100 µs to 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.0001,
  0.0005,
  0.001,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

type MetricType = "counter" | "gauge" | "histogram";

abstract class Collector<Series> {
  protected readonly series = new Map<string, { labels: Labels; value: Series }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly type: MetricType,
  ) {}

  protected entry(labels: Labels | undefined, init: () => Series): Series {
    const values = labels ?? {};
    const key = this.keyOf(values);
    let found = this.series.get(key);
    if (!found) {
      found = { labels: { ...values }, value: init() };
      this.series.set(key, found);
    }
    return found.value;
  }

  private keyOf(labels: Labels): string {
    const given = Object.keys(labels);
    if (
      given.length !== this.labelNames.length ||
      !this.labelNames.every((name) => typeof labels[name] === "string")
    ) {
      throw new TypeError(
        `metric ${this.name}: expected labels [${this.labelNames.join(", ")}], received [${
          given.join(", ")
        }]`,
      );
    }
    return this.labelNames.map((name) => labels[name]).join("\u0000");
  }

  /** Bumped by {@linkcode reset} so bound handles re-attach to fresh series. */
  protected generation = 0;

  /** Remove every series (tests, or a gauge whose label set changes). */
  reset(): void {
    this.series.clear();
    this.generation++;
  }

  /** The series of `labels`, re-resolved after a reset (for bound handles on hot paths). */
  protected bound(labels: Labels, init: () => Series): () => Series {
    let gen = -1;
    let value: Series;
    return () => {
      if (gen !== this.generation) {
        value = this.entry(labels, init);
        gen = this.generation;
      }
      return value;
    };
  }

  /** The exposition lines of this collector, without HELP/TYPE. */
  abstract samples(): string[];
}

/** Monotonic counter. */
export class Counter extends Collector<{ v: number }> {
  /** Add `amount` (default 1, must be ≥ 0). */
  inc(labels?: Labels, amount = 1): void {
    if (!(amount >= 0)) throw new RangeError(`counter ${this.name}: negative increment ${amount}`);
    this.entry(labels, () => ({ v: 0 })).v += amount;
  }
  /**
   * A handle bound to one label set: `inc` without per-call label hashing (hot paths).
   *
   * @example
   * ```ts
   * import { MetricsRegistry } from "./metrics.ts";
   * const c = new MetricsRegistry().counter("x_total", "X.", ["topic"]).bind({ topic: "a" });
   * c.inc();
   * ```
   */
  bind(labels?: Labels): { inc(amount?: number): void } {
    const series = this.bound(labels ?? {}, () => ({ v: 0 }));
    const name = this.name;
    return {
      inc(amount = 1) {
        if (!(amount >= 0)) throw new RangeError(`counter ${name}: negative increment ${amount}`);
        series().v += amount;
      },
    };
  }
  /** Current value for a label set (0 when never incremented). */
  get(labels?: Labels): number {
    return this.entry(labels, () => ({ v: 0 })).v;
  }
  samples(): string[] {
    return [...this.series.values()].map((s) =>
      `${this.name}${formatLabels(s.labels)} ${formatValue(s.value.v)}`
    );
  }
}

/** Gauge: a value that goes up and down. */
export class Gauge extends Collector<{ v: number }> {
  /** Set the value. */
  set(labels: Labels | undefined, value: number): void {
    this.entry(labels, () => ({ v: 0 })).v = value;
  }
  /** Add `amount` (may be negative). */
  inc(labels?: Labels, amount = 1): void {
    this.entry(labels, () => ({ v: 0 })).v += amount;
  }
  /** Current value for a label set. */
  get(labels?: Labels): number {
    return this.entry(labels, () => ({ v: 0 })).v;
  }
  samples(): string[] {
    return [...this.series.values()].map((s) =>
      `${this.name}${formatLabels(s.labels)} ${formatValue(s.value.v)}`
    );
  }
}

interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

/** Histogram with cumulative `_bucket{le}`, `_sum` and `_count`. */
export class Histogram extends Collector<HistogramSeries> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames, "histogram");
    if (labelNames.includes("le")) throw new TypeError(`histogram ${name}: "le" is reserved`);
  }
  /** Record one observation. */
  observe(labels: Labels | undefined, value: number): void {
    const s = this.entry(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
  /**
   * A handle bound to one label set: `observe` without per-call label hashing (hot paths).
   *
   * @example
   * ```ts
   * import { MetricsRegistry } from "./metrics.ts";
   * const h = new MetricsRegistry().histogram("lag_seconds", "Lag.", ["topic"]).bind({ topic: "a" });
   * h.observe(0.002);
   * ```
   */
  bind(labels?: Labels): { observe(value: number): void } {
    const series = this.bound(
      labels ?? {},
      () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }),
    );
    const buckets = this.buckets;
    return {
      observe(value: number) {
        const s = series();
        for (let i = buckets.length - 1; i >= 0 && value <= buckets[i]; i--) s.counts[i]++;
        s.sum += value;
        s.count++;
      },
    };
  }
  /** Time an async function and observe its duration in seconds. */
  async time<T>(labels: Labels | undefined, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.observe(labels, (performance.now() - start) / 1000);
    }
  }
  /** Number of observations for a label set. */
  count(labels?: Labels): number {
    return this.series.get(this.labelNames.map((n) => labels?.[n]).join("\u0000"))?.value.count ??
      0;
  }
  samples(): string[] {
    const lines: string[] = [];
    for (const { labels, value } of this.series.values()) {
      this.buckets.forEach((le, i) => {
        lines.push(
          `${this.name}_bucket${formatLabels({ ...labels, le: formatValue(le) })} ${
            value.counts[i]
          }`,
        );
      });
      lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: "+Inf" })} ${value.count}`);
      lines.push(`${this.name}_sum${formatLabels(labels)} ${formatValue(value.sum)}`);
      lines.push(`${this.name}_count${formatLabels(labels)} ${value.count}`);
    }
    return lines;
  }
}

/** A set of collectors exposed together. */
export class MetricsRegistry {
  readonly #collectors = new Map<string, Collector<unknown>>();

  /** Get or create a counter. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#getOrCreate(
      name,
      "counter",
      labelNames,
      () => new Counter(name, help, labelNames, "counter"),
    ) as Counter;
  }

  /** Get or create a gauge. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#getOrCreate(
      name,
      "gauge",
      labelNames,
      () => new Gauge(name, help, labelNames, "gauge"),
    ) as Gauge;
  }

  /** Get or create a histogram. */
  histogram(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    options: { buckets?: readonly number[] } = {},
  ): Histogram {
    const buckets = [...(options.buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b);
    return this.#getOrCreate(
      name,
      "histogram",
      labelNames,
      () => new Histogram(name, help, labelNames, buckets),
    ) as Histogram;
  }

  /** Look up a collector by name. */
  get(name: string): Counter | Gauge | Histogram | undefined {
    return this.#collectors.get(name) as Counter | Gauge | Histogram | undefined;
  }

  /** Prometheus text exposition format 0.0.4. */
  expose(): string {
    const out: string[] = [];
    for (const c of this.#collectors.values()) {
      out.push(`# HELP ${c.name} ${escapeHelp(c.help)}`);
      out.push(`# TYPE ${c.name} ${c.type}`);
      out.push(...c.samples());
    }
    return out.length ? out.join("\n") + "\n" : "";
  }

  #getOrCreate(
    name: string,
    type: MetricType,
    labelNames: readonly string[],
    create: () => Collector<unknown>,
  ): Collector<unknown> {
    const existing = this.#collectors.get(name);
    if (existing) {
      if (existing.type !== type || existing.labelNames.join() !== labelNames.join()) {
        throw new TypeError(
          `metric ${name}: already registered as ${existing.type} with labels [${existing.labelNames}], requested ${type} with [${labelNames}]`,
        );
      }
      return existing;
    }
    if (!NAME_RE.test(name)) throw new TypeError(`invalid metric name "${name}"`);
    for (const label of labelNames) {
      if (!LABEL_RE.test(label) || label.startsWith("__")) {
        throw new TypeError(`metric ${name}: invalid label name "${label}"`);
      }
    }
    const collector = create();
    this.#collectors.set(name, collector);
    return collector;
  }
}

/** The process-wide registry used when none is injected. */
export const defaultRegistry: MetricsRegistry = new MetricsRegistry();

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return "{" + keys.map((k) => `${k}="${escapeLabel(labels[k])}"`).join(",") + "}";
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
