/**
 * Issue 8 must-show: the websocket worker on the memory bus + memory store (with the store
 * sink writing contexts), real WebSocket clients. Routing by consumer type, wrong token
 * refused, a slow consumer does not stall others, reconnect + `since` catch-up loses nothing;
 * plus the endpoint-safety limits of issue 13 (message size, connection count, idle time,
 * malformed frames close only their connection) and the 1001 close on drain.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { waitFor } from "../helpers/wait.ts";
import { RawWsClient, WsClient } from "../helpers/ws_clients.ts";
import { MemoryBus } from "../../adapters/bus/memory_bus.ts";
import { MemoryStore } from "../../adapters/storage/memory_store.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";
import { Readiness } from "../../adapters/observability/http_server.ts";
import { loadConfig } from "../../config/loader.ts";
import { canonicalJson, encode, KINDS } from "../../pipeline/canonical_json.ts";
import type { IntelligenceBrief, SignalContext } from "../../pipeline/models.ts";
import { Subjects } from "../../runtime/subjects.ts";
import { runStoreSink } from "../../runtime/stages/store_sink.ts";
import {
  type WebSocketEndpoint,
  websocketWorker,
  type WebSocketWorkerOptions,
} from "../../runtime/stages/websocket_stage.ts";

const TOKEN = "ws-e2e-t0ken-Secret";
const T0 = 1_773_576_000_000_000; // 2026-03-15T12:00:00Z in µs
const logger = createLogger({ component: "ws-e2e", level: "error" });

let seq = 0;
function context(market: string, detectedAt: number, padding = 0): SignalContext {
  seq++;
  const id = `0190a1b2-c3d4-7e5f-8a6b-${seq.toString(16).padStart(12, "0")}`;
  return {
    signal: {
      signal_id: id,
      market_id: market,
      platform: "kalshi",
      signal_type: "volume_spike",
      magnitude: 0.4,
      direction: 1,
      confidence: 0.7,
      fdr_adjusted: true,
      detected_at: detectedAt,
      window_seconds: 3600,
      liquidity_tier: "high",
      manipulation_flags: [],
      related_market_ids: [],
      raw_features: { calibration_provenance: "volume_spike_ewma_z_v1@identity_v0", z: 3.5 },
      schema_version: "1.0.0",
    },
    market_question: `Will ${market} happen?`,
    resolution_criteria: "Resolves YES if it happens.",
    resolution_source: "https://example.invalid",
    closes_at: T0 + 86_400_000_000,
    related_markets: [],
    investigation_prompts: padding > 0 ? ["p".repeat(padding)] : [],
    interpretation_mode: "deterministic",
    schema_version: "1.0.0",
  };
}

interface Rig {
  readonly endpoint: WebSocketEndpoint;
  readonly port: number;
  readonly url: string;
  readonly bus: MemoryBus;
  readonly store: MemoryStore;
  readonly registry: MetricsRegistry;
  publish(ctx: SignalContext): Promise<void>;
  publishBrief(brief: IntelligenceBrief): Promise<void>;
  stop(): Promise<void>;
  readonly running: Promise<void>;
}

async function startRig(
  overrides: { max_connections?: number; per_connection_buffer?: number } = {},
  options: WebSocketWorkerOptions = {},
): Promise<Rig> {
  const loaded = await loadConfig({ dir: "config", env: {} });
  const config = {
    formatters: {
      json: loaded.formatters.json,
      websocket: { ...loaded.formatters.websocket, ...overrides },
    },
    consumers: loaded.consumers,
    markets: {
      markets: [
        { id: "fed", category: "monetary_policy" },
        { id: "btc", category: "crypto_protocol" },
      ],
    },
  };
  const subjects = new Subjects();
  const registry = new MetricsRegistry();
  const bus = new MemoryBus({ capacity: 1024, registry });
  await bus.connect();
  const store = new MemoryStore();
  await store.initialize();
  const controller = new AbortController();
  let endpoint: WebSocketEndpoint | undefined;
  const worker = websocketWorker({ config, subjects, bus, store }, {
    hostname: "127.0.0.1",
    port: 0,
    token: TOKEN,
    onListening: (e) => endpoint = e,
    ...options,
  });
  const readiness = new Readiness();
  const running = worker.run({
    signal: controller.signal,
    readiness,
    registry,
    logger,
    replicaId: "ws-0",
  });
  const sink = runStoreSink(bus, store, {
    subjects,
    signal: controller.signal,
    batchSize: 100,
    maxDelayMs: 10,
    registry,
    logger,
  });
  await waitFor(async () => endpoint && (await readiness.evaluate()).ready, {
    message: "websocket worker ready",
  });
  const port = endpoint!.server.port;
  return {
    endpoint: endpoint!,
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    bus,
    store,
    registry,
    running,
    publish: async (ctx) => {
      await bus.publish({ subject: subjects.contexts(), payload: encode(ctx, KINDS.context) });
    },
    publishBrief: async (brief) => {
      await bus.publish({ subject: subjects.briefs("json"), payload: encode(brief, KINDS.brief) });
    },
    stop: async () => {
      controller.abort();
      await Promise.all([running, sink]);
      await bus.close();
      await store.close();
    },
  };
}

/** Connect with the token in the query and wait for the connect heartbeat. */
async function join(rig: Rig, consumer: string): Promise<WsClient> {
  const client = await WsClient.open(`${rig.url}?consumer=${consumer}&token=${TOKEN}`);
  await client.waitForFrames((f) => f.frame_type === "heartbeat", 1);
  return client;
}

const signalFrames = (f: { frame_type: string }) => f.frame_type === "signal";

Deno.test("websocket: frames are routed by consumer type, payload = canonical context", async () => {
  const rig = await startRig();
  try {
    const macro = await join(rig, "macro_research_agent");
    const desk = await join(rig, "financial_news_desk");
    const dash = await join(rig, "dashboard");
    const crypto = await join(rig, "crypto_research_agent");
    const regulatory = await join(rig, "regulatory_news_desk");
    const fed = Array.from({ length: 5 }, (_, i) => context("fed", T0 + i * 1_000_000));
    const btc = Array.from({ length: 3 }, (_, i) => context("btc", T0 + i * 1_000_000));
    for (const c of [...fed, ...btc]) await rig.publish(c);
    await dash.waitForFrames(signalFrames, 8);
    await macro.waitForFrames(signalFrames, 5);
    await desk.waitForFrames(signalFrames, 5);
    await crypto.waitForFrames(signalFrames, 3);
    // a brief goes only to opted-in actionable_for consumers (consumers.toml: dashboard)
    await rig.publishBrief({
      brief_id: "00000000-0000-4000-8000-000000000001",
      signal_id: fed[0].signal.signal_id,
      headline: "Volume spike on fed",
      body_markdown: "- restated numbers",
      severity: "medium",
      actionable_for: ["dashboard", "macro_research_agent"],
      interpretation_mode: "llm_assisted",
      model: "m@ollama",
      prompt_hash: "0".repeat(64),
      formatter_version: "0.0.0+unknown",
      generated_at: T0,
      forbidden_token_check: "passed",
      schema_version: "1.0.0",
    });
    await dash.waitForFrames((f) => f.frame_type === "brief", 1);

    const ids = (cs: SignalContext[]) => cs.map((c) => c.signal.signal_id);
    assertEquals(dash.signalIds(), ids([...fed, ...btc]));
    assertEquals(macro.signalIds(), ids(fed));
    assertEquals(desk.signalIds(), ids(fed));
    assertEquals(crypto.signalIds(), ids(btc));
    assertEquals(regulatory.signalIds(), []);
    assertEquals(macro.ofType("brief").length, 0);
    // the payload is the canonical context JSON, byte for byte
    const raw = dash.raw.find((r) => r.includes(fed[0].signal.signal_id))!;
    assertStringIncludes(raw, `"payload":${canonicalJson(fed[0], KINDS.context)}}`);
    const frame = dash.ofType("signal")[0];
    assertEquals(Object.keys(frame), ["frame_type", "frame_id", "ts", "payload"]);
    assert(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$/.test(frame.ts), frame.ts);
    // redelivered duplicates are not broadcast twice
    await rig.publish(fed[0]);
    await rig.publish(context("fed", T0 + 9_000_000));
    await dash.waitForFrames(signalFrames, 9);
    assertEquals(dash.signalIds().filter((id) => id === fed[0].signal.signal_id).length, 1);
    assertEquals(
      rig.registry.gauge("augur_websocket_connections", "", ["consumer"])
        .get({ consumer: "dashboard" }),
      1,
    );
    for (const c of [macro, desk, dash, crypto, regulatory]) c.close();
  } finally {
    await rig.stop();
  }
});

Deno.test("websocket: wrong or missing token refused (401), unknown consumer 400", async () => {
  const rig = await startRig();
  try {
    const base = `http://127.0.0.1:${rig.port}/ws`;
    const upgrade = { upgrade: "websocket", connection: "Upgrade" };
    const noToken = await fetch(`${base}?consumer=dashboard`, { headers: upgrade });
    assertEquals(noToken.status, 401);
    await noToken.body?.cancel();
    const wrong = await fetch(`${base}?consumer=dashboard&token=nope`, { headers: upgrade });
    assertEquals(wrong.status, 401);
    assert(!(await wrong.text()).includes(TOKEN));
    // a real client with a wrong bearer token never opens
    let refused = false;
    await WsClient.open(`${rig.url}?consumer=dashboard`, { authorization: "Bearer nope" })
      .then((c) => c.close(), () => refused = true);
    assert(refused, "a wrong token must be refused");
    // the right bearer header works
    const ok = await WsClient.open(`${rig.url}?consumer=dashboard`, {
      authorization: `Bearer ${TOKEN}`,
    });
    await ok.waitForFrames((f) => f.frame_type === "heartbeat", 1);
    ok.close();
    const bad = await fetch(`${base}?consumer=trader&token=${TOKEN}`, { headers: upgrade });
    assertEquals(bad.status, 400);
    const body = await bad.text();
    assertStringIncludes(body, "macro_research_agent");
    assertStringIncludes(body, "dashboard");
    const catchUp = await fetch(`http://127.0.0.1:${rig.port}/signals?since=0`);
    assertEquals(catchUp.status, 401);
    await catchUp.body?.cancel();
    assertEquals(
      rig.registry.counter("augur_websocket_refused_total", "", ["reason"])
        .get({ reason: "unauthorized" }),
      3,
    );
  } finally {
    await rig.stop();
  }
});

Deno.test("websocket: a consumer that stops reading does not stall the others", async () => {
  const rig = await startRig();
  try {
    const slow = await RawWsClient.open(
      rig.port,
      `/ws?consumer=financial_news_desk&token=${TOKEN}`,
    );
    assertEquals(slow.status, 101);
    await waitFor(() => rig.endpoint.hub.count("financial_news_desk") === 1);
    const dash = await join(rig, "dashboard");
    const macro = await join(rig, "macro_research_agent");
    const N = 400; // ~24 KiB each: ~10 MB, far beyond the socket buffers of a non-reader
    const sent: string[] = [];
    for (let i = 0; i < N; i++) {
      const c = context("fed", T0 + i * 1_000_000, 24_000);
      sent.push(c.signal.signal_id);
      await rig.publish(c);
    }
    await dash.waitForFrames(signalFrames, N, 30_000).catch((e) => {
      console.log(
        rig.registry.expose().split("\n").filter((l) => l.startsWith("augur_websocket")).join("\n"),
      );
      throw e;
    });
    await macro.waitForFrames(signalFrames, N, 30_000);
    assertEquals(dash.signalIds(), sent);
    assertEquals(macro.signalIds(), sent);
    await waitFor(() => rig.endpoint.hub.droppedFor("financial_news_desk") > 0, {
      message: "the slow consumer's drops are counted",
    });
    assertEquals(rig.endpoint.hub.droppedFor("dashboard"), 0);
    assertEquals(rig.endpoint.hub.droppedFor("macro_research_agent"), 0);
    const exposed = rig.registry.expose();
    assertStringIncludes(exposed, 'augur_websocket_dropped_total{consumer="financial_news_desk"}');
    slow.close();
    dash.close();
    macro.close();
  } finally {
    await rig.stop();
  }
});

Deno.test("websocket: reconnect + /signals?since catch-up loses nothing", async () => {
  const rig = await startRig();
  try {
    let client = await join(rig, "dashboard");
    const batch1 = Array.from({ length: 5 }, (_, i) => context("fed", T0 + i * 1_000_000));
    for (const c of batch1) await rig.publish(c);
    await client.waitForFrames(signalFrames, 5);
    const seen = new Set(client.signalIds());
    const last = client.ofType("signal").at(-1)!.payload!.signal as Record<string, unknown>;
    const lastTs = last.detected_at as string;
    client.close();
    await client.closed;
    await waitFor(() => rig.endpoint.hub.count("dashboard") === 0);

    // published while disconnected: some routed to dashboard, some only to crypto + dashboard
    const batch2 = [
      ...Array.from({ length: 6 }, (_, i) => context("fed", T0 + (10 + i) * 1_000_000)),
      context("btc", T0 + 20_000_000),
    ];
    for (const c of batch2) await rig.publish(c);
    await waitFor(async () =>
      (await rig.store.contextsInRange({ start: 0, end: Number.MAX_SAFE_INTEGER })).length === 12
    );

    client = await join(rig, "dashboard");
    const batch3 = [context("fed", T0 + 30_000_000)];
    for (const c of batch3) await rig.publish(c);
    await client.waitForFrames(signalFrames, 1);
    for (const id of client.signalIds()) seen.add(id);

    const response = await fetch(
      `http://127.0.0.1:${rig.port}/signals?since=${encodeURIComponent(lastTs)}&consumer=dashboard`,
      { headers: { authorization: `Bearer ${TOKEN}` } },
    );
    assertEquals(response.status, 200);
    assertStringIncludes(response.headers.get("content-type")!, "application/x-ndjson");
    const lines = (await response.text()).trim().split("\n");
    for (const line of lines) {
      const ctx = JSON.parse(line);
      seen.add(ctx.signal.signal_id);
    }
    // canonical JSON lines, inclusive of `since` (the last one seen live comes back too)
    assertEquals(lines[0], canonicalJson(batch1[4], KINDS.context));
    assertEquals(lines.length, 1 + batch2.length + batch3.length);
    for (const c of [...batch1, ...batch2, ...batch3]) {
      assert(seen.has(c.signal.signal_id), `missing ${c.signal.signal_id}`);
    }
    // the consumer filter applies to catch-up too; limit + after pages through
    const macro = await fetch(
      `http://127.0.0.1:${rig.port}/signals?since=${T0}&consumer=crypto_research_agent&token=${TOKEN}`,
    );
    assertEquals((await macro.text()).trim().split("\n").length, 1);
    const page = await fetch(
      `http://127.0.0.1:${rig.port}/signals?since=${T0}&limit=2&token=${TOKEN}`,
    );
    assertEquals(page.headers.get("augur-truncated"), "true");
    const pageLines = (await page.text()).trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(pageLines.length, 2);
    const next = await fetch(
      `http://127.0.0.1:${rig.port}/signals?since=${pageLines[1].signal.detected_at}&after=${
        pageLines[1].signal.signal_id
      }&limit=1&token=${TOKEN}`,
    );
    const nextLine = JSON.parse((await next.text()).trim());
    assertEquals(nextLine.signal.signal_id, batch1[2].signal.signal_id);
    const bad = await fetch(`http://127.0.0.1:${rig.port}/signals?since=later&token=${TOKEN}`);
    assertEquals(bad.status, 400);
    await bad.body?.cancel();
    client.close();
  } finally {
    await rig.stop();
  }
});

Deno.test("websocket: bad client frames close only that connection; limits hold", async () => {
  const rig = await startRig({ max_connections: 4 }, { idleTimeoutSeconds: 1 });
  try {
    const good = await join(rig, "dashboard");
    const tooBig = await join(rig, "dashboard");
    const malformed = await join(rig, "dashboard");
    good.send('{"frame_type":"ping"}');
    await good.waitForFrames((f) => f.frame_type === "heartbeat", 2);
    tooBig.send(JSON.stringify({ frame_type: "ping", pad: "x".repeat(5000) }));
    malformed.send("{not json");
    assertEquals((await tooBig.closed).code, 1009);
    assertEquals((await malformed.closed).code, 1007);
    const unknown = await join(rig, "dashboard");
    unknown.send('{"frame_type":"subscribe"}');
    assertEquals((await unknown.closed).code, 1008);
    await rig.publish(context("fed", T0));
    await good.waitForFrames(signalFrames, 1);
    assertEquals(good.socket.readyState, WebSocket.OPEN);

    // connection limit: 4 allowed, the 5th is refused with 503
    await waitFor(() => rig.endpoint.hub.size === 1);
    const more = await Promise.all([1, 2, 3].map(() => join(rig, "dashboard")));
    const refused = await fetch(`http://127.0.0.1:${rig.port}/ws?consumer=dashboard`, {
      headers: { upgrade: "websocket", connection: "Upgrade", authorization: `Bearer ${TOKEN}` },
    });
    assertEquals(refused.status, 503);
    await refused.body?.cancel();
    for (const c of more) c.close();
    await waitFor(() => rig.endpoint.hub.size === 1);

    // idle timeout: a peer that never answers the server's ping is closed
    const silent = await RawWsClient.open(rig.port, `/ws?consumer=dashboard&token=${TOKEN}`);
    assertEquals(silent.status, 101);
    const code = await silent.readUntilClose(5000);
    assert(code === 1001 || code === 1006, `idle peer closed, received ${code}`);
    silent.close();
    assertEquals(
      rig.registry.counter("augur_websocket_client_errors_total", "", ["reason"])
        .get({ reason: "too_big" }),
      1,
    );
    good.close();
  } finally {
    await rig.stop();
  }
});

Deno.test("websocket: drain closes every client with 1001", async () => {
  const rig = await startRig();
  const a = await join(rig, "dashboard");
  const b = await join(rig, "macro_research_agent");
  await rig.stop();
  assertEquals((await a.closed).code, 1001);
  assertEquals((await b.closed).code, 1001);
});
