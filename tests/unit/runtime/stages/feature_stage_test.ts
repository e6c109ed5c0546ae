import { assert, assertEquals } from "../../../helpers/assert.ts";
import { featureStage } from "../../../../runtime/stages/feature_stage.ts";
import { snapshotMessage } from "../../../../runtime/stages/poller_stage.ts";
import { Subjects } from "../../../../runtime/subjects.ts";
import { SimulatorSource } from "../../../../adapters/markets/simulator.ts";
import { MemoryStore } from "../../../../adapters/storage/memory_store.ts";
import type { Delivery } from "../../../../adapters/bus/types.ts";
import type { SnapshotMessage } from "../../../../pipeline/models.ts";

const subjects = new Subjects({ partitions: 1 });
const features = { warmup_size: 3, buffer_size: 20 };

async function ticks(): Promise<SnapshotMessage[][]> {
  const out: SnapshotMessage[][] = [];
  for await (const tick of new SimulatorSource({ seed: 5, markets: 6, ticks: 8, events: [] })) {
    out.push([...tick.messages]);
  }
  return out;
}

function delivery(message: SnapshotMessage, position: number): Delivery {
  const m = snapshotMessage(subjects, message);
  return { ...m, headers: m.headers ?? {}, position: String(position) } as unknown as Delivery;
}

/** Outputs (bytes) of a fresh stage over `stream`, seeded from `store`. */
async function run(store: MemoryStore, stream: SnapshotMessage[], bulk: boolean) {
  const calls = { seed: 0, seedAll: 0 };
  const stage = featureStage({
    subjects,
    features,
    seed: (market, before, n) => {
      calls.seed++;
      return store.latestSnapshots(market, n, { asOf: before - 1 });
    },
    ...(bulk
      ? {
        seedAll: (before: number, n: number) => {
          calls.seedAll++;
          return store.latestSnapshotsOfAll(n, { asOf: before - 1 });
        },
      }
      : {}),
  });
  const processor = await stage.open(0, null);
  const out: string[] = [];
  for (const [i, message] of stream.entries()) {
    for (const o of await processor.process(delivery(message, i))) {
      out.push(new TextDecoder().decode(o.payload));
    }
  }
  return { out, calls };
}

Deno.test("feature stage: one bulk seed for a tick's new markets equals seeding each market", async () => {
  const all = await ticks();
  const store = new MemoryStore();
  await store.initialize();
  const history = all.slice(0, 8).flat();
  await store.upsertSnapshots(history.map((m) => m.snapshot));
  // Resume at tick 8; one market only appears a tick later (seeded on its own).
  const late = all[8][0].snapshot.market_id;
  const stream = [...all[8].filter((m) => m.snapshot.market_id !== late), ...all.slice(9).flat()];
  const perMarket = await run(store, stream, false);
  const bulk = await run(store, stream, true);
  assertEquals(bulk.out, perMarket.out);
  assertEquals(bulk.out.length, stream.length, "warm from the first message: one vector each");
  assertEquals(bulk.calls, { seed: 1, seedAll: 1 });
  assertEquals(perMarket.calls.seed, new Set(stream.map((m) => m.snapshot.market_id)).size);
});

Deno.test("feature stage: a windowless checkpoint restores by seeding from the store", async () => {
  const all = await ticks();
  const stream = all.flat();
  const cut = all.slice(0, 5).flat().length; // 5 ticks of 6 markets: within the buffer of 20
  const store = new MemoryStore();
  await store.initialize();
  await store.upsertSnapshots(stream.slice(0, cut).map((m) => m.snapshot));
  let seedAll = 0;
  const options = {
    subjects,
    features,
    seed: (market: string, before: number, n: number) =>
      store.latestSnapshots(market, n, { asOf: before - 1 }),
    seedAll: (before: number, n: number) => {
      seedAll++;
      return store.latestSnapshotsOfAll(n, { asOf: before - 1 });
    },
  };
  const decode = (o: { payload: Uint8Array }) => new TextDecoder().decode(o.payload);
  // Uninterrupted, windows checkpointed (the default).
  const whole = await featureStage(options).open(0, null);
  const expected: string[] = [];
  for (const [i, message] of stream.entries()) {
    const out = (await whole.process(delivery(message, i))).map(decode);
    if (i >= cut) expected.push(...out);
  }
  assert(whole.checkpoint().length > 0);
  assertEquals(seedAll, 1); // the first tick asks the (then empty) store once
  // Windowless: the checkpoint is empty; the restored partition seeds from the store.
  const stage = featureStage({ ...options, checkpointWindows: false });
  const before = await stage.open(0, null);
  for (const [i, message] of stream.slice(0, cut).entries()) {
    await before.process(delivery(message, i));
  }
  const state = before.checkpoint();
  assertEquals(state.length, 0);
  const restored = await stage.open(0, state);
  const actual: string[] = [];
  for (const [i, message] of stream.slice(cut).entries()) {
    actual.push(...(await restored.process(delivery(message, cut + i))).map(decode));
  }
  assertEquals(seedAll, 3);
  assertEquals(actual.length, stream.length - cut);
  assertEquals(actual, expected);
});
