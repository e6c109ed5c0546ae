/**
 * Per-entity high-water marks of a time-keyed table that one process writes (DuckDB's file
 * lock): they tell when a batch holds only new keys, so it can be appended straight into
 * the table instead of being staged and merged.
 *
 * The entity of a row is its key without the time column (a snapshot's market and
 * platform). A batch is fresh when, for each entity, its rows come in strictly increasing
 * time and the first is later than everything stored for that entity: then no key of the
 * batch is stored and none repeats inside it, and appending it equals merging it. Marks
 * only rise after the write that carried them committed ({@linkcode AppendWatermarks.commit});
 * a batch out of order, a replay or a correction is simply not fresh and takes the merge.
 *
 * @example
 * ```ts
 * import { AppendWatermarks } from "./append_watermarks.ts";
 * import { TABLES } from "./schema.ts";
 * const marks = new AppendWatermarks(TABLES.ticks);
 * marks.load([]); // nothing stored yet
 * const batch = marks.inspect([["kalshi", 10, 3], ["kalshi", 20, 3]]);
 * batch.fresh; // true
 * marks.commit(batch);
 * marks.inspect([["kalshi", 20, 4]]).fresh; // false: (kalshi, 20) is stored
 * ```
 * @module
 */

import type { WireValue } from "./codec.ts";
import type { TableSpec } from "./schema.ts";

/** What {@linkcode AppendWatermarks.inspect} found out about a batch. */
export interface BatchMarks {
  /** Every key of the batch is new and unique: appending equals merging. */
  readonly fresh: boolean;
  /** The batch's latest time per entity (what the marks become once it is stored). */
  readonly latest: ReadonlyMap<string, number>;
}

/** High-water marks of one time-keyed table (see the module doc). */
export class AppendWatermarks {
  /** Entity columns: the key without the time column. */
  readonly entityColumns: readonly string[];
  /** The time column. */
  readonly timeColumn: string;
  readonly #entity: number[];
  readonly #time: number;
  #marks: Map<string, number> | undefined;

  /**
   * @throws {TypeError} when `spec` has no time column inside its key (not time-keyed).
   */
  constructor(spec: TableSpec) {
    const time = spec.time;
    if (time === undefined || !spec.key.includes(time)) {
      throw new TypeError(`${spec.name}: expected a table keyed by its time column`);
    }
    this.timeColumn = time;
    this.entityColumns = spec.key.filter((k) => k !== time);
    const index = (name: string) => spec.columns.findIndex((col) => col.name === name);
    this.#entity = this.entityColumns.map(index);
    this.#time = index(time);
  }

  /** True once {@linkcode load} has run (and no {@linkcode reset} since). */
  get loaded(): boolean {
    return this.#marks !== undefined;
  }

  /** Set the marks from the stored table: one `[entity values…, max time]` per entity. */
  load(rows: Iterable<readonly unknown[]>): void {
    const marks = new Map<string, number>();
    const width = this.entityColumns.length;
    for (const row of rows) marks.set(entityKey(row, width), Number(row[width]));
    this.#marks = marks;
  }

  /** Forget the marks (after a failure whose effect is unknown); load again before use. */
  reset(): void {
    this.#marks = undefined;
  }

  /** Whether `rows` (values in column order) are fresh, and their latest time per entity. */
  inspect(rows: readonly (readonly WireValue[])[]): BatchMarks {
    const marks = this.#marks;
    if (marks === undefined) throw new Error("AppendWatermarks: load() before inspect()");
    const latest = new Map<string, number>();
    let fresh = true;
    for (const row of rows) {
      const entity = this.#key(row);
      const t = row[this.#time] as number;
      const seen = latest.get(entity);
      if (seen === undefined) {
        const stored = marks.get(entity);
        if (stored !== undefined && t <= stored) fresh = false;
        latest.set(entity, t);
      } else if (t <= seen) {
        fresh = false; // out of order or a repeated key: the merge sorts it out
      } else {
        latest.set(entity, t);
      }
    }
    if (!fresh) {
      // The merge may take rows in any order: the marks become each entity's maximum.
      latest.clear();
      for (const row of rows) {
        const entity = this.#key(row);
        const t = row[this.#time] as number;
        if (!(t <= (latest.get(entity) ?? -Infinity))) latest.set(entity, t);
      }
    }
    return { fresh, latest };
  }

  /** Raise the marks to a batch's latest times once its write committed. */
  commit(batch: BatchMarks): void {
    const marks = this.#marks;
    if (marks === undefined) return;
    for (const [entity, t] of batch.latest) {
      if (!(t <= (marks.get(entity) ?? -Infinity))) marks.set(entity, t);
    }
  }

  #key(row: readonly WireValue[]): string {
    if (this.#entity.length === 1) return String(row[this.#entity[0]]);
    return this.#entity.map((i) => String(row[i])).join("\u0000");
  }
}

function entityKey(row: readonly unknown[], width: number): string {
  if (width === 1) return String(row[0]);
  return row.slice(0, width).map(String).join("\u0000");
}
