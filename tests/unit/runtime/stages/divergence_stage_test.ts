/**
 * The divergence singleton reads `augur.ticks.>`, where the two platforms' ticks interleave in
 * whatever order their pollers published them (separate processes in a deployment, concurrent
 * tasks in the engine). Its output must not depend on that order (DESIGN §5.8): the evidence a
 * signal's manipulation flags read is the leg's snapshots as of `detected_at`, however far the
 * other platform ran ahead.
 */
import { assert, assertEquals } from "../../../helpers/assert.ts";
import { SimulatorSource, simulatorWatchlist } from "../../../../adapters/markets/simulator.ts";
import type { Tick } from "../../../../adapters/markets/source.ts";
import type { Delivery } from "../../../../adapters/bus/types.ts";
import { loadConfig } from "../../../../config/loader.ts";
import { divergenceStage } from "../../../../runtime/stages/divergence_stage.ts";
import { encodeTickMessage } from "../../../../runtime/stages/poller_stage.ts";
import { Subjects } from "../../../../runtime/subjects.ts";

const REPO_CONFIG = new URL("../../../../config", import.meta.url).pathname;
const HOUR_US = 3_600_000_000;

Deno.test("divergence: the same ticks in any cross-platform order give byte-identical output", async () => {
  const config = await loadConfig({ dir: REPO_CONFIG, env: {} });
  const watch = simulatorWatchlist({ markets: 12 });
  const relationships = watch.relationships.map((r) => ({
    market_a: r.market_a,
    market_b: r.market_b,
    relationship_type: r.type,
    strength: r.strength,
    source: "manual" as const,
  }));
  const related = new Set(relationships.flatMap((r) => [r.market_a, r.market_b]));
  const ticks: Tick[] = [];
  for await (const t of new SimulatorSource({ seed: 11, markets: 12, ticks: 160 })) ticks.push(t);
  const start = ticks[0].T;
  const subjects = new Subjects({ partitions: 4 });

  // The leader's book is thin until 11 h, deep after: the median liquidity over a divergence
  // signal's 4-h window (thin_book_during_move) then depends on every snapshot in the window.
  const run = async (order: Tick[]): Promise<string[]> => {
    const stage = divergenceStage({
      subjects,
      crossMarket: config.detectors.cross_market,
      relationships,
      platforms: ["kalshi", "polymarket"],
      manipulation: config.engine.manipulation,
    });
    const processor = await stage.open(null);
    const out: string[] = [];
    for (const t of order) {
      const snapshots = t.messages.map((m) => m.snapshot)
        .filter((s) => related.has(s.market_id))
        .map((s) =>
          s.market_id === "sim-00"
            ? { ...s, liquidity: s.timestamp < start + 11 * HOUR_US ? 1_000 : 20_000 }
            : s
        );
      const payload = encodeTickMessage({
        platform: t.platform,
        t: t.T,
        announced: t.messages.length,
        snapshots,
      });
      const delivery = { subject: subjects.ticks(t.platform), payload, headers: {} } as
        & Partial<Delivery>
        & Pick<Delivery, "subject" | "payload" | "headers">;
      for (const message of processor.process(0, delivery as Delivery)) {
        if (message.payload.length > 0 && !message.headers?.["Augur-Tick"]) {
          out.push(new TextDecoder().decode(message.payload));
        }
      }
    }
    return out.sort();
  };
  const of = (p: string) => ticks.filter((t) => t.platform === p);
  const lockstep = await run(ticks);
  const polymarketFirst = await run([...of("polymarket"), ...of("kalshi")]);
  const kalshiFirst = await run([...of("kalshi"), ...of("polymarket")]);
  assert(lockstep.length > 0, "the scripted divergence fires");
  const thin = lockstep.filter((s) => s.includes("thin_book_during_move")).length;
  assert(thin > 0 && thin < lockstep.length, `the flag depends on the window (${thin})`);
  assertEquals(polymarketFirst, lockstep);
  assertEquals(kalshiFirst, lockstep);
});
