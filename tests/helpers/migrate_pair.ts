/**
 * The two ends of an `augur migrate` for integration tests: a DuckDB store file in a fresh
 * temporary directory and a fresh PostgreSQL database with one SQL session on it, created and
 * torn down by {@linkcode withMigratePair}; {@linkcode verifyPair} compares them as
 * `augur verify` does (each database hashes its own rows).
 *
 * @example
 * ```ts
 * import { verifyPair, withMigratePair } from "./migrate_pair.ts";
 * import { migrateFile } from "./migrate_data_sql.ts";
 * await withMigratePair("augur-example-", async (pair) => {
 *   // … write a DuckDB store at pair.path …
 *   await migrateFile(pair.path, pair.db.url);
 *   console.log((await verifyPair(pair)).parity);
 * });
 * ```
 * @module
 */
import postgres from "postgres";
import { type VerifyReport, verifyStores } from "../../runtime/verify.ts";
import { openDuckDbDigests, openPgDigests } from "../../runtime/verify_sql.ts";
import { pgDatabase, type TestDatabase } from "./servers.ts";

/**
 * A DuckDB file path and a PostgreSQL database, the source and target of a migration.
 *
 * @example
 * ```ts
 * import type { MigratePair } from "./migrate_pair.ts";
 * declare const pair: MigratePair;
 * await pair.sql.unsafe(`SELECT count(*) FROM "snapshots"`);
 * ```
 */
export interface MigratePair {
  /** A fresh temporary directory, removed with everything in it. */
  readonly dir: string;
  /** `${dir}/augur.duckdb` (not created: the test writes its store there). */
  readonly path: string;
  /** A fresh database, dropped afterwards. */
  readonly db: TestDatabase;
  /** One session on `db` (notices ignored), ended before the database is dropped. */
  readonly sql: postgres.Sql<Record<string, never>>;
}

/**
 * Run `body` with a fresh {@linkcode MigratePair}; always end the session, drop the database
 * and remove the directory afterwards.
 *
 * @example
 * ```ts
 * import { withMigratePair } from "./migrate_pair.ts";
 * await withMigratePair("augur-migrate-", async ({ path, db }) => {
 *   console.log(path, db.url);
 * });
 * ```
 */
export async function withMigratePair(
  prefix: string,
  body: (pair: MigratePair) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    const db = await pgDatabase();
    try {
      const sql = postgres(db.url, { max: 1, onnotice: () => {} });
      try {
        await body({ dir, path: `${dir}/augur.duckdb`, db, sql });
      } finally {
        await sql.end();
      }
    } finally {
      await db.drop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Verify the pair's DuckDB file against its database over all time, as `augur verify` does:
 * in-database digests on both sides, two tables at a time.
 *
 * @example
 * ```ts
 * import { verifyPair, withMigratePair } from "./migrate_pair.ts";
 * await withMigratePair("augur-verify-", async (pair) => {
 *   const report = await verifyPair(pair);
 *   console.log(report.parity, report.first);
 * });
 * ```
 */
export async function verifyPair(pair: Pick<MigratePair, "path" | "db">): Promise<VerifyReport> {
  const source = await openDuckDbDigests(pair.path);
  const target = await openPgDigests(pair.db.url);
  try {
    return await verifyStores(source, target, { start: 0, end: 8e15, concurrency: 2 });
  } finally {
    await source.close();
    await target.close();
  }
}
