/**
 * `augur migrate`: backfill a DuckDB file (or a Parquet archive) into the PostgreSQL /
 * TimescaleDB store — table by table, UTC day by UTC day, chronologically — with set-based
 * bulk writes (see runtime/migrate_copy.ts).
 *
 * 1. Plan: every partition of every selected table (a Parquet source validates its columns
 *    here, so a bad file stops the run before any SQL is built or any row written).
 * 2. For each partition not yet recorded in `migrate_progress` with the same source count:
 *    write its rows in batches; the rows PostgreSQL reports written must equal the source
 *    count and the target must then hold at least that many rows in the partition's range,
 *    else a {@linkcode MigrateParityError} stops the run; then record the partition.
 *
 * A killed run resumes at the first unrecorded partition; re-writing a partially written
 * one is an upsert on the natural key, so no row is ever duplicated.
 *
 * @example
 * ```ts
 * import { runMigrate } from "./migrate.ts";
 * import { openDuckDbSource } from "./migrate_sources.ts";
 * import { StorageFileSchema } from "../config/schemas/storage.ts";
 * const report = await runMigrate({
 *   source: await openDuckDbSource("data/augur.duckdb"),
 *   targetUrl: "postgres://postgres@127.0.0.1:5432/augur",
 *   storage: StorageFileSchema.parse({}),
 *   range: { start: 0, end: Date.now() * 1000 },
 * });
 * console.log(report.written);
 * ```
 * @module
 */
import { AugurError } from "../config/errors.ts";
import type { StorageConfig } from "../config/schemas/storage.ts";
import type { TimeRange } from "../adapters/storage/types.ts";
import { TimescaleStore } from "../adapters/storage/timescale_store.ts";
import { withRetry } from "../adapters/storage/retry.ts";
import { createLogger, type Logger } from "../adapters/observability/logger.ts";
import { defaultRegistry, type MetricsRegistry } from "../adapters/observability/metrics.ts";
import { copyText, MigrateWriteError, PgMigrateTarget } from "./migrate_copy.ts";
import { MigrateDisplay } from "./migrate_display.ts";
import {
  type CopyBatch,
  MIGRATE_TABLES,
  type MigrateSource,
  type MigrateTable,
  type Partition,
  type RowValue,
} from "./migrate_sources.ts";

/** A partition's written rows disagree with its source rows. Exit code 1. */
export class MigrateParityError extends AugurError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MigrateParityError";
  }
}

/** Options of {@linkcode runMigrate}. */
export interface MigrateOptions {
  source: MigrateSource;
  /** PostgreSQL DSN (a secret; never logged). Optional for a dry run. */
  targetUrl?: string;
  /** storage.toml (hypertables, compression, retention for the target's DDL). */
  storage: StorageConfig;
  /** Half-open range of data time (epoch µs). */
  range: TimeRange;
  /** Tables to copy (default: all of {@linkcode MIGRATE_TABLES}). */
  tables?: readonly MigrateTable[];
  /** Rows per COPY batch (default 50 000). */
  batchSize?: number;
  /** Plan only: nothing is written (the target is only read for progress records). */
  dryRun?: boolean;
  /** Draw a bar (terminal) instead of periodic lines. */
  tty?: boolean;
  /** Progress / plan text sink (default stderr). */
  write?: (text: string) => void;
  /** Plain-line interval (default 5 s). */
  intervalMs?: number;
  registry?: MetricsRegistry;
  logger?: Logger;
}

/** One planned partition. */
export interface PlannedPartition extends Partition {
  /** Already recorded in migrate_progress with the same source count. */
  done: boolean;
}

/** Per-table totals. */
export interface MigrateTableReport {
  table: MigrateTable;
  partitions: number;
  skipped: number;
  rows: number;
  written: number;
}

/** The outcome of {@linkcode runMigrate}. */
export interface MigrateReport {
  source: string;
  dryRun: boolean;
  tables: MigrateTableReport[];
  /** Source rows in the partitions this run wrote. */
  rows: number;
  /** Rows PostgreSQL reported written by this run. */
  written: number;
  seconds: number;
  rowsPerSecond: number;
  plan: PlannedPartition[];
}

/** Build the plan (validates the whole source); nothing is marked done yet. */
export async function planMigration(
  source: MigrateSource,
  range: TimeRange,
  options: { tables?: readonly MigrateTable[] } = {},
): Promise<PlannedPartition[]> {
  const plan: PlannedPartition[] = [];
  for (const table of options.tables ?? MIGRATE_TABLES) {
    for (const partition of await source.partitions(table, range)) {
      plan.push({ ...partition, done: false });
    }
  }
  return plan;
}

/** Mark the partitions recorded in `migrate_progress` with the same source count as done. */
export async function markDone(
  plan: PlannedPartition[],
  target: PgMigrateTarget,
): Promise<PlannedPartition[]> {
  for (const p of plan) {
    const record = await target.progress(p);
    p.done = record !== null && record.sourceRows === p.rows && record.writtenRows === p.rows;
  }
  return plan;
}

/** Human-readable plan. */
export function formatPlan(source: string, plan: readonly PlannedPartition[]): string {
  const lines = [`migrate plan: ${source} -> PostgreSQL`];
  const tables = [...new Set(plan.map((p) => p.table))];
  for (const table of tables) {
    const parts = plan.filter((p) => p.table === table);
    const todo = parts.filter((p) => !p.done);
    const rows = todo.reduce((s, p) => s + p.rows, 0);
    lines.push(
      `  ${table}: ${parts.length} day partitions (${parts[0].day} .. ${
        parts[parts.length - 1].day
      }), ${todo.length} to copy (${rows} rows), ${parts.length - todo.length} already done`,
    );
  }
  if (tables.length === 0) lines.push("  nothing to copy: the source has no rows in the range");
  return lines.join("\n") + "\n";
}

/** Run a migration (or plan one with `dryRun`). */
export async function runMigrate(options: MigrateOptions): Promise<MigrateReport> {
  const registry = options.registry ?? defaultRegistry;
  const logger = options.logger ?? createLogger({ component: "migrate" });
  const write = options.write ?? ((text: string) =>
    Deno.stderr.writeSync(
      new TextEncoder().encode(text),
    ));
  const batchSize = Math.max(1, options.batchSize ?? 50_000);
  const started = performance.now();
  const rowsCounter = registry.counter(
    "augur_migrate_rows_total",
    "Rows augur migrate wrote to PostgreSQL (as reported by the database).",
    ["table"],
  );

  if (options.dryRun) {
    // Validate and plan first; read progress only if the target is reachable.
    const plan = await planMigration(options.source, options.range, { tables: options.tables });
    if (options.targetUrl) {
      const target = await PgMigrateTarget.open(options.targetUrl, { create: false });
      try {
        await markDone(plan, target);
      } finally {
        await target.close();
      }
    }
    write(formatPlan(options.source.description, plan));
    return report(options.source.description, true, plan, 0, 0, started);
  }

  if (!options.targetUrl) {
    throw new AugurError("augur migrate: no PostgreSQL DSN (the target) was given");
  }
  // Validate the whole source before touching the target (nothing written on a bad file).
  const plan = await planMigration(options.source, options.range, { tables: options.tables });
  const store = new TimescaleStore({ url: options.targetUrl, config: options.storage, registry });
  try {
    await store.initialize();
  } finally {
    await store.close();
  }
  const target = await PgMigrateTarget.open(options.targetUrl);
  let rowsDone = 0;
  let writtenTotal = 0;
  try {
    await markDone(plan, target);
    const todo = plan.filter((p) => !p.done);
    const total = todo.reduce((s, p) => s + p.rows, 0);
    const display = new MigrateDisplay({
      total,
      tty: options.tty ?? false,
      write,
      intervalMs: options.intervalMs,
    });
    display.note(
      `migrate: ${todo.length} partitions to copy (${total} rows), ${
        plan.length - todo.length
      } already done, from ${options.source.description}`,
    );
    const upsert = (table: MigrateTable, text: string) =>
      withRetry(() => target.writeCopy(table, text), {
        operation: "migrate_write",
        registry,
        logger,
      });
    const count = (p: Partition) =>
      withRetry(() => target.count(p.table, p.range), {
        operation: "migrate_count",
        registry,
        logger,
      });
    // The source reads the next batches (native threads) while PostgreSQL writes these.
    const items = buffered(produce(options.source, todo, batchSize), 2);
    let state: PartitionState | undefined;
    for await (const item of items) {
      if (item.kind === "start") {
        const partition = item.partition;
        display.label = `${partition.table} ${partition.day}`;
        // Fast path: an empty target partition of bounded size is COPYed straight into the
        // table (atomic per batch); the rows PostgreSQL then counts in the range are the
        // rows it wrote. Anything unexpected falls back to the staged upsert of the batches.
        const before = partition.rows <= FAST_PATH_BATCHES * batchSize
          ? await count(partition)
          : -1;
        state = { partition, sent: 0, written: 0, fast: before === 0, kept: [] };
        continue;
      }
      const s = state!;
      const { partition } = s;
      if (item.kind === "batch") {
        if (s.fast) {
          try {
            await target.copyInto(partition.table, item.batch.text);
            s.kept.push(item.batch);
          } catch (error) {
            if (!(error instanceof MigrateWriteError)) throw error;
            logger.info("direct COPY refused; upserting the partition instead", {
              table: partition.table,
              day: partition.day,
              error: error.message,
            });
            s.fast = false;
            for (const batch of s.kept) s.written += await upsert(partition.table, batch.text);
            s.written += await upsert(partition.table, item.batch.text);
          }
        } else s.written += await upsert(partition.table, item.batch.text);
        s.sent += item.batch.rows;
        display.add(item.batch.rows);
        continue;
      }
      if (s.fast) {
        s.written = await count(partition);
        if (s.written !== s.sent) {
          logger.info("partition count after direct COPY differs; upserting it instead", {
            table: partition.table,
            day: partition.day,
            counted: s.written,
            sent: s.sent,
          });
          s.written = 0;
          for (const batch of s.kept) s.written += await upsert(partition.table, batch.text);
        }
      }
      const { sent, written } = s;
      if (sent !== partition.rows) {
        throw new MigrateParityError(
          `${partition.table} ${partition.day}: the source changed during the migration (planned ${partition.rows} rows, read ${sent}); migrate from a drained engine's file or a copy`,
        );
      }
      if (written !== partition.rows) {
        throw new MigrateParityError(
          `${partition.table} ${partition.day}: row-count mismatch: source has ${partition.rows} rows, PostgreSQL reports ${written} written`,
        );
      }
      const present = s.fast ? written : await count(partition);
      if (present < partition.rows) {
        throw new MigrateParityError(
          `${partition.table} ${partition.day}: row-count mismatch: source has ${partition.rows} rows, PostgreSQL holds ${present} after the write`,
        );
      }
      await withRetry(
        () => target.recordProgress(partition, options.source.description, written, nowUs()),
        { operation: "migrate_progress", registry, logger },
      );
      rowsCounter.inc({ table: partition.table }, written);
      rowsDone += sent;
      writtenTotal += written;
      state = undefined;
    }
    display.finish();
    const out = report(options.source.description, false, plan, rowsDone, writtenTotal, started);
    logger.info("migrate finished", {
      rows: out.rows,
      written: out.written,
      seconds: Number(out.seconds.toFixed(3)),
      rows_per_second: Math.round(out.rowsPerSecond),
    });
    return out;
  } finally {
    await target.close();
  }
}

/** Partitions up to this many batches may take the direct-COPY fast path. */
const FAST_PATH_BATCHES = 4;

interface PartitionState {
  partition: Partition;
  sent: number;
  written: number;
  fast: boolean;
  /** Batches copied directly (kept to re-apply as upserts if the fast path falls back). */
  kept: CopyBatch[];
}

type Item =
  | { kind: "start"; partition: Partition }
  | { kind: "batch"; batch: CopyBatch }
  | { kind: "end" };

async function* produce(
  source: MigrateSource,
  todo: readonly Partition[],
  batchSize: number,
): AsyncIterable<Item> {
  for (const partition of todo) {
    yield { kind: "start", partition };
    const batches = source.readCopy
      ? source.readCopy(partition, batchSize)
      : encoded(source.read(partition, batchSize), partition.table);
    for await (const batch of batches) yield { kind: "batch", batch };
    yield { kind: "end" };
  }
}

/** Pull up to `depth` items ahead of the consumer. */
async function* buffered<T>(source: AsyncIterable<T>, depth: number): AsyncIterable<T> {
  const it = source[Symbol.asyncIterator]();
  const ahead: Promise<IteratorResult<T>>[] = [];
  let done = false;
  const fill = () => {
    while (!done && ahead.length < depth) {
      const next = it.next();
      next.then((r) => {
        if (r.done) done = true;
      }, () => {
        done = true;
      });
      ahead.push(next);
    }
  };
  try {
    for (;;) {
      fill();
      const head = ahead.shift();
      if (!head) return;
      const result = await head;
      if (result.done) return;
      yield result.value;
    }
  } finally {
    await it.return?.();
  }
}

async function* encoded(
  batches: AsyncIterable<RowValue[][]>,
  table: MigrateTable,
): AsyncIterable<CopyBatch> {
  for await (const rows of batches) yield { rows: rows.length, text: copyText(table, rows) };
}

function nowUs(): number {
  return Date.now() * 1000;
}

function report(
  source: string,
  dryRun: boolean,
  plan: PlannedPartition[],
  rows: number,
  written: number,
  started: number,
): MigrateReport {
  const seconds = (performance.now() - started) / 1000;
  const tables: MigrateTableReport[] = [];
  for (const table of MIGRATE_TABLES) {
    const parts = plan.filter((p) => p.table === table);
    if (parts.length === 0) continue;
    const todo = parts.filter((p) => !p.done);
    tables.push({
      table,
      partitions: parts.length,
      skipped: parts.length - todo.length,
      rows: todo.reduce((s, p) => s + p.rows, 0),
      written: dryRun ? 0 : todo.reduce((s, p) => s + p.rows, 0),
    });
  }
  return {
    source,
    dryRun,
    tables,
    rows,
    written,
    seconds,
    rowsPerSecond: seconds > 0 ? rows / seconds : 0,
    plan,
  };
}
