/**
 * Connection cut mid-batch (fault proxy) and backend terminated by the server mid-batch:
 * the store surfaces a retryable StoreUnavailableError, withRetry re-applies the batch, and
 * the table ends with exactly the batch — no duplicates, no loss, same digests as memory.
 */
import postgres from "postgres";
import { TimescaleStore } from "../../../../adapters/storage/timescale_store.ts";
import { MemoryStore } from "../../../../adapters/storage/memory_store.ts";
import { withRetry } from "../../../../adapters/storage/retry.ts";
import { StoreUnavailableError } from "../../../../adapters/storage/types.ts";
import type { MarketSnapshot } from "../../../../adapters/storage/types.ts";
import { StorageFileSchema } from "../../../../config/schemas/storage.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../../adapters/observability/logger.ts";
import { assert, assertEquals, assertRejects } from "../../../helpers/assert.ts";
import { needs, pgDatabase, waitFor } from "../../../helpers/servers.ts";
import { startFaultProxy } from "../../../helpers/fault_proxy.ts";
import { snapshot, T0 } from "../../../unit/adapters/storage/store_contract.ts";

const config = StorageFileSchema.parse({});
const logger = createLogger({ sink: () => {} });

function batch(n: number): MarketSnapshot[] {
  return Array.from(
    { length: n },
    (_, i) => snapshot(`f${i % 500}`, T0 + Math.floor(i / 500) * 1_000_000),
  );
}

async function expectedDigests(rows: MarketSnapshot[]) {
  const memory = new MemoryStore();
  await memory.initialize();
  await memory.upsertSnapshots(rows);
  return memory.groupDigests({ table: "snapshots", start: T0, end: T0 + 86_400_000_000 });
}

/**
 * This test database's statements writing a part of a batch into snapshots (COPY, or INSERT
 * from staging); other databases on the server belong to other tests and benches.
 */
const WRITING =
  `datname = current_database() AND state = 'active' AND (query LIKE 'INSERT INTO "snapshots"%' OR query LIKE 'COPY "snapshots"%')`;

/** Resolve once the server is writing a part of a batch into snapshots. */
async function insertRunning(url: string): Promise<void> {
  const probe = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await waitFor(async () => {
      const rows = await probe.unsafe(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${WRITING}`,
      );
      return rows[0].n > 0;
    }, { timeoutMs: 20_000, intervalMs: 5, message: "no write into snapshots started" });
  } finally {
    await probe.end({ timeout: 1 });
  }
}

Deno.test({
  name: "connection cut mid-batch → StoreUnavailableError, retried batch, no duplicates, no loss",
  ...needs("postgres"),
  fn: async () => {
    const db = await pgDatabase();
    const target = new URL(db.url);
    const proxy = await startFaultProxy(Number(target.port || 5432));
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    const registry = new MetricsRegistry();
    const store = new TimescaleStore({
      url: viaProxy.toString(),
      config,
      poolSize: 2,
      registry,
      logger,
    });
    try {
      await store.initialize();
      const rows = batch(30_000);

      // 1. A bare cut surfaces as the retryable error.
      const first = store.upsertSnapshots(rows);
      await insertRunning(db.url);
      proxy.cut();
      await assertRejects(() => first, StoreUnavailableError);

      // 2. Cut again mid-batch under withRetry: the retry completes the batch.
      let attempts = 0;
      const retried = withRetry(() => {
        attempts++;
        return store.upsertSnapshots(rows);
      }, { operation: "upsert_snapshots", backoffMs: [50], attempts: 10, registry, logger });
      await insertRunning(db.url);
      proxy.cut();
      await retried;
      assert(attempts >= 2, `expected a retry, saw ${attempts} attempt(s)`);
      assert(
        registry.counter("augur_db_retries_total", "", ["operation"]).get({
          operation: "upsert_snapshots",
        }) >= 1,
      );

      const digests = await store.groupDigests({
        table: "snapshots",
        start: T0,
        end: T0 + 86_400_000_000,
      });
      assertEquals(digests.reduce((n, g) => n + g.count, 0), 30_000);
      assertEquals(digests, await expectedDigests(rows));
    } finally {
      await store.close();
      await proxy.close();
      await db.drop();
    }
  },
});

Deno.test({
  name: "backend terminated by the server mid-batch (57P01) → retried batch lands exactly once",
  ...needs("postgres"),
  fn: async () => {
    // (The harness's kill() SIGKILLs only the postmaster, whose backends finish the batch;
    // terminating the backend is the server-side failure that really hits a batch.)
    const db = await pgDatabase();
    const registry = new MetricsRegistry();
    const store = new TimescaleStore({ url: db.url, config, poolSize: 2, registry, logger });
    const admin = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await store.initialize();
      const rows = batch(20_000);
      await store.upsertSnapshots(rows.slice(0, 5_000)); // part of the batch already stored
      let attempts = 0;
      const retried = withRetry(() => {
        attempts++;
        return store.upsertSnapshots(rows);
      }, { operation: "upsert_snapshots", backoffMs: [50], attempts: 10, registry, logger });
      // Find a writing backend and terminate it in the same statement: a probe followed by
      // a separate terminate can miss a part that finishes in between (the COPY path is fast).
      await waitFor(async () => {
        const rows = await admin.unsafe(
          `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE ${WRITING}`,
        );
        return rows[0].n > 0;
      }, { timeoutMs: 20_000, intervalMs: 2, message: "no write into snapshots to terminate" });
      await retried;
      assert(attempts >= 2, `expected a retry, saw ${attempts} attempt(s)`);
      const digests = await store.groupDigests({
        table: "snapshots",
        start: T0,
        end: T0 + 86_400_000_000,
      });
      assertEquals(digests.reduce((n, g) => n + g.count, 0), 20_000);
      assertEquals(digests, await expectedDigests(rows));
    } finally {
      await admin.end({ timeout: 1 });
      await store.close();
      await db.drop();
    }
  },
});
