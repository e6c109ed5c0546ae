/**
 * Fuzz: recorded replay files (plain and gzip NDJSON), mutated at the line, value and byte
 * level, through ReplaySource. Each case yields ticks whose every message is a valid
 * SnapshotMessage of a known platform at an integer tick time, or a ReplayFormatError — never
 * another exception or a hang. Polls that no longer normalize are skipped and counted (live
 * behaviour), not errors.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { expectTypedError, Fuzz, fuzzPlan, FuzzTally, runAsync } from "../helpers/fuzz.ts";
import { ReplayFormatError, ReplaySource } from "../../adapters/markets/replay.ts";
import type { Tick } from "../../adapters/markets/source.ts";
import { SnapshotMessageSchema } from "../../pipeline/models.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";

const BUDGET_MS = 2000;
const T0 = Date.UTC(2026, 2, 15, 12, 0, 0) * 1000;
const silent = createLogger({ sink: () => {} });

function recording(f: Fuzz): unknown[] {
  const lines: unknown[] = [{
    type: "header",
    format: "augur-record",
    version: 1,
    platform: "kalshi",
    markets: [{ id: "k1", platform: "kalshi", platform_market_id: "K1" }],
  }];
  for (let t = 0; t < 1 + f.int(4); t++) {
    const T = T0 + t * 60_000_000;
    for (const id of ["k1", "k2"]) {
      const market = {
        market: {
          ticker: id.toUpperCase(),
          title: `Question ${id}`,
          last_price: 1 + f.int(98),
          yes_bid: 1 + f.int(40),
          yes_ask: 50 + f.int(40),
          volume_24h: f.int(10_000),
          close_time: "2026-12-31T00:00:00Z",
        },
      };
      const book = { orderbook_fp: { yes_dollars: [["0.40", "10"]], no_dollars: [["0.55", "5"]] } };
      const trades = {
        trades: [{
          created_time: "2026-03-15T12:00:01Z",
          yes_price: 40,
          count: 3,
          taker_side: "yes",
        }],
      };
      lines.push({
        type: "poll",
        market_id: id,
        platform_market_id: id.toUpperCase(),
        since: T - 60_000_000,
        fetched_at: T + 1000,
        responses: [
          { kind: "market", url: "u", status: 200, received_at: T, body: JSON.stringify(market) },
          { kind: "book", url: "u", status: 200, received_at: T, body: JSON.stringify(book) },
          { kind: "trades", url: "u", status: 200, received_at: T, body: JSON.stringify(trades) },
        ],
      });
    }
    lines.push({ type: "tick", platform: "kalshi", T, market_ids: ["k1", "k2"] });
  }
  return lines;
}

function mutated(f: Fuzz, lines: unknown[]): string {
  const texts = lines.map((l) => JSON.stringify(l));
  const r = f.int(10);
  if (r === 0) return texts.join("\n") + "\n";
  const i = f.int(texts.length);
  if (r <= 4) texts[i] = JSON.stringify(f.mutateValue(lines[i])) ?? "";
  else if (r <= 6) texts[i] = f.mutateText(texts[i]);
  else if (r === 7) texts.splice(i, 1);
  else if (r === 8) texts.splice(i, 0, JSON.stringify(f.json(3)) ?? "");
  else return new TextDecoder().decode(f.mutateBytes(new TextEncoder().encode(texts.join("\n"))));
  return texts.join("\n") + (f.chance(0.8) ? "\n" : "");
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("fuzz replay files: ReplaySource yields valid ticks or a ReplayFormatError", async () => {
  const plan = fuzzPlan("replay_files", { seed: 0x5eed_0301, cases: 1200 });
  const f = new Fuzz(plan.seed);
  const dir = await Deno.makeTempDir({ prefix: "augur_fuzz_replay_" });
  const tally = new FuzzTally();
  try {
    for (let i = 0; i < plan.cases; i++) {
      const text = mutated(f, recording(f));
      let bytes: Uint8Array = new TextEncoder().encode(text);
      const gz = f.chance(0.25);
      if (gz) {
        bytes = await gzip(bytes);
        if (f.chance(0.5)) bytes = f.mutateBytes(bytes); // corrupt gzip
      }
      const path = `${dir}/case_${i % 4}.ndjson${gz ? ".gz" : ""}`;
      await Deno.writeFile(path, bytes);
      const outcome = await runAsync(async () => {
        const ticks: Tick[] = [];
        const source = new ReplaySource(path, { registry: new MetricsRegistry(), logger: silent });
        for await (const tick of source) ticks.push(tick);
        return ticks;
      }, BUDGET_MS);
      if (!outcome.ok) {
        expectTypedError(outcome.error, [ReplayFormatError], text);
        assert(!(outcome.error as Error).message.includes("\n"), "multi-line error");
        tally.add("ReplayFormatError");
        continue;
      }
      for (const tick of outcome.value) {
        assert(tick.platform === "kalshi" || tick.platform === "polymarket");
        assert(Number.isSafeInteger(tick.T), `tick T ${tick.T}`);
        for (const m of tick.messages) {
          const parsed = SnapshotMessageSchema.safeParse(m);
          assert(parsed.success, `invalid message ${JSON.stringify(parsed.error?.issues[0])}`);
          assertEquals(m.now, tick.T);
        }
      }
      tally.add(outcome.value.length === 0 ? "ok_empty" : "ok");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log(tally.summary("replay_files"));
  assertEquals(tally.total, plan.cases);
  assert((tally.counts.get("ok") ?? 0) > plan.cases / 10);
});
