/**
 * verify's comparison: every kind of difference is classified and named; two sides with
 * different digest definitions are refused instead of reported as a mismatch; the SQL
 * digest text binds the range and only ever names allowlisted identifiers.
 */
import { compareDigests, verifyStores } from "../../../runtime/verify.ts";
import { type DigestReader, digestSql, SQL_DIGEST_KIND } from "../../../runtime/verify_sql.ts";
import { DIGEST_TABLES, type GroupDigest } from "../../../adapters/storage/types.ts";
import { TABLES } from "../../../adapters/storage/schema.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../helpers/assert.ts";

const g = (market: string, day: string, count: number, digest: string): GroupDigest => ({
  table: "snapshots",
  market_id: market,
  day,
  count,
  digest,
});

Deno.test("compareDigests classifies missing, count and digest differences in day order", () => {
  const source = [
    g("a", "2026-03-02", 2, "01"),
    g("b", "2026-03-01", 1, "02"),
    g("c", "2026-03-01", 1, "03"),
    g("d", "2026-03-01", 1, "04"),
  ];
  const target = [
    g("a", "2026-03-02", 2, "ff"),
    g("b", "2026-03-01", 2, "02"),
    g("d", "2026-03-01", 1, "04"),
    g("e", "2026-03-01", 1, "05"),
  ];
  const diff = compareDigests("snapshots", source, target);
  assertEquals(diff.map((m) => [m.market_id, m.day, m.kind]), [
    ["b", "2026-03-01", "count"],
    ["c", "2026-03-01", "missing_in_target"],
    ["e", "2026-03-01", "missing_in_source"],
    ["a", "2026-03-02", "digest"],
  ]);
  assertEquals(compareDigests("snapshots", source, source), []);
});

Deno.test("verifyStores refuses two sides that compute different digests", async () => {
  const reader = (kind?: string): DigestReader => ({
    digestKind: kind,
    groupDigests: () => Promise.resolve([]),
  });
  await assertRejects(
    () => verifyStores(reader(SQL_DIGEST_KIND), reader(), { start: 0, end: 1 }),
    Error,
    "different digests",
  );
  const ok = await verifyStores(reader(SQL_DIGEST_KIND), reader(SQL_DIGEST_KIND), {
    start: 0,
    end: 1,
    concurrency: 3,
  });
  assert(ok.parity);
  assertEquals(ok.tables.map((t) => t.table), [...DIGEST_TABLES]);
});

Deno.test("digestSql binds the range and names only allowlisted identifiers", () => {
  for (const table of DIGEST_TABLES) {
    for (const engine of ["postgres", "duckdb"] as const) {
      const text = digestSql(engine, table);
      assertMatch(text, /\$1/);
      assertMatch(text, /\$2/);
      const allowed = new Set<string>([
        table,
        "manipulation_flags",
        ...TABLES[table].columns.map((c) => c.name),
        ...TABLES.manipulation_flags.columns.map((c) => c.name),
        "C",
      ]);
      for (const [, ident] of text.matchAll(/"([^"]*)"/g)) {
        assert(allowed.has(ident), `${engine} ${table}: unexpected identifier ${ident}`);
      }
    }
  }
});
