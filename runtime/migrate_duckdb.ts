/**
 * The DuckDB file as a source of `augur migrate` (opened read-only; the engine must be
 * drained, or migrate from a copy of the file).
 *
 * Rows leave DuckDB already encoded as PostgreSQL COPY text: DuckDB builds every line with
 * SQL ({@linkcode duckCopyLine}) and writes them with its own `COPY … TO` into a temporary
 * file, on its native threads; augur then only moves bytes (file → socket). Fetching every
 * line as a JavaScript string instead cost more than building it, and PostgreSQL waited.
 *
 * {@linkcode MigrateSource.prepare} groups consecutive days of a table into one export
 * ({@linkcode GROUP_ROWS}): one query sorted by (day, key) writes one file, and each day is
 * then its planned number of lines, in order. The next group is exported while the current
 * one is written to PostgreSQL. A day larger than a group is exported alone in time slices
 * ({@linkcode SLICE_ROWS}); a day read twice (the upsert fallback) is exported afresh. Every
 * export runs on its own connection and is cut into batches of `batchSize` lines. Without a
 * writable directory for the files, lines are fetched as strings after all.
 *
 * @example
 * ```ts
 * import { openDuckDbSource } from "./migrate_duckdb.ts";
 * const source = await openDuckDbSource("data/augur.duckdb");
 * const days = await source.partitions("snapshots", { start: 0, end: Date.now() * 1000 });
 * await source.close();
 * ```
 * @module
 */
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from "@duckdb/node-api";
import { ConnectionError } from "../config/errors.ts";
import { DAY_US, TABLES, type TableSpec } from "../adapters/storage/schema.ts";
import type { TimeRange } from "../adapters/storage/types.ts";
import {
  type CopyBatch,
  dayName,
  dayRange,
  duckCopyLine,
  type MigrateSource,
  type MigrateTable,
  type Partition,
  type RowValue,
} from "./migrate_sources.ts";

/**
 * Consecutive days of a table are exported together (one DuckDB COPY writing a file per day)
 * up to about this many rows. A query reads whole row groups (122,880 rows), so one query
 * per small day would read several days to keep one; a group of many days wastes at most
 * one row group. The first group of a table is smaller ({@linkcode FIRST_GROUP_ROWS}) so
 * that PostgreSQL starts early; each next group is exported while the current one is copied.
 */
export const GROUP_ROWS = 256_000;

/** Rows of the first export group of a table (see {@linkcode GROUP_ROWS}). */
export const FIRST_GROUP_ROWS = 64_000;

/**
 * A day larger than {@linkcode GROUP_ROWS} is exported alone, in time slices of about this
 * many rows. Exports bound the temporary disk space to about two groups or slices
 * (≈ 350 bytes per snapshot row).
 */
export const SLICE_ROWS = 500_000;

/** Bytes read from an exported file at a time. */
const READ_BYTES = 1 << 22;

/**
 * Cut `\n`-terminated lines arriving in arbitrary chunks into batches of at most
 * `linesPerBatch` lines (the last one may be shorter). Bytes are never copied except where
 * a batch spans chunks.
 *
 * @example
 * ```ts
 * import { batchLines } from "./migrate_duckdb.ts";
 * const chunks = [new TextEncoder().encode("a\nb\nc\n")];
 * for await (const b of batchLines(chunks, 2)) console.log(b.rows); // 2, then 1
 * ```
 */
export async function* batchLines(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  linesPerBatch: number,
): AsyncIterable<CopyBatch> {
  let parts: Uint8Array[] = [];
  let rows = 0;
  for await (const chunk of chunks) {
    let from = 0; // start of this chunk's bytes not yet in a yielded batch
    let scan = 0;
    for (;;) {
      const at = chunk.indexOf(10, scan);
      if (at < 0) break;
      scan = at + 1;
      if (++rows === linesPerBatch) {
        parts.push(chunk.subarray(from, scan));
        yield { rows, data: concat(parts) };
        parts = [];
        rows = 0;
        from = scan;
      }
    }
    if (from < chunk.length) parts.push(chunk.subarray(from));
  }
  if (parts.length === 0) return;
  const data = concat(parts);
  if (data[data.length - 1] !== 10) {
    throw new Error("COPY data does not end with a newline (truncated export?)");
  }
  yield { rows, data };
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The DuckDB file source. */
class DuckDbSource implements MigrateSource {
  readonly description: string;
  readonly #groupOf = new Map<string, ExportGroup>();
  #files = 0;

  constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly present: Set<string>,
    /** Directory for exports; null: stream lines through JavaScript instead (slower). */
    private readonly tmp: string | null,
  ) {
    this.description = `duckdb:${path}`;
  }

  async partitions(table: MigrateTable, range: TimeRange): Promise<Partition[]> {
    if (!this.present.has(table)) return [];
    const spec: TableSpec = TABLES[table];
    const time = `"${spec.time}"`;
    const reader = await this.conn.runAndReadAll(
      `SELECT CAST(floor(${time} / ${DAY_US}) AS BIGINT) AS d, count(*) AS n FROM "${table}" WHERE ${time} >= $1 AND ${time} < $2 GROUP BY d ORDER BY d`,
      [BigInt(range.start), BigInt(range.end)],
    );
    return reader.getRows().map(([d, n]) => {
      const index = Number(d);
      return { table, day: dayName(index), range: dayRange(index, range), rows: Number(n) };
    });
  }

  async *read(partition: Partition, batchSize: number): AsyncIterable<RowValue[][]> {
    const spec: TableSpec = TABLES[partition.table];
    const cols = spec.columns.map((c) => `"${c.name}"`).join(", ");
    const conn = await this.instance.connect();
    try {
      const result = await conn.stream(
        `SELECT ${cols} FROM "${spec.name}" WHERE ${rangeSql(spec)} ORDER BY ${orderSql(spec)}`,
        [BigInt(partition.range.start), BigInt(partition.range.end)],
      );
      const listIdx = spec.columns.flatMap((c, i) => c.type === "text_array" ? [i] : []);
      const blobIdx = spec.columns.flatMap((c, i) => c.type === "bytes" ? [i] : []);
      let batch: RowValue[][] = [];
      for (;;) {
        const chunk = await result.fetchChunk();
        if (chunk === null || chunk.rowCount === 0) break;
        for (const row of chunk.getRows() as unknown as RowValue[][]) {
          for (const i of listIdx) row[i] = listItems(row[i] as unknown as DuckDBValue);
          for (const i of blobIdx) row[i] = blobBytes(row[i] as unknown as DuckDBValue);
          batch.push(row);
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
        }
      }
      if (batch.length) yield batch;
    } finally {
      conn.closeSync();
    }
  }

  prepare(todo: readonly Partition[]): void {
    if (this.tmp === null) return;
    let group: ExportGroup | undefined;
    for (const p of todo) {
      if (p.rows > GROUP_ROWS) continue; // exported alone, in time slices
      const limit = group?.first ? FIRST_GROUP_ROWS : GROUP_ROWS;
      const fits = group && group.table === p.table && group.range.end === p.range.start &&
        group.rows + p.rows <= limit;
      if (!fits) {
        const next: ExportGroup = {
          table: p.table,
          range: { ...p.range },
          rows: 0,
          members: [],
          left: 0,
          first: group?.table !== p.table,
          file: `${this.tmp}/group-${++this.#files}.copy`,
        };
        if (group) group.next = next;
        group = next;
      }
      group!.range.end = p.range.end;
      group!.rows += p.rows;
      group!.members.push({ key: partitionKey(p), rows: p.rows, start: 0, end: 0, lines: 0 });
      group!.left++;
      this.#groupOf.set(partitionKey(p), group!);
    }
  }

  async *readCopy(partition: Partition, batchSize: number): AsyncIterable<CopyBatch> {
    if (this.tmp === null) {
      yield* this.#streamLines(partition, batchSize);
      return;
    }
    const key = partitionKey(partition);
    const group = this.#groupOf.get(key);
    if (!group) {
      yield* this.#exportAlone(partition, batchSize);
      return;
    }
    // A second read of this partition (a fallback to the upsert path) exports it afresh.
    this.#groupOf.delete(key);
    try {
      await this.#export(group);
      // Export the next group while this one's days are being written to PostgreSQL.
      if (group.next) this.#export(group.next).catch(() => {});
      const day = group.members.find((m) => m.key === key)!;
      if (day.lines <= batchSize) {
        if (day.lines > 0) yield { rows: day.lines, data: await readRange(group.file, day) };
      } else yield* batchLines(readChunks(group.file, day), batchSize);
    } finally {
      if (--group.left === 0) await Deno.remove(group.file).catch(() => {});
    }
  }

  /**
   * Export `group` into one file, days in order (each day sorted by the table key: PostgreSQL
   * inserts key-ordered rows with less work), then find each day's lines: the first day's
   * planned row count of lines, then the next day's, …; the last day runs to the end of the
   * file, so a source that disagreed with the plan shows as a day with the wrong count.
   */
  #export(group: ExportGroup): Promise<void> {
    group.ready ??= (async () => {
      const spec: TableSpec = TABLES[group.table];
      const conn = await this.instance.connect();
      try {
        await conn.run(
          `COPY (SELECT ${duckCopyLine(spec)} AS line FROM "${spec.name}" WHERE ${
            rangeSql(spec)
          } ORDER BY CAST(floor("${spec.time}" / ${DAY_US}) AS BIGINT), ${orderSql(spec)}) TO ${
            sqlString(group.file)
          } (${COPY_OPTIONS})`,
          [BigInt(group.range.start), BigInt(group.range.end)],
        );
      } finally {
        conn.closeSync();
      }
      await locateDays(group.file, group.members);
    })();
    return group.ready;
  }

  /**
   * Without a writable directory for exports: the same lines, fetched as JavaScript strings
   * (twice the client CPU of an export).
   */
  async *#streamLines(partition: Partition, batchSize: number): AsyncIterable<CopyBatch> {
    const spec: TableSpec = TABLES[partition.table];
    const conn = await this.instance.connect();
    try {
      const result = await conn.stream(
        `SELECT ${duckCopyLine(spec)} AS line FROM "${spec.name}" WHERE ${
          rangeSql(spec)
        } ORDER BY ${orderSql(spec)}`,
        [BigInt(partition.range.start), BigInt(partition.range.end)],
      );
      let lines: string[] = [];
      for (;;) {
        const chunk = await result.fetchChunk();
        if (chunk === null || chunk.rowCount === 0) break;
        for (const line of chunk.getColumns()[0] as string[]) {
          lines.push(line);
          if (lines.length === batchSize) {
            yield { rows: lines.length, data: lines.join("\n") + "\n" };
            lines = [];
          }
        }
      }
      if (lines.length) yield { rows: lines.length, data: lines.join("\n") + "\n" };
    } finally {
      conn.closeSync();
    }
  }

  /** A partition outside any group: exported on its own, in time slices if large. */
  async *#exportAlone(partition: Partition, batchSize: number): AsyncIterable<CopyBatch> {
    const slices = Math.max(1, Math.ceil(partition.rows / SLICE_ROWS));
    const { start, end } = partition.range;
    for (let i = 0; i < slices; i++) {
      const from = start + Math.floor(((end - start) * i) / slices);
      const to = i === slices - 1 ? end : start + Math.floor(((end - start) * (i + 1)) / slices);
      yield* this.#exportSlice(partition.table, { start: from, end: to }, batchSize);
    }
  }

  /** COPY one time slice into a temporary file, then hand its bytes out in batches. */
  async *#exportSlice(
    table: MigrateTable,
    range: TimeRange,
    batchSize: number,
  ): AsyncIterable<CopyBatch> {
    const spec: TableSpec = TABLES[table];
    const file = `${this.tmp}/${table}-${range.start}-${++this.#files}.copy`;
    try {
      const conn = await this.instance.connect();
      try {
        await conn.run(
          `COPY (SELECT ${duckCopyLine(spec)} AS line FROM "${spec.name}" WHERE ${
            rangeSql(spec)
          } ORDER BY ${orderSql(spec)}) TO ${sqlString(file)} (${COPY_OPTIONS})`,
          [BigInt(range.start), BigInt(range.end)],
        );
      } finally {
        conn.closeSync();
      }
      yield* batchLines(readChunks(file), batchSize);
    } finally {
      await Deno.remove(file).catch(() => {});
    }
  }

  async close(): Promise<void> {
    // Let running exports finish before the database closes under them.
    const pending = new Set([...this.#groupOf.values()].flatMap((g) => g.ready ? [g.ready] : []));
    await Promise.allSettled(pending);
    this.conn.closeSync();
    this.instance.closeSync();
    if (this.tmp) await Deno.remove(this.tmp, { recursive: true }).catch(() => {});
  }
}

/** Consecutive days of one table exported together. */
interface ExportGroup {
  table: MigrateTable;
  range: TimeRange;
  rows: number;
  /** The days, in order, with their byte range in `file` once exported. */
  members: GroupDay[];
  /** Days not yet read. */
  left: number;
  /** The table's first group (kept small). */
  first: boolean;
  file: string;
  ready?: Promise<void>;
  next?: ExportGroup;
}

/** One day of an export group: planned rows, then its lines' byte range in the file. */
interface GroupDay {
  key: string;
  rows: number;
  start: number;
  end: number;
  lines: number;
}

/** Give each day its planned number of lines (the last day: the rest of the file). */
async function locateDays(path: string, days: GroupDay[]): Promise<void> {
  const size = (await Deno.stat(path)).size;
  let at = 0; // bytes before the current chunk
  let d = 0;
  let lines = 0;
  days[0].start = 0;
  if (days.length > 1) {
    scan: for await (const chunk of readChunks(path)) {
      for (let from = 0;;) {
        const nl = chunk.indexOf(10, from);
        if (nl < 0) break;
        from = nl + 1;
        if (++lines === days[d].rows) {
          days[d].end = at + from;
          days[d].lines = lines;
          days[++d].start = at + from;
          lines = 0;
          if (d === days.length - 1) break scan;
        }
      }
      at += chunk.length;
    }
  }
  // A short file leaves day d short (and the days after it empty); the last day found runs
  // to the end of the file.
  for (let i = d + 1; i < days.length; i++) days[i].start = size;
  for (let i = d; i < days.length; i++) days[i].end = size;
  if (d === days.length - 1) await countLast(path, days[d]);
  else days[d].lines = lines;
}

/** Count the lines of the last day (the rest of the file). */
async function countLast(path: string, day: GroupDay): Promise<void> {
  let lines = 0;
  for await (const chunk of readChunks(path, day)) {
    for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) lines++;
  }
  day.lines = lines;
}

/**
 * QUOTE '' and ESCAPE '': DuckDB writes each line exactly as built (a line never needs
 * quoting: its own tabs, newlines and backslashes are escaped already).
 */
const COPY_OPTIONS = "FORMAT csv, HEADER false, QUOTE '', ESCAPE ''";

function partitionKey(p: Partition): string {
  return `${p.table}\u0000${p.range.start}\u0000${p.range.end}`;
}

/** The bytes of `path` (or of `range` of it) in chunks of at most {@linkcode READ_BYTES}. */
async function* readChunks(
  path: string,
  range?: { start: number; end: number },
): AsyncIterable<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  let left = Infinity;
  if (range) {
    await file.seek(range.start, Deno.SeekMode.Start);
    left = range.end - range.start;
  }
  while (left > 0) {
    const buffer = new Uint8Array(Math.min(READ_BYTES, left));
    const n = await file.read(buffer);
    if (n === null) return;
    left -= n;
    yield buffer.subarray(0, n);
  }
}

/** The bytes of `range` of `path` in one array. */
async function readRange(path: string, range: { start: number; end: number }) {
  const out = new Uint8Array(range.end - range.start);
  using file = await Deno.open(path, { read: true });
  await file.seek(range.start, Deno.SeekMode.Start);
  let at = 0;
  while (at < out.length) {
    const n = await file.read(out.subarray(at));
    if (n === null) break;
    at += n;
  }
  return at === out.length ? out : out.subarray(0, at);
}

function rangeSql(spec: TableSpec): string {
  return `"${spec.time}" >= $1 AND "${spec.time}" < $2`;
}

function orderSql(spec: TableSpec): string {
  return spec.key.map((k) => `"${k}"`).join(", ");
}

/** A SQL string literal (single quotes doubled). */
function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function listItems(value: DuckDBValue): string[] | null {
  if (value === null) return null;
  const items = (value as { items?: unknown[] }).items;
  return Array.isArray(items) ? items.map(String) : [];
}

function blobBytes(value: DuckDBValue): Uint8Array | null {
  if (value === null) return null;
  const bytes = (value as { bytes?: Uint8Array }).bytes;
  return bytes instanceof Uint8Array ? bytes : new Uint8Array();
}

/**
 * Open a DuckDB store file read-only as a migrate source. Exports go to a fresh directory
 * in `TMPDIR` (or /tmp), else beside the file — the first this process may write (the
 * compiled binary may write only `data/`); with neither, lines are streamed instead.
 * `exportDir: null` forces streaming (tests).
 *
 * @example
 * ```ts
 * import { openDuckDbSource } from "./migrate_duckdb.ts";
 * const source = await openDuckDbSource("/tmp/copy.duckdb");
 * await source.close();
 * ```
 * @throws {ConnectionError} when the file is missing or locked by a writer.
 */
export async function openDuckDbSource(
  path: string,
  options: { exportDir?: string | null } = {},
): Promise<MigrateSource> {
  const instance = await openReadOnly(path);
  const conn = await instance.connect();
  const tables = await conn.runAndReadAll(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'`,
  );
  const present = new Set(tables.getRows().map((r) => String(r[0])));
  const tmp = options.exportDir === null ? null : await exportDir(
    options.exportDir !== undefined ? [options.exportDir] : [tempRoot(), dirname(path)],
  );
  if (tmp) await removeStaleExports(tmp);
  return new DuckDbSource(path, instance, conn, present, tmp);
}

function tempRoot(): string {
  try {
    return Deno.env.get("TMPDIR") || "/tmp";
  } catch {
    return "/tmp";
  }
}

function dirname(path: string): string {
  const at = path.lastIndexOf("/");
  return at < 0 ? "." : at === 0 ? "/" : path.slice(0, at);
}

/** A fresh export directory in the first of `roots` this process may write, or null. */
async function exportDir(roots: string[]): Promise<string | null> {
  for (const dir of roots) {
    const may = (name: "read" | "write") =>
      Deno.permissions.querySync({ name, path: dir }).state === "granted";
    if (!may("write") || !may("read")) continue;
    try {
      return await Deno.makeTempDir({ dir, prefix: `augur-migrate-export-${Deno.pid}-` });
    } catch { /* not writable after all: try the next */ }
  }
  return null;
}

/**
 * Remove the export directories of migrate processes that no longer run (a SIGKILLed run
 * cannot clean up after itself). Only where `/proc` tells which processes are alive.
 */
async function removeStaleExports(ours: string): Promise<void> {
  const parent = ours.slice(0, ours.lastIndexOf("/"));
  try {
    await Deno.stat("/proc/self");
    for await (const entry of Deno.readDir(parent)) {
      const pid = /^augur-migrate-export-(\d+)-/.exec(entry.name)?.[1];
      if (!entry.isDirectory || pid === undefined || pid === String(Deno.pid)) continue;
      const alive = await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
      if (!alive) await Deno.remove(`${parent}/${entry.name}`, { recursive: true });
    }
  } catch { /* best effort: no /proc, or a directory vanished meanwhile */ }
}

/**
 * Open a DuckDB file read-only (shared by `augur migrate` and `augur verify`).
 *
 * @example
 * ```ts
 * import { openReadOnly } from "./migrate_duckdb.ts";
 * const instance = await openReadOnly("/tmp/copy.duckdb");
 * instance.closeSync();
 * ```
 * @throws {ConnectionError} when the file is missing or locked by a writer.
 */
export async function openReadOnly(path: string): Promise<DuckDBInstance> {
  try {
    await Deno.stat(path);
  } catch {
    throw new ConnectionError(`DuckDB source ${path} does not exist`);
  }
  const duck = await import("@duckdb/node-api");
  try {
    return await duck.DuckDBInstance.create(path, { access_mode: "READ_ONLY" });
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConnectionError(
      `cannot open DuckDB source ${path} read-only: ${message} (drain the engine or migrate from a copy of the file)`,
      { cause: error },
    );
  }
}
