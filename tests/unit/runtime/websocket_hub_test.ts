import { assert, assertEquals, assertMatch, assertThrows } from "../../helpers/assert.ts";
import { MetricsRegistry } from "../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../adapters/observability/logger.ts";
import { type FrameSink, WebSocketHub } from "../../../runtime/websocket_hub.ts";
import { WebSocketRouter } from "../../../runtime/websocket_routing.ts";
import { parseSince, tokenMatches } from "../../../runtime/websocket_server.ts";
import type { IntelligenceBrief } from "../../../pipeline/models.ts";

class FakeSink implements FrameSink {
  bufferedAmount = 0;
  frames: string[] = [];
  closed: { code?: number; reason?: string } | undefined;
  throwOnSend = false;
  send(data: string): void {
    if (this.throwOnSend) throw new Error("socket closed");
    this.frames.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
  }
  parsed(): { frame_type: string; frame_id: string; ts: string; payload?: unknown }[] {
    return this.frames.map((f) => JSON.parse(f));
  }
  payloads(): unknown[] {
    return this.parsed().filter((f) => f.frame_type !== "heartbeat").map((f) => f.payload);
  }
}

const quiet = createLogger({ component: "test", level: "error" });

function hub(options: ConstructorParameters<typeof WebSocketHub>[0] = {}) {
  const registry = new MetricsRegistry();
  let now = 1_773_576_000_000;
  const h = new WebSocketHub({
    registry,
    logger: quiet,
    nowMs: () => now,
    drainIntervalMs: 1,
    ...options,
  });
  return { hub: h, registry, advance: (ms: number) => now += ms, now: () => now };
}

Deno.test("frames follow DOMAIN §11.4: frame_type, UUID frame_id, ISO Z ts, payload", () => {
  const { hub: h } = hub({ newId: () => "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b" });
  const sink = new FakeSink();
  h.add("dashboard", sink);
  h.broadcast("signal", '{"a":1.0}', ["dashboard"]);
  assertEquals(sink.frames, [
    '{"frame_type":"heartbeat","frame_id":"0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b","ts":"2026-03-15T12:00:00Z"}',
    '{"frame_type":"signal","frame_id":"0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b","ts":"2026-03-15T12:00:00Z","payload":{"a":1.0}}',
  ]);
  const { hub: h2 } = hub();
  const s2 = new FakeSink();
  h2.add("dashboard", s2);
  assertMatch(
    s2.parsed()[0].frame_id,
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  h.close();
  h2.close();
});

Deno.test("broadcast reaches only the routed consumer types", () => {
  const { hub: h, registry } = hub();
  const macro = new FakeSink();
  const dash = new FakeSink();
  const crypto = new FakeSink();
  h.add("macro_research_agent", macro);
  h.add("dashboard", dash);
  h.add("crypto_research_agent", crypto);
  assertEquals(h.broadcast("signal", "1", ["macro_research_agent", "dashboard"]), 2);
  assertEquals(h.broadcast("signal", "2", ["dashboard"]), 1);
  assertEquals(macro.payloads(), [1]);
  assertEquals(dash.payloads(), [1, 2]);
  assertEquals(crypto.payloads(), []);
  assertEquals(
    registry.counter("augur_websocket_frames_sent_total", "", ["frame_type"]).get({
      frame_type: "signal",
    }),
    3,
  );
  assertEquals(
    registry.gauge("augur_websocket_connections", "", ["consumer"]).get({ consumer: "dashboard" }),
    1,
  );
  h.close();
});

Deno.test("a slow connection drops its oldest frames and never stalls the others", () => {
  const { hub: h } = hub({ bufferSize: 4, highWaterBytes: 100 });
  const slow = new FakeSink();
  const fast = new FakeSink();
  h.add("dashboard", slow);
  h.add("dashboard", fast);
  slow.bufferedAmount = 1000; // the client stopped reading
  for (let i = 1; i <= 10; i++) h.broadcast("signal", String(i), ["dashboard"]);
  assertEquals(fast.payloads(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assertEquals(slow.payloads(), []);
  assertEquals(h.droppedFor("dashboard"), 6);
  slow.bufferedAmount = 0; // it reads again: the 4 newest frames arrive, in order
  h.broadcast("signal", "11", ["dashboard"]);
  assertEquals(slow.payloads(), [7, 8, 9, 10, 11]);
  assertEquals(h.droppedFor("dashboard"), 6);
  h.close();
});

Deno.test("backed-up queues drain by themselves once the socket takes data again", async () => {
  const { hub: h } = hub({ bufferSize: 8, highWaterBytes: 100 });
  const slow = new FakeSink();
  h.add("dashboard", slow);
  slow.bufferedAmount = 500;
  for (let i = 1; i <= 3; i++) h.broadcast("signal", String(i), ["dashboard"]);
  assertEquals(slow.payloads(), []);
  slow.bufferedAmount = 0;
  const deadline = Date.now() + 2000;
  while (slow.payloads().length < 3 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2));
  }
  assertEquals(slow.payloads(), [1, 2, 3]);
  assertEquals(h.droppedFor("dashboard"), 0);
  h.close();
});

Deno.test("heartbeat on connect, then only once the interval passed", () => {
  const { hub: h, advance } = hub({ heartbeatIntervalMs: 30_000 });
  const sink = new FakeSink();
  h.add("dashboard", sink);
  const beats = () => sink.parsed().filter((f) => f.frame_type === "heartbeat").length;
  assertEquals(beats(), 1);
  advance(29_999);
  h.tick();
  assertEquals(beats(), 1);
  advance(1);
  h.tick();
  assertEquals(beats(), 2);
  h.tick();
  assertEquals(beats(), 2);
  h.close();
});

Deno.test("a failing send removes that connection only; close() says 1001 to everyone", () => {
  const { hub: h } = hub();
  const broken = new FakeSink();
  const ok = new FakeSink();
  h.add("dashboard", broken);
  h.add("dashboard", ok);
  broken.throwOnSend = true;
  h.broadcast("signal", "1", ["dashboard"]);
  assertEquals(h.size, 1);
  assertEquals(ok.payloads(), [1]);
  h.close(1001, "server draining");
  assertEquals(ok.closed, { code: 1001, reason: "server draining" });
  assertEquals(h.size, 0);
  assertThrows(() => h.add("dashboard", new FakeSink()));
});

Deno.test("buffer size must be a positive integer", () => {
  assertThrows(() => new WebSocketHub({ bufferSize: 0, registry: new MetricsRegistry() }));
});

Deno.test("routing: category consumers for contexts, opted-in actionable_for for briefs", () => {
  const router = WebSocketRouter.fromConfig({
    consumers: {
      categories: {
        monetary_policy: {
          consumers: ["macro_research_agent", "financial_news_desk", "dashboard"],
        },
      },
      llm_assisted: { consumers: ["dashboard", "macro_research_agent"] },
    },
    markets: { markets: [{ id: "fed", category: "monetary_policy" }, { id: "x", category: "" }] },
  });
  assertEquals(router.consumersOfMarket("fed", "deterministic"), [
    "macro_research_agent",
    "financial_news_desk",
    "dashboard",
  ]);
  assertEquals(router.consumersOfMarket("fed", "llm_assisted"), [
    "macro_research_agent",
    "dashboard",
  ]);
  assertEquals(router.consumersOfMarket("x", "deterministic"), ["dashboard"]);
  assertEquals(router.consumersOfMarket("unknown", "deterministic"), ["dashboard"]);
  const brief = { actionable_for: ["financial_news_desk", "dashboard"] } as IntelligenceBrief;
  assertEquals(router.routeBrief(brief), ["dashboard"]);
});

Deno.test("token comparison and since parsing", () => {
  assert(tokenMatches("s3cret", "s3cret"));
  assert(!tokenMatches("s3cret", "s3cre"));
  assert(!tokenMatches("s3cret", "s3cret-longer"));
  assert(!tokenMatches("s3cret", null));
  assertEquals(parseSince("1773576000000000"), 1773576000000000);
  assertEquals(parseSince("2026-03-15T12:00:00.5Z"), 1773576000500000);
  assertEquals(parseSince("2026-13-15T12:00:00Z"), null);
  assertEquals(parseSince("soon"), null);
});
