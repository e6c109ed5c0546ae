import {
  duckdbSchemaStatements,
  postgresSchemaStatements,
  quoteIdent,
  segmentByColumns,
  TABLES,
  tableSpec,
  timeKeyed,
  timescaleStatements,
} from "../../../../adapters/storage/schema.ts";
import { upsertSql } from "../../../../adapters/storage/timescale_store.ts";
import { StoreInputError } from "../../../../adapters/storage/types.ts";
import { StorageFileSchema } from "../../../../config/schemas/storage.ts";
import { ConfigError } from "../../../../config/errors.ts";
import { assert, assertEquals, assertThrows } from "../../../helpers/assert.ts";

const NOW_FN =
  `CREATE OR REPLACE FUNCTION augur_now_us() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT (extract(epoch FROM now()) * 1000000)::bigint $$`;

Deno.test("timescaleStatements for the default storage.toml are exactly the intended ones", () => {
  assertEquals(timescaleStatements(StorageFileSchema.parse({})), [
    NOW_FN,
    `SELECT create_hypertable('snapshots', 'timestamp', chunk_time_interval => 86400000000::bigint, if_not_exists => TRUE, migrate_data => TRUE)`,
    `SELECT set_integer_now_func('snapshots', 'augur_now_us', replace_if_exists => TRUE)`,
    `ALTER TABLE "snapshots" SET (timescaledb.compress, timescaledb.compress_segmentby = 'market_id', timescaledb.compress_orderby = '"timestamp" DESC')`,
    `SELECT add_compression_policy('snapshots', compress_after => 604800000000::bigint, if_not_exists => TRUE)`,
    `SELECT create_hypertable('features', 'computed_at', chunk_time_interval => 86400000000::bigint, if_not_exists => TRUE, migrate_data => TRUE)`,
    `SELECT set_integer_now_func('features', 'augur_now_us', replace_if_exists => TRUE)`,
    `ALTER TABLE "features" SET (timescaledb.compress, timescaledb.compress_segmentby = 'market_id', timescaledb.compress_orderby = '"computed_at" DESC')`,
    `SELECT add_compression_policy('features', compress_after => 604800000000::bigint, if_not_exists => TRUE)`,
    `SELECT add_retention_policy('features', drop_after => 2592000000000::bigint, if_not_exists => TRUE)`,
    `SELECT create_hypertable('signals', 'detected_at', chunk_time_interval => 604800000000::bigint, if_not_exists => TRUE, migrate_data => TRUE)`,
    `SELECT set_integer_now_func('signals', 'augur_now_us', replace_if_exists => TRUE)`,
    `ALTER TABLE "signals" SET (timescaledb.compress, timescaledb.compress_segmentby = 'market_id', timescaledb.compress_orderby = '"detected_at" DESC')`,
    `SELECT add_compression_policy('signals', compress_after => 2592000000000::bigint, if_not_exists => TRUE)`,
  ]);
});

Deno.test("timescaleStatements: policies skipped at 0 days, retention added when set, chunk days used", () => {
  const statements = timescaleStatements(StorageFileSchema.parse({
    hypertable: { snapshot_chunk_days: 2, compress_segmentby: " market_id " },
    compression: { snapshot_after_days: 0, feature_after_days: 0, signal_after_days: 0 },
    retention: { snapshot_days: 3, feature_days: 0, signal_days: 0 },
  }));
  assert(
    !statements.some((s) =>
      s.includes("add_compression_policy") || s.includes("timescaledb.compress")
    ),
  );
  assertEquals(statements.filter((s) => s.includes("add_retention_policy")), [
    `SELECT add_retention_policy('snapshots', drop_after => 259200000000::bigint, if_not_exists => TRUE)`,
  ]);
  assert(
    statements.some((s) =>
      s.includes("'snapshots', 'timestamp', chunk_time_interval => 172800000000::bigint")
    ),
  );
  assertEquals(statements.filter((s) => s.includes("create_hypertable")).length, 3);
});

Deno.test("segmentby with several allowed columns is accepted only where every column exists", () => {
  assertEquals(segmentByColumns("snapshots", "market_id, platform"), ["market_id", "platform"]);
  // features has no platform column: rejected for the whole config.
  assertThrows(
    () =>
      timescaleStatements(
        StorageFileSchema.parse({ hypertable: { compress_segmentby: "market_id,platform" } }),
      ),
    ConfigError,
    "features",
  );
});

Deno.test("injection attempts in configurable identifiers are rejected before any SQL is generated", () => {
  for (
    const bad of [
      "market_id; DROP TABLE snapshots",
      "market_id) ; --",
      '"market_id"',
      "unknown_column",
      "market_id, market_id",
      "Market_ID",
      "market_id' , 'x",
    ]
  ) {
    assertThrows(
      () =>
        timescaleStatements(StorageFileSchema.parse({ hypertable: { compress_segmentby: bad } })),
      ConfigError,
      "compress_segmentby",
    );
  }
  assertThrows(() => tableSpec("snapshots; DROP TABLE x"), StoreInputError, "unknown table");
  assertThrows(() => tableSpec("__proto__"), StoreInputError, "unknown table");
  assertThrows(() => quoteIdent("snapshots", "bogus"), StoreInputError, "unknown column");
  assertThrows(() => quoteIdent("snapshots", 'x" OR 1=1 --'), StoreInputError);
  assertEquals(quoteIdent("snapshots", "timestamp"), '"timestamp"');
});

Deno.test("plain PostgreSQL DDL is idempotent and keys signals on (signal_id, detected_at)", () => {
  const ddl = postgresSchemaStatements();
  assert(ddl.every((s) => s.includes("IF NOT EXISTS")));
  assert(
    ddl.some((s) =>
      s.includes(`CREATE TABLE IF NOT EXISTS "signals"`) &&
      s.includes(`PRIMARY KEY ("signal_id", "detected_at")`)
    ),
  );
  // Snapshots: the key leads with (market_id, timestamp), so it serves "latest of a
  // market" and no separate market/time index is kept.
  assert(
    ddl.some((s) =>
      s.includes(`CREATE TABLE IF NOT EXISTS "snapshots"`) &&
      s.includes(`PRIMARY KEY ("market_id", "timestamp", "platform")`)
    ),
  );
  assert(!ddl.some((s) => s.includes("snapshots_market_time_idx")));
});

Deno.test("upsert statements are set-based (unnest) and skip unchanged rows", () => {
  assertEquals(
    upsertSql(tableSpec("ticks")),
    `INSERT INTO "ticks" ("platform", "t", "announced") SELECT u."platform", u."t", u."announced" FROM unnest($1::text[], $2::bigint[], $3::integer[]) AS u("platform", "t", "announced") ON CONFLICT ("platform", "t") DO UPDATE SET "announced" = EXCLUDED."announced" WHERE ("ticks"."announced") IS DISTINCT FROM (EXCLUDED."announced")`,
  );
  assert(
    upsertSql(tableSpec("signals")).includes(
      `ARRAY(SELECT json_array_elements_text(u."related_market_ids"::json))`,
    ),
  );
  assert(upsertSql(tableSpec("manipulation_flags")).includes("ON CONFLICT"));
});

Deno.test("DuckDB DDL: time-keyed tables carry no primary key, the others keep theirs", () => {
  const ddl = duckdbSchemaStatements();
  const of = (table: string) =>
    ddl.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS "${table}"`));
  for (const table of ["snapshots", "features", "signals", "contexts", "ticks"] as const) {
    assert(timeKeyed(TABLES[table]), table);
    assert(!of(table)?.includes("PRIMARY KEY"), `${table} has no primary key`);
  }
  for (const table of ["trades", "manipulation_flags", "worker_state", "schema_version"] as const) {
    assert(!timeKeyed(TABLES[table]), table);
    assert(of(table)?.includes("PRIMARY KEY"), `${table} keeps its primary key`);
  }
  assert(ddl.every((s) => !s.startsWith("CREATE INDEX")), "no secondary indexes in DuckDB");
});
