/**
 * The catalog of worker kinds (DESIGN §3, §10): how each kind runs (mode), which subjects it
 * reads and writes, whether `--replica i/N` applies, and which lock or lease it holds.
 * `augur workers` prints it; the runtime wires stages from it.
 *
 * Modes:
 * - `all-in-one` — every stage in one process on the memory bus (`augur run engine`).
 * - `singleton` — active-passive behind a DistributedLock, fenced tokens (dedup, llm,
 *   divergence, one poller per platform).
 * - `partition-ordered` — replica i of N owns partitions p with p mod N = i and reads each
 *   owned partition in order under the lease `part.<kind>.<pp>` (never autoscaled).
 * - `competing` — shared durable / consumer group; replicas split the work (may autoscale).
 *
 * In subject patterns, `<pp>` stands for each owned partition token.
 *
 * @example
 * ```ts
 * import { workerCatalog } from "./catalog.ts";
 * const feature = workerCatalog().find((w) => w.kind === "feature");
 * feature?.inputs; // ["augur.snapshots.<pp>.>"]
 * ```
 * @module
 */

/** How a worker kind runs. */
export type WorkerMode = "all-in-one" | "singleton" | "partition-ordered" | "competing";

/** Worker kinds, in pipeline order. */
export const WORKER_KINDS = [
  "engine",
  "poller",
  "feature",
  "detector",
  "manipulation",
  "calibration",
  "divergence",
  "dedup",
  "context",
  "llm",
  "store",
  "websocket",
  "dual-write",
] as const;

/** One worker kind name. */
export type WorkerKindName = typeof WORKER_KINDS[number];

/** One entry of the catalog. */
export interface WorkerKind {
  /** Kind name as used by `augur run <kind>`. */
  readonly kind: WorkerKindName;
  /** How it runs. */
  readonly mode: WorkerMode;
  /** One line describing what it does. */
  readonly summary: string;
  /** The command line that starts it. */
  readonly command: string;
  /** Subject patterns it reads (`<pp>` = each owned partition). */
  readonly inputs: readonly string[];
  /** Subjects it publishes (`<pp>`, `<platform>`, `<m>`... are placeholders). */
  readonly outputs: readonly string[];
  /** `--replica i/N` applies. */
  readonly replica: boolean;
  /** Lock / lease name it holds, if any. */
  readonly lock?: string;
  /** Safe to autoscale (HPA on pending count). */
  readonly autoscale: boolean;
}

/** Options of {@linkcode workerCatalog}. */
export interface WorkerCatalogOptions {
  /** Subject prefix, default `augur`. */
  prefix?: string;
}

/**
 * The worker catalog for a subject prefix.
 *
 * @example
 * ```ts
 * import { workerCatalog } from "./catalog.ts";
 * workerCatalog({ prefix: "augur" }).map((w) => `${w.kind}:${w.mode}`);
 * ```
 */
export function workerCatalog(options: WorkerCatalogOptions = {}): readonly WorkerKind[] {
  const a = options.prefix ?? "augur";
  const dlq = `${a}.ops.dlq`;
  const entries: WorkerKind[] = [
    {
      kind: "engine",
      mode: "all-in-one",
      summary: "every stage in one process (memory bus, DuckDB by default)",
      command: "augur run engine",
      inputs: [],
      outputs: [],
      replica: false,
      autoscale: false,
    },
    {
      kind: "poller",
      mode: "singleton",
      summary: "adaptive polling of one platform -> snapshots, tick markers, ticks",
      command: "augur run poller --platform <platform>",
      inputs: [],
      outputs: [
        `${a}.snapshots.<pp>.<platform>.<m>`,
        `${a}.snapshots.<pp>.~tick`,
        `${a}.ticks.<platform>`,
        `${a}.ops.events`,
      ],
      replica: false,
      lock: "poller.<platform>",
      autoscale: false,
    },
    {
      kind: "feature",
      mode: "partition-ordered",
      summary: "per-market feature vectors (carries the same-tick snapshot)",
      command: "augur run feature --replica i/N",
      inputs: [`${a}.snapshots.<pp>.>`],
      outputs: [`${a}.features.<pp>.<m>`, `${a}.features.<pp>.~tick`, dlq],
      replica: true,
      lock: "part.feature.<pp>",
      autoscale: false,
    },
    {
      kind: "detector",
      mode: "partition-ordered",
      summary: "per-market detectors -> candidate signals",
      command: "augur run detector --replica i/N",
      inputs: [`${a}.features.<pp>.>`],
      outputs: [`${a}.candidates.<pp>.<detector>`, `${a}.candidates.<pp>.~tick`, dlq],
      replica: true,
      lock: "part.detector.<pp>",
      autoscale: false,
    },
    {
      kind: "manipulation",
      mode: "partition-ordered",
      summary: "manipulation flags on candidates (never suppresses)",
      command: "augur run manipulation --replica i/N",
      inputs: [`${a}.candidates.<pp>.>`],
      outputs: [`${a}.flagged_signals.<pp>`, dlq],
      replica: true,
      lock: "part.manipulation.<pp>",
      autoscale: false,
    },
    {
      kind: "calibration",
      mode: "partition-ordered",
      summary: "confidence and provenance stamp",
      command: "augur run calibration --replica i/N",
      inputs: [`${a}.flagged_signals.<pp>`],
      outputs: [`${a}.calibrated_signals.<pp>`, dlq],
      replica: true,
      lock: "part.calibration.<pp>",
      autoscale: false,
    },
    {
      kind: "divergence",
      mode: "singleton",
      summary: "cross-market divergence on the tick grid (flags and calibration in-process)",
      command: "augur run divergence",
      inputs: [`${a}.ticks.>`],
      outputs: [`${a}.divergence`, dlq],
      replica: false,
      lock: "divergence",
      autoscale: false,
    },
    {
      kind: "dedup",
      mode: "singleton",
      summary: "fingerprint and cluster merge, storm control -> signals (fenced)",
      command: "augur run dedup",
      inputs: [`${a}.calibrated_signals.>`, `${a}.divergence`],
      outputs: [`${a}.signals`, `${a}.ops.events`, dlq],
      replica: false,
      lock: "dedup",
      autoscale: false,
    },
    {
      kind: "context",
      mode: "competing",
      summary: "deterministic SignalContext from the store",
      command: "augur run context",
      inputs: [`${a}.signals`],
      outputs: [`${a}.contexts`, dlq],
      replica: false,
      autoscale: true,
    },
    {
      kind: "llm",
      mode: "singleton",
      summary: "gated LLM briefs (off by default; fenced)",
      command: "augur run llm",
      inputs: [`${a}.contexts`],
      outputs: [`${a}.briefs.<format>`, dlq],
      replica: false,
      lock: "llm",
      autoscale: false,
    },
    {
      kind: "store",
      mode: "competing",
      summary: "batching sink into the Store; tees writes in dual-write mode",
      command: "augur run store",
      inputs: [
        `${a}.snapshots.>`,
        `${a}.features.>`,
        `${a}.signals`,
        `${a}.contexts`,
        `${a}.ticks.>`,
      ],
      outputs: [`${a}.writes.<table>`, dlq],
      replica: false,
      autoscale: true,
    },
    {
      kind: "websocket",
      mode: "competing",
      summary: "public endpoint streaming contexts and briefs",
      command: "augur run websocket",
      inputs: [`${a}.contexts`, `${a}.briefs.>`],
      outputs: [],
      replica: false,
      autoscale: true,
    },
    {
      kind: "dual-write",
      mode: "competing",
      summary: "mirrors store writes into TimescaleDB, lag gauge",
      command: "augur dual-write",
      inputs: [`${a}.writes.>`],
      outputs: [dlq],
      replica: false,
      autoscale: false,
    },
  ];
  return Object.freeze(entries.map((e) => Object.freeze(e)));
}

/**
 * One kind of the catalog, or undefined.
 *
 * @example
 * ```ts
 * import { workerKind } from "./catalog.ts";
 * workerKind("dedup")?.mode; // "singleton"
 * ```
 */
export function workerKind(
  name: string,
  options: WorkerCatalogOptions = {},
): WorkerKind | undefined {
  return workerCatalog(options).find((w) => w.kind === name);
}
