/**
 * `augur verify`: parity between two stores per (table, market, UTC day) — row counts AND
 * order-independent content digests of canonical rows ({@linkcode Store.groupDigests},
 * hashed in augur, never in SQL). Full parity means every group of every table is present
 * on both sides with equal count and digest.
 *
 * @example
 * ```ts
 * import { verifyStores } from "./verify.ts";
 * import { MemoryStore } from "../adapters/storage/memory_store.ts";
 * const a = new MemoryStore(), b = new MemoryStore();
 * await a.initialize(); await b.initialize();
 * const report = await verifyStores(a, b, { start: 0, end: 1 });
 * report.parity; // true
 * ```
 * @module
 */
import {
  DIGEST_TABLES,
  type DigestTable,
  type GroupDigest,
  type TimeRange,
} from "../adapters/storage/types.ts";
import { AugurError } from "../config/errors.ts";
import type { DigestReader } from "./verify_sql.ts";

/** Why a group differs. */
export type MismatchKind = "missing_in_target" | "missing_in_source" | "count" | "digest";

/** One differing (table, market, day) group. */
export interface GroupMismatch {
  table: DigestTable;
  market_id: string;
  day: string;
  kind: MismatchKind;
  source_count: number;
  target_count: number;
  source_digest: string | null;
  target_digest: string | null;
}

/** Per-table totals. */
export interface TableVerify {
  table: DigestTable;
  groups: number;
  source_rows: number;
  target_rows: number;
  mismatched_groups: number;
}

/** The outcome of {@linkcode verifyStores}. */
export interface VerifyReport {
  parity: boolean;
  start: number;
  end: number;
  tables: TableVerify[];
  /** Total differing groups. */
  mismatches: number;
  /** The first `limit` differing groups, ordered by table, day, market. */
  first: GroupMismatch[];
  seconds: number;
}

/** Options of {@linkcode verifyStores}. */
export interface VerifyOptions extends TimeRange {
  /** Tables (default all digest tables). */
  tables?: readonly DigestTable[];
  /** How many mismatching groups to keep in the report (default 10). */
  limit?: number;
  /** Tables hashed at once (default 1; each side hashes its table concurrently anyway). */
  concurrency?: number;
}

/**
 * Compare the group digests of one table.
 *
 * @example
 * ```ts
 * import { compareDigests } from "./verify.ts";
 * compareDigests("snapshots", [], []).length; // 0
 * ```
 */
export function compareDigests(
  table: DigestTable,
  source: readonly GroupDigest[],
  target: readonly GroupDigest[],
): GroupMismatch[] {
  const key = (g: GroupDigest) => `${g.day}\u0000${g.market_id}`;
  const bySource = new Map(source.map((g) => [key(g), g]));
  const byTarget = new Map(target.map((g) => [key(g), g]));
  const out: GroupMismatch[] = [];
  for (const k of new Set([...bySource.keys(), ...byTarget.keys()])) {
    const s = bySource.get(k), t = byTarget.get(k);
    const any = (s ?? t)!;
    let kind: MismatchKind | null = null;
    if (!t) kind = "missing_in_target";
    else if (!s) kind = "missing_in_source";
    else if (s.count !== t.count) kind = "count";
    else if (s.digest !== t.digest) kind = "digest";
    if (kind) {
      out.push({
        table,
        market_id: any.market_id,
        day: any.day,
        kind,
        source_count: s?.count ?? 0,
        target_count: t?.count ?? 0,
        source_digest: s?.digest ?? null,
        target_digest: t?.digest ?? null,
      });
    }
  }
  return out.sort((a, b) =>
    a.day !== b.day
      ? (a.day < b.day ? -1 : 1)
      : a.market_id < b.market_id
      ? -1
      : a.market_id > b.market_id
      ? 1
      : 0
  );
}

/**
 * Compare `source` (the primary, e.g. DuckDB) with `target` (PostgreSQL) over a range. Both
 * must compute the same digest definition: two Stores, or two SQL digest readers
 * (runtime/verify_sql.ts).
 */
export async function verifyStores(
  source: DigestReader,
  target: DigestReader,
  options: VerifyOptions,
): Promise<VerifyReport> {
  if (source.digestKind !== target.digestKind) {
    throw new AugurError(
      `verify: the two sides compute different digests (${source.digestKind ?? "store"} vs ${
        target.digestKind ?? "store"
      })`,
    );
  }
  const started = performance.now();
  const limit = options.limit ?? 10;
  const wanted = options.tables ?? DIGEST_TABLES;
  const results: { table: TableVerify; diff: GroupMismatch[] }[] = new Array(wanted.length);
  let next = 0;
  const worker = async () => {
    while (next < wanted.length) {
      const at = next++;
      const table = wanted[at];
      const query = { table, start: options.start, end: options.end };
      const [s, t] = await Promise.all([source.groupDigests(query), target.groupDigests(query)]);
      const diff = compareDigests(table, s, t);
      results[at] = {
        diff,
        table: {
          table,
          groups: new Set([...s, ...t].map((g) => `${g.day}\u0000${g.market_id}`)).size,
          source_rows: s.reduce((n, g) => n + g.count, 0),
          target_rows: t.reduce((n, g) => n + g.count, 0),
          mismatched_groups: diff.length,
        },
      };
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 1, wanted.length));
  await Promise.all(Array.from({ length: workers }, worker));
  const all = results.flatMap((r) => r.diff);
  return {
    parity: all.length === 0,
    start: options.start,
    end: options.end,
    tables: results.map((r) => r.table),
    mismatches: all.length,
    first: all.slice(0, limit),
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * The human summary of a report.
 *
 * @example
 * ```ts
 * import { formatVerifyReport } from "./verify.ts";
 * // console.log(formatVerifyReport(report));
 * ```
 */
export function formatVerifyReport(report: VerifyReport): string {
  const iso = (us: number) => new Date(Math.floor(us / 1000)).toISOString();
  const lines = [
    `verify ${iso(report.start)} .. ${iso(report.end)}: ${
      report.parity ? "FULL PARITY" : `${report.mismatches} MISMATCHING GROUPS`
    } (${report.seconds.toFixed(1)} s)`,
  ];
  for (const t of report.tables) {
    lines.push(
      `  ${
        t.table.padEnd(10)
      } groups ${t.groups}  source rows ${t.source_rows}  target rows ${t.target_rows}  mismatches ${t.mismatched_groups}`,
    );
  }
  if (report.first.length) {
    lines.push(`first mismatching groups (table, market, day):`);
    for (const m of report.first) {
      lines.push(
        `  ${m.table} ${m.market_id} ${m.day}: ${m.kind} (source ${m.source_count} rows${
          m.source_digest ? ` ${m.source_digest}` : ""
        }, target ${m.target_count} rows${m.target_digest ? ` ${m.target_digest}` : ""})`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
