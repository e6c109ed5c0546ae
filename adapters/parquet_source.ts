/**
 * A Parquet archive as a source of `augur migrate` (`--from parquet:DIR`), read with
 * `hyparquet` (pure JS, maintained; imported as `npm:hyparquet@1.31.5` — see
 * docs/decisions.md "Parquet reader for augur migrate").
 *
 * Layout: `DIR/<table>/…/<anything with YYYY-MM-DD>.parquet` — one or more files per UTC day
 * partition, the day taken from the file's path (`2026-03-01.parquet`,
 * `day=2026-03-01/part-0.parquet`). Only tables of the migrate allowlist are read.
 *
 * Column safety: every column name of a file must be a column of the table's allowlist
 * ({@linkcode TABLES}); an unknown (or malicious) name, a missing NOT NULL column, a Parquet
 * type that does not fit the column, a NULL in a NOT NULL column, a value of the wrong JS
 * type or a row outside its day are rejected with a {@linkcode ParquetSourceError} naming the
 * column and the partition (file). {@linkcode openParquetSource}'s `partitions()` validates
 * every file fully, so the migration rejects a bad archive before any SQL is built and
 * before any row is written. Names from files never reach SQL: writes use allowlisted names.
 *
 * @example
 * ```ts
 * import { openParquetSource } from "./parquet_source.ts";
 * const source = await openParquetSource("archive/");
 * const days = await source.partitions("snapshots", { start: 0, end: 2 ** 52 });
 * await source.close();
 * ```
 * @module
 */
import { parquetMetadata, parquetReadObjects, parquetSchema } from "npm:hyparquet@1.31.5";
import { DAY_US, type TableName, TABLES, type TableSpec } from "./storage/schema.ts";
import { StoreInputError, type TimeRange } from "./storage/types.ts";

/** A rejected Parquet file: unknown column, wrong type, bad value. */
export class ParquetSourceError extends StoreInputError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ParquetSourceError";
  }
}

/** One positional row value (same shape as runtime/migrate_sources.ts `RowValue`). */
export type ParquetRowValue = string | number | bigint | boolean | null | string[] | Uint8Array;

/** One day partition of a table (same shape as runtime/migrate_sources.ts `Partition`). */
export interface ParquetPartition<T extends string = string> {
  table: T;
  day: string;
  range: TimeRange;
  rows: number;
}

type Column = TableSpec["columns"][number];

interface SchemaNode {
  element: {
    name: string;
    type?: string;
    converted_type?: string;
    logical_type?: { type?: string };
    repetition_type?: string;
  };
  children: SchemaNode[];
}

const DAY_RE = /(\d{4}-\d{2}-\d{2})/;

/** Whether a Parquet leaf/group fits a column type; returns a description when not. */
function typeProblem(column: Column, node: SchemaNode): string | null {
  const e = node.element;
  const physical = e.type ?? (node.children.length ? "GROUP" : "?");
  const logical = e.logical_type?.type ?? e.converted_type ?? "";
  const isString = physical === "BYTE_ARRAY" &&
    (logical === "" || logical === "UTF8" || logical === "STRING" || logical === "JSON");
  let ok: boolean;
  switch (column.type) {
    case "text":
      ok = isString;
      break;
    case "bigint":
    case "int":
      ok = (physical === "INT64" || physical === "INT32") &&
        !/TIMESTAMP|DATE|TIME|DECIMAL/.test(logical);
      break;
    case "double":
      ok = physical === "DOUBLE" || physical === "FLOAT";
      break;
    case "bool":
      ok = physical === "BOOLEAN";
      break;
    case "bytes":
      ok = physical === "BYTE_ARRAY";
      break;
    case "text_array":
      ok = isString || (physical === "GROUP" && /LIST/.test(logical));
      break;
  }
  return ok ? null : `${physical}${logical ? `/${logical}` : ""}`;
}

/** Convert and check one value; returns the positional value or throws a description. */
function convert(column: Column, value: unknown): ParquetRowValue {
  if (value === null || value === undefined) {
    if (!column.nullable) throw "NULL in a NOT NULL column";
    return null;
  }
  switch (column.type) {
    case "text":
      if (typeof value !== "string") throw `expected text, received ${typeof value}`;
      return value;
    case "bigint":
    case "int": {
      const n = typeof value === "bigint" ? Number(value) : value;
      if (typeof n !== "number" || !Number.isSafeInteger(n)) {
        throw `expected an integer, received ${JSON.stringify(String(value))}`;
      }
      return n;
    }
    case "double":
      if (typeof value !== "number") throw `expected a double, received ${typeof value}`;
      return value;
    case "bool":
      if (typeof value !== "boolean") throw `expected a boolean, received ${typeof value}`;
      return value;
    case "bytes":
      if (!(value instanceof Uint8Array)) throw `expected bytes, received ${typeof value}`;
      return value;
    case "text_array": {
      const list = typeof value === "string" ? JSON.parse(value) : value;
      if (!Array.isArray(list) || list.some((x) => typeof x !== "string")) {
        throw "expected a list of strings";
      }
      return list as string[];
    }
  }
}

interface FilePlan {
  path: string;
  day: string;
  /** Columns present in the file, allowlisted. */
  columns: string[];
}

/** A validated Parquet archive. */
class ParquetSource<T extends string> {
  readonly description: string;

  constructor(readonly dir: string) {
    this.description = `parquet:${dir}`;
  }

  async #files(table: string): Promise<FilePlan[]> {
    const root = `${this.dir.replace(/\/$/, "")}/${table}`;
    const out: FilePlan[] = [];
    const walk = async (dir: string) => {
      let entries: Deno.DirEntry[];
      try {
        entries = [...Deno.readDirSync(dir)];
      } catch {
        return; // no such table directory: no partitions
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const entry of entries) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory) await walk(path);
        else if (entry.name.endsWith(".parquet")) {
          const day = DAY_RE.exec(path.slice(root.length))?.[1];
          if (!day || Number.isNaN(Date.parse(`${day}T00:00:00Z`))) {
            throw new ParquetSourceError(
              `${path}: expected a UTC day YYYY-MM-DD in the file's path (partition), received none`,
            );
          }
          out.push({ path, day, columns: [] });
        }
      }
    };
    await walk(root);
    return out;
  }

  /** Read and validate one file: every row, converted to positional values. */
  async #load(table: TableName, file: FilePlan): Promise<ParquetRowValue[][]> {
    const spec: TableSpec = TABLES[table];
    const bytes = await Deno.readFile(file.path);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    let tree: SchemaNode;
    let metadata;
    try {
      metadata = parquetMetadata(buffer as ArrayBuffer);
      tree = parquetSchema(metadata) as unknown as SchemaNode;
    } catch (error) {
      throw new ParquetSourceError(
        `${file.path} (${table} ${file.day}): not a readable Parquet file: ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
    const allowed = spec.columns.map((c) => c.name);
    const present = new Map<string, SchemaNode>();
    for (const node of tree.children) {
      const name = node.element.name;
      if (!allowed.includes(name) || !/^[a-z_][a-z0-9_]*$/.test(name)) {
        throw new ParquetSourceError(
          `${file.path} (${table} ${file.day}): unknown column ${
            JSON.stringify(name)
          }: expected only columns of ${table} (${allowed.join(", ")})`,
        );
      }
      if (present.has(name)) {
        throw new ParquetSourceError(
          `${file.path} (${table} ${file.day}): column ${JSON.stringify(name)} appears twice`,
        );
      }
      present.set(name, node);
    }
    for (const column of spec.columns) {
      const node = present.get(column.name);
      if (!node) {
        if (!column.nullable) {
          throw new ParquetSourceError(
            `${file.path} (${table} ${file.day}): missing NOT NULL column ${
              JSON.stringify(column.name)
            }`,
          );
        }
        continue;
      }
      const problem = typeProblem(column, node);
      if (problem) {
        throw new ParquetSourceError(
          `${file.path} (${table} ${file.day}): column ${
            JSON.stringify(column.name)
          } has Parquet type ${problem}, expected one that holds ${column.type}`,
        );
      }
    }
    file.columns = [...present.keys()];
    const objects = await parquetReadObjects({
      file: buffer as ArrayBuffer,
      columns: file.columns,
    });
    const timeIdx = spec.columns.findIndex((c) => c.name === spec.time);
    const start = Date.parse(`${file.day}T00:00:00Z`) * 1000;
    const rows: ParquetRowValue[][] = new Array(objects.length);
    for (let r = 0; r < objects.length; r++) {
      const object = objects[r] as Record<string, unknown>;
      const row: ParquetRowValue[] = new Array(spec.columns.length);
      spec.columns.forEach((column, i) => {
        try {
          row[i] = convert(column, object[column.name]);
        } catch (problem) {
          throw new ParquetSourceError(
            `${file.path} (${table} ${file.day}): row ${r}, column ${
              JSON.stringify(column.name)
            }: ${typeof problem === "string" ? problem : (problem as Error).message}`,
          );
        }
      });
      const t = row[timeIdx] as number;
      if (!(t >= start && t < start + DAY_US)) {
        throw new ParquetSourceError(
          `${file.path} (${table} ${file.day}): row ${r}, column ${
            JSON.stringify(spec.time)
          }: ${t} is outside the partition's day`,
        );
      }
      rows[r] = row;
    }
    void metadata;
    return rows;
  }

  async partitions(table: T, range: TimeRange): Promise<ParquetPartition<T>[]> {
    const name = table as unknown as TableName;
    if (!Object.hasOwn(TABLES, name) || !(TABLES[name] as TableSpec).time) {
      throw new ParquetSourceError(`unknown table ${JSON.stringify(table)}`);
    }
    const spec: TableSpec = TABLES[name];
    const timeIdx = spec.columns.findIndex((c) => c.name === spec.time);
    const byDay = new Map<string, number>();
    for (const file of await this.#files(table)) {
      const rows = await this.#load(name, file);
      let n = byDay.get(file.day) ?? 0;
      for (const row of rows) {
        const t = row[timeIdx] as number;
        if (t >= range.start && t < range.end) n++;
      }
      byDay.set(file.day, n);
    }
    const out: ParquetPartition<T>[] = [];
    for (const day of [...byDay.keys()].sort()) {
      const rows = byDay.get(day)!;
      if (rows === 0) continue;
      const dayStart = Date.parse(`${day}T00:00:00Z`) * 1000;
      const partition = {
        table,
        day,
        range: {
          start: Math.max(dayStart, range.start),
          end: Math.min(dayStart + DAY_US, range.end),
        },
        rows,
      };
      out.push(partition);
    }
    return out;
  }

  async *read(
    partition: ParquetPartition<T>,
    batchSize: number,
  ): AsyncIterable<ParquetRowValue[][]> {
    const name = partition.table as unknown as TableName;
    const spec: TableSpec = TABLES[name];
    const timeIdx = spec.columns.findIndex((c) => c.name === spec.time);
    const keyIdx = spec.key.map((k) => spec.columns.findIndex((c) => c.name === k));
    const rows: ParquetRowValue[][] = [];
    for (const file of await this.#files(partition.table)) {
      if (file.day !== partition.day) continue;
      for (const row of await this.#load(name, file)) {
        const t = row[timeIdx] as number;
        if (t >= partition.range.start && t < partition.range.end) rows.push(row);
      }
    }
    // Key order, like the DuckDB source (writers lock rows in the same order).
    rows.sort((a, b) => {
      for (const i of keyIdx) {
        const x = a[i] as string | number, y = b[i] as string | number;
        if (x !== y) return x < y ? -1 : 1;
      }
      return 0;
    });
    for (let i = 0; i < rows.length; i += batchSize) yield rows.slice(i, i + batchSize);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Open a Parquet archive directory as a migrate source.
 *
 * @example
 * ```ts
 * import { openParquetSource } from "./parquet_source.ts";
 * const source = await openParquetSource("/backups/augur-parquet");
 * await source.close();
 * ```
 * @throws {ParquetSourceError} when `dir` is not a directory.
 */
export async function openParquetSource<T extends string = string>(
  dir: string,
): Promise<ParquetSource<T>> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch {
    throw new ParquetSourceError(`Parquet source ${dir} does not exist`);
  }
  if (!info.isDirectory) {
    throw new ParquetSourceError(`Parquet source ${dir}: expected a directory, received a file`);
  }
  return new ParquetSource<T>(dir);
}
