/**
 * The gated LLM brief against LOCAL fake servers imitating Anthropic `/v1/messages` and
 * Ollama `/api/generate` (Deno.serve on port 0): accepted brief, forbidden token, malformed
 * JSON, 429/500/timeout with bounded retries, fail-at-once statuses, and the API key never in
 * logs or errors.
 */
import { assert, assertEquals, assertRejects } from "../../../helpers/assert.ts";
import { AnthropicBackend } from "../../../../adapters/llm/anthropic.ts";
import { OllamaBackend } from "../../../../adapters/llm/ollama.ts";
import { NoneBackend } from "../../../../adapters/llm/none.ts";
import { LlmBriefFormatter } from "../../../../adapters/llm/brief_formatter.ts";
import { createLlmBackend } from "../../../../adapters/llm/factory.ts";
import { type LlmBackend, LlmBackendError } from "../../../../adapters/llm/types.ts";
import { createLogger } from "../../../../adapters/observability/logger.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import {
  DEFAULT_FORBIDDEN_TOKENS,
  flattenForbiddenTokens,
} from "../../../../config/schemas/forbidden_tokens.ts";
import { goldenContext } from "../../pipeline/format/format_fixtures.ts";

const KEY = "sk-ant-test-SECRET-0123456789abcdef";
const PHRASES = flattenForbiddenTokens(DEFAULT_FORBIDDEN_TOKENS).phrases;
const GOOD = JSON.stringify({
  headline: "Price velocity on kalshi_fed",
  body_markdown: "P5 0.719 over a 300 s window.",
  actionable_for: ["dashboard", "macro_research_agent"],
});

interface Seen {
  path: string;
  headers: Headers;
  body: string;
}

type Reply = {
  status?: number;
  json?: unknown;
  text?: string;
  delayMs?: number;
  headers?: Record<string, string>;
};

/** A fake server answering with `replies` in turn (the last repeats). */
function fakeServer(replies: Reply[]) {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.text();
    seen.push({ path: new URL(req.url).pathname, headers: req.headers, body });
    const r = replies[Math.min(seen.length - 1, replies.length - 1)];
    if (r.delayMs) {
      await new Promise<void>((resolve) => setTimeout(resolve, r.delayMs));
    }
    const text = r.text ?? JSON.stringify(r.json ?? {});
    return new Response(text, {
      status: r.status ?? 200,
      headers: { "content-type": "application/json", ...r.headers },
    });
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  return { url, seen, close: () => server.shutdown() };
}

const anthropicText = (text: string): Reply => ({
  json: {
    id: "msg_1",
    type: "message",
    role: "assistant",
    content: [{ type: "text", text: text.slice(0, 10) }, { type: "text", text: text.slice(10) }],
    stop_reason: "end_turn",
  },
});
const ollamaText = (text: string): Reply => ({
  json: { model: "gemma2:27b", response: text, done: true },
});

function harness(
  backend: (
    url: string,
    registry: MetricsRegistry,
    log: ReturnType<typeof createLogger>,
  ) => LlmBackend,
  replies: Reply[],
) {
  const server = fakeServer(replies);
  const lines: string[] = [];
  const registry = new MetricsRegistry();
  const logger = createLogger({ component: "llm", level: "debug", sink: (l) => lines.push(l) });
  const b = backend(server.url, registry, logger);
  const formatter = new LlmBriefFormatter({
    backend: b,
    forbiddenPhrases: PHRASES,
    optedIn: ["dashboard"],
    formatterVersion: "0.1.0",
    newId: () => "00000000-0000-4000-8000-000000000001",
    now: () => Date.UTC(2026, 2, 15, 12, 1) * 1000,
    logger,
    registry,
  });
  const rejected = (reason: string) =>
    registry.counter("augur_llm_briefs_rejected_total", "", ["reason"]).get({ reason });
  return { server, lines, registry, formatter, rejected };
}

const anthropic = (
  url: string,
  registry: MetricsRegistry,
  logger: ReturnType<typeof createLogger>,
) =>
  new AnthropicBackend({
    model: "claude-haiku-4-5-20251001",
    maxRetries: 3,
    timeoutMs: 150,
    apiKey: () => KEY,
    baseUrl: url,
    backoff: { initialMs: 1, maxMs: 5 },
    logger,
    registry,
  });

const ollama = (url: string, registry: MetricsRegistry, logger: ReturnType<typeof createLogger>) =>
  new OllamaBackend({
    endpoint: url,
    model: "gemma2:27b",
    maxRetries: 2,
    timeoutMs: 150,
    backoff: { initialMs: 1, maxMs: 5 },
    logger,
    registry,
  });

Deno.test("anthropic: accepted brief; request shape, headers, prompt hash", async () => {
  const h = harness(anthropic, [anthropicText(GOOD)]);
  try {
    const r = await h.formatter.format(goldenContext("price_velocity"));
    assert("brief" in r, JSON.stringify(r));
    assertEquals(r.brief.model, "claude-haiku-4-5-20251001@anthropic");
    assertEquals(r.brief.actionable_for, ["dashboard"]);
    assertEquals(r.brief.headline, "Price velocity on kalshi_fed");
    assertEquals(h.server.seen.length, 1);
    const req = h.server.seen[0];
    assertEquals(req.path, "/v1/messages");
    assertEquals(req.headers.get("x-api-key"), KEY);
    assertEquals(req.headers.get("anthropic-version"), "2023-06-01");
    const body = JSON.parse(req.body);
    assertEquals(body.max_tokens, 512);
    assertEquals(body.temperature, 0.2);
    assertEquals(body.messages.length, 1);
    assertEquals(body.messages[0].role, "user");
    assert(body.system.includes("- price will"));
    const hash = Array.from(
      new Uint8Array(
        await crypto.subtle.digest(
          "SHA-256",
          new TextEncoder().encode(body.system + "\n\n" + body.messages[0].content),
        ),
      ),
    ).map((b) => b.toString(16).padStart(2, "0")).join("");
    assertEquals(r.brief.prompt_hash, hash);
    assertEquals(h.registry.counter("augur_llm_briefs_accepted_total", "").get(), 1);
  } finally {
    await h.server.close();
  }
});

Deno.test("anthropic: forbidden token ⇒ rejected{forbidden_token}, counted", async () => {
  const text = JSON.stringify({
    headline: "Fed market",
    body_markdown: "This move Likely Reflects new data.",
    actionable_for: ["dashboard"],
  });
  const h = harness(anthropic, [anthropicText(text)]);
  try {
    const r = await h.formatter.format(goldenContext("price_velocity"));
    assertEquals("rejected" in r && r.rejected, "forbidden_token");
    assertEquals(h.rejected("forbidden_token"), 1);
    assert(h.lines.some((l) => l.includes('"reason":"forbidden_token"')));
  } finally {
    await h.server.close();
  }
});

Deno.test("anthropic: malformed JSON from the model ⇒ rejected{schema}", async () => {
  const h = harness(anthropic, [anthropicText('{"headline": "x", body')]);
  try {
    const r = await h.formatter.format(goldenContext("price_velocity"));
    assertEquals("rejected" in r && r.rejected, "schema");
    assertEquals(h.rejected("schema"), 1);
  } finally {
    await h.server.close();
  }
});

Deno.test("anthropic: 429 then 529 then success ⇒ accepted after bounded retries", async () => {
  const h = harness(anthropic, [
    { status: 429, json: { type: "error" }, headers: { "retry-after": "0" } },
    { status: 529, json: { type: "error" } },
    anthropicText(GOOD),
  ]);
  try {
    const r = await h.formatter.format(goldenContext("price_velocity"));
    assert("brief" in r);
    assertEquals(h.server.seen.length, 3);
    assertEquals(
      h.registry.counter("augur_llm_retries_total", "", ["backend", "kind"]).get({
        backend: "anthropic",
        kind: "rate_limited",
      }),
      1,
    );
  } finally {
    await h.server.close();
  }
});

Deno.test("anthropic: 500 forever ⇒ 1 + max_retries attempts, rejected{backend_error}", async () => {
  const h = harness(anthropic, [{ status: 500, json: { error: "boom" } }]);
  try {
    const r = await h.formatter.format(goldenContext("price_velocity"));
    assertEquals("rejected" in r && r.rejected, "backend_error");
    assertEquals(h.server.seen.length, 4);
    assertEquals(h.rejected("backend_error"), 1);
  } finally {
    await h.server.close();
  }
});

Deno.test("anthropic: timeout ⇒ bounded retries then rejected{backend_error}", async () => {
  const h = harness(anthropic, [{ delayMs: 600, json: {} }]);
  try {
    const started = performance.now();
    const r = await h.formatter.format(goldenContext("price_velocity"));
    assert("rejected" in r);
    assertEquals(r.rejected, "backend_error");
    assert(r.detail.includes("timeout"), r.detail);
    assertEquals(h.server.seen.length, 4);
    assert(performance.now() - started < 1500, "each attempt must be cut at the timeout");
  } finally {
    await h.server.close();
  }
});

Deno.test("anthropic: the API key never appears in logs or errors (even when echoed)", async () => {
  const echo = { error: { type: "authentication_error", message: `invalid x-api-key ${KEY}` } };
  const h = harness(anthropic, [{ status: 401, json: echo }]);
  try {
    const r = await h.formatter.format(goldenContext("price_velocity"));
    assert("rejected" in r);
    assertEquals(r.rejected, "backend_error");
    assertEquals(h.server.seen.length, 1); // auth fails at once
    assert(!r.detail.includes(KEY), r.detail);
    assert(r.detail.includes("auth"), r.detail);
    assert(h.lines.length > 0);
    for (const line of h.lines) assert(!line.includes(KEY), line);
    // Direct backend errors too (500 echoing the key, through the retries).
    const h2 = harness(anthropic, [{ status: 500, text: `upstream saw key=${KEY}` }]);
    try {
      const err = await assertRejects(
        () =>
          anthropic(h2.server.url, h2.registry, createLogger({ sink: (l) => h2.lines.push(l) }))
            .generate({ system: "s", user: "u", maxTokens: 5, temperature: 0 }),
        LlmBackendError,
      );
      assert(!err.message.includes(KEY));
      assert(!String(err.cause).includes(KEY));
      assertEquals(err.kind, "server");
      assertEquals(err.attempts, 4);
      for (const line of h2.lines) assert(!line.includes(KEY), line);
    } finally {
      await h2.server.close();
    }
  } finally {
    await h.server.close();
  }
});

Deno.test("anthropic: key read lazily; a missing key is an auth error without a request", async () => {
  let reads = 0;
  const server = fakeServer([anthropicText(GOOD)]);
  try {
    const backend = createLlmBackend(
      {
        interpreter: { default_backend: "anthropic" },
        backends: { anthropic: { max_retries: 0 } },
      },
      {
        apiKey: () => {
          reads++;
          return "";
        },
        anthropicBaseUrl: server.url,
        registry: new MetricsRegistry(),
      },
    );
    assertEquals(reads, 0);
    const err = await assertRejects(
      () => backend.generate({ system: "s", user: "u", maxTokens: 5, temperature: 0 }),
      LlmBackendError,
    );
    assertEquals(err.kind, "auth");
    assertEquals(reads, 1);
    assertEquals(server.seen.length, 0);
  } finally {
    await server.close();
  }
});

Deno.test("ollama: accepted brief; request shape", async () => {
  const h = harness(ollama, [ollamaText(GOOD)]);
  try {
    const r = await h.formatter.format(goldenContext("volume_spike"));
    assert("brief" in r, JSON.stringify(r));
    assertEquals(r.brief.model, "gemma2:27b@ollama");
    assertEquals(r.brief.severity, "medium");
    const body = JSON.parse(h.server.seen[0].body);
    assertEquals(h.server.seen[0].path, "/api/generate");
    assertEquals(body.stream, false);
    assertEquals(body.options, { num_predict: 512, temperature: 0.2 });
    assertEquals(body.model, "gemma2:27b");
    assert(typeof body.system === "string" && typeof body.prompt === "string");
  } finally {
    await h.server.close();
  }
});

Deno.test("ollama: 4xx fails at once; 500 and timeouts retried max_retries times", async () => {
  const a = harness(ollama, [{ status: 404, json: { error: "model not found" } }]);
  try {
    const r = await a.formatter.format(goldenContext("volume_spike"));
    assertEquals("rejected" in r && r.rejected, "backend_error");
    assertEquals(a.server.seen.length, 1);
  } finally {
    await a.server.close();
  }
  const b = harness(ollama, [{ status: 500 }, { delayMs: 600 }, { status: 503 }]);
  try {
    const r = await b.formatter.format(goldenContext("volume_spike"));
    assertEquals("rejected" in r && r.rejected, "backend_error");
    assertEquals(b.server.seen.length, 3);
    assertEquals(
      b.registry.counter("augur_llm_retries_total", "", ["backend", "kind"]).get({
        backend: "ollama",
        kind: "timeout",
      }),
      1,
    );
  } finally {
    await b.server.close();
  }
  const c = harness(ollama, [{ status: 500 }, ollamaText("not json at all")]);
  try {
    const r = await c.formatter.format(goldenContext("volume_spike"));
    assertEquals("rejected" in r && r.rejected, "schema");
    assertEquals(c.server.seen.length, 2);
  } finally {
    await c.server.close();
  }
});

Deno.test("suspended during a storm: no model call, rejected{suspended}", async () => {
  const h = harness(ollama, [ollamaText(GOOD)]);
  try {
    const r = await h.formatter.format(goldenContext("volume_spike"), { inStorm: true });
    assertEquals("rejected" in r && r.rejected, "suspended");
    assertEquals(h.server.seen.length, 0);
    assertEquals(h.rejected("suspended"), 1);
  } finally {
    await h.server.close();
  }
});

Deno.test("none backend and consumer gate are counted", async () => {
  const registry = new MetricsRegistry();
  const f = new LlmBriefFormatter({
    backend: new NoneBackend(),
    forbiddenPhrases: PHRASES,
    optedIn: ["dashboard"],
    registry,
    logger: createLogger({ sink: () => {} }),
  });
  const r = await f.format(goldenContext("regime_shift"));
  assertEquals("rejected" in r && r.rejected, "backend_error");
  const counter = registry.counter("augur_llm_briefs_rejected_total", "", ["reason"]);
  assertEquals(counter.get({ reason: "backend_error" }), 1);
  const gate = new LlmBriefFormatter({
    backend: {
      id: "fake",
      model: "m",
      generate: () =>
        Promise.resolve(
          JSON.stringify({
            headline: "h",
            body_markdown: "b",
            actionable_for: ["crypto_research_agent"],
          }),
        ),
      health: () => Promise.resolve(true),
    },
    forbiddenPhrases: PHRASES,
    optedIn: ["dashboard"],
    registry,
    logger: createLogger({ sink: () => {} }),
  });
  const g = await gate.format(goldenContext("regime_shift"));
  assertEquals("rejected" in g && g.rejected, "consumer_gate");
  assertEquals(counter.get({ reason: "consumer_gate" }), 1);
});
