import { assert, assertEquals } from "../../helpers/assert.ts";
import { waitFor } from "../../helpers/wait.ts";
import { MemoryBus } from "../../../adapters/bus/memory_bus.ts";
import { MemoryLock, MemoryLockStore } from "../../../adapters/lock/memory_lock.ts";
import { MetricsRegistry } from "../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../adapters/observability/logger.ts";
import {
  type Checkpoint,
  type CheckpointStore,
  type PartitionStage,
  PoisonError,
  runPartitions,
} from "../../../runtime/partition_runner.ts";
import type { Delivery } from "../../../adapters/bus/types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const quiet = createLogger({ sink: () => {} });
const LEASE = { ttlMs: 2000, renewIntervalMs: 200, marginMs: 100, waitTickMs: 20 };
const pp = (p: number) => String(p).padStart(2, "0");

class MapCheckpoints implements CheckpointStore {
  readonly saved = new Map<string, Checkpoint>();
  load(kind: string, partition: number) {
    return Promise.resolve(this.saved.get(`${kind}/${partition}`) ?? null);
  }
  save(kind: string, partition: number, checkpoint: Checkpoint) {
    const key = `${kind}/${partition}`;
    const current = this.saved.get(key);
    if (!current || current.token <= checkpoint.token) this.saved.set(key, checkpoint);
    return Promise.resolve();
  }
}

/** Counts inputs per partition; output payload = "<count>:<input>" (state must survive). */
const countingStage: PartitionStage = {
  kind: "count",
  inputSubject: (p) => `augur.in.${pp(p)}.>`,
  open: (partition, state) => {
    let count = state ? Number(dec.decode(state)) : 0;
    return Promise.resolve({
      process: (delivery: Delivery) => {
        const text = dec.decode(delivery.payload);
        if (text === "poison") throw new PoisonError("not a number");
        count++;
        return [{ subject: `augur.out.${pp(partition)}`, payload: enc.encode(`${count}:${text}`) }];
      },
      checkpoint: () => enc.encode(String(count)),
    });
  },
};

function collect(bus: MemoryBus, partitions: number[], sink: Map<number, string[]>) {
  for (const p of partitions) sink.set(p, []);
  const subs = partitions.map((p) => {
    const sub = bus.read(`augur.out.${pp(p)}`, { from: { kind: "first" } });
    (async () => {
      for await (const d of sub) sink.get(p)!.push(dec.decode(d.payload));
    })();
    return sub;
  });
  return () => Promise.all(subs.map((s) => s.stop()));
}

Deno.test("partition runner: drain checkpoints; the replacement resumes exactly where it stopped", async () => {
  const bus = new MemoryBus({ capacity: 100_000, registry: new MetricsRegistry(), logger: quiet });
  await bus.connect();
  const lockStore = new MemoryLockStore();
  const checkpoints = new MapCheckpoints();
  const partitions = [0, 1];
  for (let i = 0; i < 100; i++) {
    await bus.publish({ subject: `augur.in.${pp(i % 2)}.m${i}`, payload: enc.encode(`v${i}`) });
  }
  const outputs = new Map<number, string[]>();
  const stopCollect = collect(bus, partitions, outputs);
  const run = (replicaId: string, abort: AbortController) =>
    runPartitions(bus, new MemoryLock({ store: lockStore }), checkpoints, countingStage, {
      partitions,
      replicaId,
      signal: abort.signal,
      lease: LEASE,
      checkpointIntervalMs: 60_000,
      registry: new MetricsRegistry(),
      logger: quiet,
    });
  const first = new AbortController();
  const running = run("a", first);
  await waitFor(() => (outputs.get(0)!.length + outputs.get(1)!.length) >= 100);
  first.abort();
  await running;
  assertEquals(checkpoints.saved.get("count/0")!.state, enc.encode("50"));
  for (let i = 100; i < 140; i++) {
    await bus.publish({ subject: `augur.in.${pp(i % 2)}.m${i}`, payload: enc.encode(`v${i}`) });
  }
  const second = new AbortController();
  const resumed = run("b", second);
  await waitFor(() => (outputs.get(0)!.length + outputs.get(1)!.length) >= 140);
  second.abort();
  await resumed;
  await stopCollect();
  for (const p of partitions) {
    const expected = [];
    for (let i = p, n = 1; i < 140; i += 2, n++) expected.push(`${n}:v${i}`);
    assertEquals(outputs.get(p), expected);
  }
  await bus.close();
});

Deno.test("partition runner: two contenders — one lease holder per partition, no duplicate output", async () => {
  const bus = new MemoryBus({ capacity: 100_000, registry: new MetricsRegistry(), logger: quiet });
  await bus.connect();
  const lockStore = new MemoryLockStore();
  const checkpoints = new MapCheckpoints();
  const outputs = new Map<number, string[]>();
  const stopCollect = collect(bus, [0], outputs);
  const owners = new Set<string>();
  const abort = new AbortController();
  const runs = ["a", "b"].map((replicaId) =>
    runPartitions(bus, new MemoryLock({ store: lockStore }), checkpoints, countingStage, {
      partitions: [0],
      replicaId,
      signal: abort.signal,
      lease: LEASE,
      registry: new MetricsRegistry(),
      logger: quiet,
      onOwnership: (_p, owned) => owned && owners.add(replicaId),
    })
  );
  for (let i = 0; i < 50; i++) {
    await bus.publish({ subject: `augur.in.00.m${i}`, payload: enc.encode(`v${i}`) });
  }
  await waitFor(() => outputs.get(0)!.length >= 50);
  abort.abort();
  await Promise.all(runs);
  await stopCollect();
  assertEquals(owners.size, 1);
  assertEquals(outputs.get(0)!.length, 50);
  assertEquals(new Set(outputs.get(0)).size, 50);
  await bus.close();
});

Deno.test("partition runner: poison is dead-lettered and the partition keeps flowing", async () => {
  const registry = new MetricsRegistry();
  const bus = new MemoryBus({ capacity: 100_000, registry, logger: quiet });
  await bus.connect();
  const dlq: Delivery[] = [];
  const dlqSub = bus.read("augur.ops.dlq", { from: { kind: "first" } });
  (async () => {
    for await (const d of dlqSub) dlq.push(d);
  })();
  const outputs = new Map<number, string[]>();
  const stopCollect = collect(bus, [0], outputs);
  for (const v of ["a", "poison", "b"]) {
    await bus.publish({ subject: "augur.in.00.m", payload: enc.encode(v) });
  }
  const abort = new AbortController();
  const running = runPartitions(bus, new MemoryLock(), new MapCheckpoints(), countingStage, {
    partitions: [0],
    replicaId: "a",
    signal: abort.signal,
    lease: LEASE,
    registry,
    logger: quiet,
  });
  await waitFor(() => outputs.get(0)!.length >= 2 && dlq.length >= 1);
  abort.abort();
  await running;
  await stopCollect();
  await dlqSub.stop();
  assertEquals(outputs.get(0), ["1:a", "2:b"]);
  assertEquals(dlq[0].headers["Augur-Reason"], "decode");
  assertEquals(dlq[0].headers["Augur-Source-Subject"], "augur.in.00.m");
  assert(registry.expose().includes('augur_bus_dead_letter_total{reason="decode"} 1'));
  await bus.close();
});
