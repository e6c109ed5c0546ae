import { setImmediate } from "node:timers";
import { assert, assertEquals } from "../../helpers/assert.ts";
import { waitFor } from "../../helpers/wait.ts";
import { MemoryStore } from "../../../adapters/storage/memory_store.ts";
import type {
  MarketSnapshot,
  SnapshotAsOfRead,
  SnapshotRangeRead,
} from "../../../adapters/storage/types.ts";
import {
  BatchedLookupError,
  type BatchedLookupOptions,
  batchedSnapshotLookup,
  type BatchReads,
} from "../../../runtime/batched_snapshot_lookup.ts";
import { storeSnapshotLookup } from "../../../runtime/stages/context_stage.ts";
import {
  assembleContext,
  DAY_MICROS,
  gatherContextInputs,
  memorySnapshotLookup,
  type SnapshotLookup,
} from "../../../pipeline/context.ts";
import { canonicalJson, KINDS } from "../../../pipeline/canonical_json.ts";
import { PromptLibrary } from "../../../pipeline/prompts.ts";
import { Taxonomy } from "../../../pipeline/taxonomy.ts";
import { S, sig, snap, T0 } from "../pipeline/signal_fixtures.ts";

const MARKETS = 12;
const HOUR = 3600 * S;

/** 12 markets, 30 hourly snapshots each (market m5 none), prices varying per market. */
function snapshots(): MarketSnapshot[] {
  const out: MarketSnapshot[] = [];
  for (let m = 0; m < MARKETS; m++) {
    if (m === 5) continue;
    for (let k = 0; k < 30; k++) {
      out.push(snap({
        market_id: `m${m}`,
        timestamp: T0 - k * HOUR + m,
        last_price: 0.3 + ((m * 7 + k) % 13) / 100,
        volume_24h: 1000 * m + k,
        question: `Question ${m}?`,
      }));
    }
  }
  return out;
}

/** A memory store counting its batched calls and the reads in them. */
async function countingStore() {
  const store = new MemoryStore();
  await store.initialize();
  await store.upsertSnapshots(snapshots());
  const calls = { latest: [] as number[], oldest: [] as number[], withPrior: [] as number[] };
  const reads: BatchReads = {
    latestSnapshotsAt: (r) => {
      calls.latest.push(r.length);
      return store.latestSnapshotsAt(r);
    },
    oldestSnapshotsIn: (r) => {
      calls.oldest.push(r.length);
      return store.oldestSnapshotsIn(r);
    },
    latestWithPriorAt: (r, window) => {
      calls.withPrior.push(r.length);
      return store.latestWithPriorAt(r, window);
    },
  };
  return { store, reads, calls };
}

Deno.test("reads issued together take one store call per kind, with the point reads' answers", async () => {
  const { store, reads, calls } = await countingStore();
  const lookup = batchedSnapshotLookup(reads);
  const reference = storeSnapshotLookup(store);
  const latestReads: [string, number][] = [];
  for (let m = 0; m < MARKETS; m++) {
    latestReads.push([`m${m}`, T0], [`m${m}`, T0 - 5 * HOUR - 1], [`m${m}`, T0 - 40 * HOUR]);
  }
  latestReads.push(["unknown", T0], ["m1", T0]); // unknown market; a duplicate
  const oldestReads: [string, number, number][] = [
    ["m1", T0 - DAY_MICROS, T0 + 1],
    ["m2", T0 - 3 * HOUR + 3, T0 - 2 * HOUR + 2], // inclusive end: the snapshot at `end`
    ["m2", T0 - 3 * HOUR + 3, T0 - 2 * HOUR + 1], // none inside
    ["m5", T0 - DAY_MICROS, T0],
  ];
  const [latest, oldest] = await Promise.all([
    Promise.all(latestReads.map(([id, asOf]) => lookup.latestSnapshot(id, asOf))),
    Promise.all(oldestReads.map(([id, a, b]) => lookup.oldestSnapshotIn(id, a, b))),
  ]);
  assertEquals(calls, {
    latest: [latestReads.length],
    oldest: [oldestReads.length],
    withPrior: [],
  });
  for (const [i, [id, asOf]] of latestReads.entries()) {
    assertEquals(latest[i], await reference.latestSnapshot(id, asOf), `latest ${id} ${asOf}`);
  }
  for (const [i, [id, a, b]] of oldestReads.entries()) {
    assertEquals(oldest[i], await reference.oldestSnapshotIn(id, a, b), `oldest ${id}`);
  }
  assertEquals(oldest.map((s) => s?.timestamp ?? null), [
    T0 - 24 * HOUR + 1,
    T0 - 2 * HOUR + 2,
    null,
    null,
  ]);
  // The unknown market, m5's three reads, and the 11 other markets before their first.
  assertEquals(latest.filter((s) => s === null).length, 1 + 3 + 11);
});

/** Taxonomy, deps and signals over the {@linkcode snapshots} markets. */
function contextFixture() {
  const taxonomy = Taxonomy.fromRelationships(
    [...Array(MARKETS).keys()].flatMap((m) => [
      { market_a: `m${m}`, market_b: `m${(m + 1) % MARKETS}`, type: "positive" as const },
      { market_a: `m${m}`, market_b: `m${(m + 5) % MARKETS}`, type: "inverse" as const },
    ]),
  );
  const deps = {
    taxonomy,
    prompts: PromptLibrary.fromEntries([
      { signal_type: "price_velocity", market_category: "x", prompts: ["Look."] },
    ]),
    categories: { m0: "x", m3: "x" },
  };
  const signals = [...Array(60).keys()]
    .filter((i) => i % MARKETS !== 5) // m5 has no snapshot (a MissingMetadataError)
    .map((i) => sig({ market_id: `m${i % MARKETS}`, detected_at: T0 - (i % 4) * HOUR }));
  const print = async (lookup: SnapshotLookup) => {
    // All signals in flight at once, as the bridge runs them.
    return await Promise.all(signals.map(async (s) => {
      const inputs = await gatherContextInputs(s, { lookup, taxonomy });
      return canonicalJson(assembleContext(s, inputs, deps), KINDS.context);
    }));
  };
  return { signals, print };
}

Deno.test("context inputs of many signals in flight: identical contexts, few store calls", async () => {
  const { store, reads, calls } = await countingStore();
  const { signals, print } = contextFixture();
  const batched = await print(batchedSnapshotLookup(reads));
  assertEquals(batched, await print(storeSnapshotLookup(store)));
  assertEquals(batched, await print(memorySnapshotLookup(snapshots())));
  assertEquals(calls.latest.length, 1, "every latest read of every signal in one call");
  assertEquals(calls.oldest.length, 1, "every prior read in one call");
  assertEquals(calls.latest[0], signals.length * 5); // own market + 4 neighbours
});

Deno.test("with priorWindow, the priors come with the latest reads: one store call in all", async () => {
  const { store, reads, calls } = await countingStore();
  const { print } = contextFixture();
  const prefetched = await print(batchedSnapshotLookup(reads, { priorWindow: DAY_MICROS }));
  assertEquals(prefetched, await print(storeSnapshotLookup(store)));
  assertEquals(calls.withPrior.length, 1, "every latest read with its prior in one call");
  assertEquals(calls.oldest, [], "no separate prior read");
  assertEquals(calls.latest, []);
});

Deno.test("a prefetched prior answers only its exact read, and only in the turn it arrived", async () => {
  const { store, reads, calls } = await countingStore();
  const lookup = batchedSnapshotLookup(reads, { priorWindow: DAY_MICROS });
  const reference = storeSnapshotLookup(store);
  const latest = (await lookup.latestSnapshot("m3", T0))!;
  const [exact, other] = await Promise.all([
    lookup.oldestSnapshotIn("m3", latest.timestamp - DAY_MICROS, latest.timestamp),
    lookup.oldestSnapshotIn("m3", latest.timestamp - DAY_MICROS + 1, latest.timestamp),
  ]);
  assertEquals(calls.oldest, [1], "only the read that differs went to the store");
  assertEquals(
    exact,
    await reference.oldestSnapshotIn("m3", latest.timestamp - DAY_MICROS, latest.timestamp),
  );
  assertEquals(
    other,
    await reference.oldestSnapshotIn("m3", latest.timestamp - DAY_MICROS + 1, latest.timestamp),
  );
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
  const later = await lookup.oldestSnapshotIn(
    "m3",
    latest.timestamp - DAY_MICROS,
    latest.timestamp,
  );
  assertEquals(calls.oldest, [1, 1], "a later turn reads the store again");
  assertEquals(later, exact);
});

/** A fake store whose calls stay pending until the test settles them. */
function manualStore() {
  const calls: {
    kind: "latest" | "oldest";
    reads: (SnapshotAsOfRead | SnapshotRangeRead)[];
    settle: (answer: (MarketSnapshot | null)[] | Error) => void;
  }[] = [];
  const call =
    (kind: "latest" | "oldest") => (r: readonly (SnapshotAsOfRead | SnapshotRangeRead)[]) =>
      new Promise<(MarketSnapshot | null)[]>((resolve, reject) => {
        calls.push({
          kind,
          reads: [...r],
          settle: (answer) => answer instanceof Error ? reject(answer) : resolve(answer),
        });
      });
  const store: BatchReads = {
    latestSnapshotsAt: call("latest"),
    oldestSnapshotsIn: call("oldest"),
    latestWithPriorAt: () => Promise.reject(new Error("not used")),
  };
  return { store, calls };
}

const at = (t: number) => snap({ timestamp: t });
const answer = (reads: (SnapshotAsOfRead | SnapshotRangeRead)[]) =>
  reads.map((r) => at("asOf" in r ? r.asOf : r.start));

Deno.test("maxBatch splits a turn's reads; maxInFlight holds the rest until a call returns", async () => {
  const { store, calls } = manualStore();
  const options: BatchedLookupOptions = { maxBatch: 2, maxInFlight: 1 };
  const lookup = batchedSnapshotLookup(store, options);
  const first = [1, 2, 3, 4, 5].map((t) => lookup.latestSnapshot("a", t));
  await waitFor(() => calls.length === 1, { timeoutMs: 2000, message: "first call" });
  assertEquals(calls[0].reads, [{ marketId: "a", asOf: 1 }, { marketId: "a", asOf: 2 }]);
  // Reads issued while the call is in flight wait for it and then leave with the others.
  const late = lookup.latestSnapshot("b", 9);
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
  assertEquals(calls.length, 1, "only one call in flight");
  calls[0].settle(answer(calls[0].reads));
  await waitFor(() => calls.length === 2, { timeoutMs: 2000, message: "second call" });
  assertEquals(calls[1].reads.map((r) => (r as SnapshotAsOfRead).asOf), [3, 4]);
  calls[1].settle(answer(calls[1].reads));
  await waitFor(() => calls.length === 3, { timeoutMs: 2000, message: "third call" });
  assertEquals(calls[2].reads, [{ marketId: "a", asOf: 5 }, { marketId: "b", asOf: 9 }]);
  calls[2].settle(answer(calls[2].reads));
  assertEquals((await Promise.all(first)).map((s) => s?.timestamp), [1, 2, 3, 4, 5]);
  assertEquals((await late)?.timestamp, 9);
});

Deno.test("oldestSnapshotIn's inclusive end reaches the store as a half-open end + 1", async () => {
  const { store, calls } = manualStore();
  const lookup = batchedSnapshotLookup(store);
  const pending = lookup.oldestSnapshotIn("a", 10, 20);
  await waitFor(() => calls.length === 1, { timeoutMs: 2000, message: "call" });
  assertEquals(calls[0], {
    ...calls[0],
    kind: "oldest",
    reads: [{ marketId: "a", start: 10, end: 21 }],
  });
  calls[0].settle([null]);
  assertEquals(await pending, null);
});

Deno.test("a failed store call rejects exactly the reads of its batch", async () => {
  const { store, calls } = manualStore();
  const lookup = batchedSnapshotLookup(store, { maxBatch: 2, maxInFlight: 2 });
  const reads = [1, 2, 3].map((t) =>
    lookup.latestSnapshot("a", t).then((s) => s?.timestamp, (e: Error) => e)
  );
  const other = lookup.oldestSnapshotIn("a", 0, 1).then((s) => s?.timestamp, (e: Error) => e);
  await waitFor(() => calls.length === 3, { timeoutMs: 2000, message: "three calls" });
  const byKind = (kind: string) => calls.filter((c) => c.kind === kind);
  const [failing, fine] = byKind("latest");
  const boom = new Error("connection lost");
  failing.settle(boom);
  fine.settle(answer(fine.reads));
  byKind("oldest")[0].settle([at(0)]);
  assertEquals(await Promise.all(reads), [boom, boom, 3]);
  assertEquals(await other, 0);
});

Deno.test("a store answering with the wrong count, or throwing at once, fails its callers", async () => {
  const short: BatchReads = {
    latestSnapshotsAt: () => Promise.resolve([]),
    oldestSnapshotsIn: () => {
      throw new TypeError("store is closed");
    },
    latestWithPriorAt: () => Promise.resolve([]),
  };
  const lookup = batchedSnapshotLookup(short);
  const [a, b] = await Promise.allSettled([
    lookup.latestSnapshot("a", 1),
    lookup.oldestSnapshotIn("a", 0, 1),
  ]);
  assert(a.status === "rejected" && a.reason instanceof BatchedLookupError, "count mismatch");
  assertEquals(a.reason.name, "BatchedLookupError");
  assert(b.status === "rejected" && b.reason instanceof TypeError, "synchronous throw");
  assertEquals(b.reason.message, "store is closed");
});
