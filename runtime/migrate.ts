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
 *    else a {@linkcode MigrateParityError} stops the run; the statement that counts the
 *    range also records the partition.
 *
 * Speed: `parallel` sessions (default 2) take a table's days in chronological order, each
 * day on one session; the source prepares the next days meanwhile (the DuckDB source
 * exports them natively, runtime/migrate_duckdb.ts). A day the target holds no row of is
 * COPYed straight into its table (PostgreSQL's COPY row counts are the rows written); a day
 * with rows already (a killed run, a concurrent dual-write) or a refused direct COPY goes
 * through the staged upsert.
 *
 * A killed run resumes at the unrecorded partitions; re-writing a partially written one is
 * an upsert on the natural key, so no row is ever duplicated.
 *
 * @example
 * ```ts
 * import { runMigrate } from "./migrate.ts";
 * import { openDuckDbSource } from "./migrate_duckdb.ts";
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
import {
  type Counter,
  defaultRegistry,
  type MetricsRegistry,
} from "../adapters/observability/metrics.ts";
import { StoreUnavailableError } from "../adapters/storage/types.ts";
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
  /** PostgreSQL sessions copying partitions of a table at once (default 2). */
  parallel?: number;
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
  const key = (table: string, range: TimeRange) => `${table}\u0000${range.start}\u0000${range.end}`;
  const records = new Map((await target.allProgress()).map((r) => [key(r.table, r.range), r]));
  for (const p of plan) {
    const record = records.get(key(p.table, p.range));
    p.done = record !== undefined && record.sourceRows === p.rows && record.writtenRows === p.rows;
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
  const targets = [await PgMigrateTarget.open(options.targetUrl)];
  try {
    await markDone(plan, targets[0]);
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
    const parallel = Math.max(1, Math.min(options.parallel ?? 2, todo.length));
    while (targets.length < parallel) {
      targets.push(await PgMigrateTarget.open(options.targetUrl));
    }
    options.source.prepare?.(todo);
    const copier = new PartitionCopier(options.source, batchSize, display, registry, logger);
    let rows = 0;
    let written = 0;
    // Table by table; within a table, `parallel` sessions take the days in order.
    for (const table of options.tables ?? MIGRATE_TABLES) {
      const queue = todo.filter((p) => p.table === table);
      const occupied = await withRetry(
        () => targets[0].occupied(table, queue.map((p) => p.range)),
        { operation: "migrate_count", registry, logger },
      );
      let next = 0;
      let failure: { error: unknown } | undefined;
      await Promise.all(targets.map(async (target) => {
        while (!failure && next < queue.length) {
          const at = next++;
          const partition = queue[at];
          try {
            const done = await copier.copy(
              partition,
              target,
              options.source.description,
              occupied[at],
            );
            rows += done.sent;
            written += done.written;
          } catch (error) {
            failure ??= { error };
          }
        }
      }));
      if (failure) throw failure.error;
    }
    display.finish();
    const out = report(options.source.description, false, plan, rows, written, started);
    logger.info("migrate finished", {
      rows: out.rows,
      written: out.written,
      seconds: Number(out.seconds.toFixed(3)),
      rows_per_second: Math.round(out.rowsPerSecond),
    });
    return out;
  } finally {
    await Promise.all(targets.map((t) => t.close()));
  }
}

/** Copies one partition into one target session, checks parity, records progress. */
class PartitionCopier {
  readonly #rows: Counter;

  constructor(
    private readonly source: MigrateSource,
    private readonly batchSize: number,
    private readonly display: MigrateDisplay,
    private readonly registry: MetricsRegistry,
    private readonly logger: Logger,
  ) {
    this.#rows = registry.counter(
      "augur_migrate_rows_total",
      "Rows augur migrate wrote to PostgreSQL (as reported by the database).",
      ["table"],
    );
  }

  /**
   * Copy `partition` (`occupied`: the target already held rows in its range); resolves to
   * the rows read from the source and written by PostgreSQL.
   */
  async copy(
    partition: Partition,
    target: PgMigrateTarget,
    source: string,
    occupied: boolean,
  ): Promise<{ sent: number; written: number }> {
    this.display.label = `${partition.table} ${partition.day}`;
    // Fast path: a partition the target holds no row of is COPYed straight into the table
    // (each batch atomic; a key conflict refuses it); COPY's command tags are the rows
    // written, and the statement that counts the range records the partition. Any refusal
    // or surprise (a concurrent writer, a killed earlier run) falls back to the staged
    // upsert of the whole partition, which is idempotent.
    if (!occupied) {
      const direct = await this.#direct(partition, target);
      if (direct) {
        this.#checkRead(partition, direct.sent);
        // COPY's own row counts when the driver reported them, else the range's count.
        if (direct.written === null || direct.written === partition.rows) {
          const done = await this.#finish(partition, target, source, direct.written);
          if (done.recorded) {
            return this.#done(partition, direct.sent, direct.written ?? done.present);
          }
          this.#fallback(partition, direct.sent, "partition count after direct COPY differs", {
            counted: done.present,
          });
        } else {
          this.#fallback(partition, direct.sent, "direct COPY wrote another number of rows", {
            written: direct.written,
          });
        }
      }
    }
    const { sent, written } = await this.#upsert(partition, target);
    this.#checkRead(partition, sent);
    if (written !== partition.rows) {
      throw new MigrateParityError(
        `${partition.table} ${partition.day}: row-count mismatch: source has ${partition.rows} rows, PostgreSQL reports ${written} written`,
      );
    }
    const done = await this.#finish(partition, target, source, written);
    if (!done.recorded) {
      throw new MigrateParityError(
        `${partition.table} ${partition.day}: row-count mismatch: source has ${partition.rows} rows, PostgreSQL holds ${done.present} after the write`,
      );
    }
    return this.#done(partition, sent, written);
  }

  #checkRead(partition: Partition, sent: number): void {
    if (sent !== partition.rows) {
      throw new MigrateParityError(
        `${partition.table} ${partition.day}: the source changed during the migration (planned ${partition.rows} rows, read ${sent}); migrate from a drained engine's file or a copy`,
      );
    }
  }

  #done(partition: Partition, sent: number, written: number): { sent: number; written: number } {
    this.#rows.inc({ table: partition.table }, written);
    return { sent, written };
  }

  #finish(partition: Partition, target: PgMigrateTarget, source: string, written: number | null) {
    return withRetry(() => target.finish(partition, source, written, nowUs()), {
      operation: "migrate_progress",
      registry: this.registry,
      logger: this.logger,
    });
  }

  /**
   * COPY into the table; resolves to the rows sent and the rows PostgreSQL reports written
   * (null if unknown), or null when it was refused.
   */
  async #direct(
    partition: Partition,
    target: PgMigrateTarget,
  ): Promise<{ sent: number; written: number | null } | null> {
    let sent = 0;
    let written: number | null = 0;
    try {
      for await (const batch of buffered(this.#batches(partition), 1)) {
        const copied = await target.copyInto(partition.table, batch.data);
        written = written === null || copied === null ? null : written + copied;
        sent += batch.rows;
        this.display.add(batch.rows);
      }
    } catch (error) {
      if (!(error instanceof MigrateWriteError || error instanceof StoreUnavailableError)) {
        throw error;
      }
      this.#fallback(partition, sent, "direct COPY refused", { error: error.message });
      return null;
    }
    return { sent, written };
  }

  #fallback(partition: Partition, shown: number, why: string, detail: Record<string, unknown>) {
    this.logger.info(`${why}; upserting the partition instead`, {
      table: partition.table,
      day: partition.day,
      ...detail,
    });
    this.display.add(-shown);
  }

  /** COPY into staging + INSERT … ON CONFLICT, batch by batch (idempotent). */
  async #upsert(partition: Partition, target: PgMigrateTarget): Promise<CopyResult> {
    let sent = 0;
    let written = 0;
    for await (const batch of buffered(this.#batches(partition), 1)) {
      written += await withRetry(() => target.writeCopy(partition.table, batch.data), {
        operation: "migrate_write",
        registry: this.registry,
        logger: this.logger,
      });
      sent += batch.rows;
      this.display.add(batch.rows);
    }
    return { sent, written };
  }

  #batches(partition: Partition): AsyncIterable<CopyBatch> {
    return this.source.readCopy
      ? this.source.readCopy(partition, this.batchSize)
      : encoded(this.source.read(partition, this.batchSize), partition.table);
  }
}

interface CopyResult {
  sent: number;
  written: number;
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
    await Promise.allSettled(ahead);
    await it.return?.();
  }
}

async function* encoded(
  batches: AsyncIterable<RowValue[][]>,
  table: MigrateTable,
): AsyncIterable<CopyBatch> {
  for await (const rows of batches) yield { rows: rows.length, data: copyText(table, rows) };
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
