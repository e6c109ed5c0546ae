import { assert, assertEquals, assertRejects } from "../../../helpers/assert.ts";
import { startFakeHttp } from "../../../helpers/fake_http.ts";
import { VirtualClock } from "../../../../adapters/markets/clock.ts";
import {
  HttpClient,
  HttpStatusError,
  NotFoundError,
  parseRetryAfter,
  RequestBudget,
  RetryExhaustedError,
} from "../../../../adapters/markets/http.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../../adapters/observability/logger.ts";

const silent = createLogger({ sink: () => {} });

function client(
  clock: VirtualClock,
  extra: Partial<ConstructorParameters<typeof HttpClient>[0]> = {},
) {
  const registry = new MetricsRegistry();
  const http = new HttpClient({
    platform: "polymarket",
    clock,
    random: () => 0,
    registry,
    logger: silent,
    timeoutMs: 2000,
    ...extra,
  });
  return { http, registry };
}

Deno.test("http: 429 with Retry-After seconds is honoured, then succeeds", async () => {
  const server = startFakeHttp();
  try {
    server.route("/x", [{ status: 429, headers: { "retry-after": "7" } }, { json: { ok: 1 } }]);
    const clock = new VirtualClock(0);
    const { http, registry } = client(clock);
    const res = await http.getJson(`${server.url}/x`);
    assertEquals(res.json, { ok: 1 });
    assertEquals(clock.sleeps, [7000]);
    assertEquals(
      registry.counter("augur_market_http_retries_total", "", ["platform", "reason"]).get({
        platform: "polymarket",
        reason: "429",
      }),
      1,
    );
  } finally {
    await server.close();
  }
});

Deno.test("http: Retry-After as HTTP date", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  assertEquals(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now), 30_000);
  assertEquals(parseRetryAfter("garbage", now), null);
  assertEquals(parseRetryAfter(null, now), null);
});

Deno.test("http: 500s back off 1,2,4,8 s and give up after 5 attempts", async () => {
  const server = startFakeHttp();
  try {
    const served = server.route("/x", { status: 500, body: "boom" });
    const clock = new VirtualClock(0);
    const { http, registry } = client(clock);
    const err = await assertRejects(() => http.getJson(`${server.url}/x`), RetryExhaustedError);
    assertEquals(err.attempts, 5);
    assertEquals(served(), 5);
    assertEquals(clock.sleeps, [1000, 2000, 4000, 8000]);
    assertEquals(
      registry.counter("augur_market_http_failures_total", "", ["platform", "reason"]).get({
        platform: "polymarket",
        reason: "5xx",
      }),
      1,
    );
  } finally {
    await server.close();
  }
});

Deno.test("http: back-off is capped at max_s and jittered downwards", () => {
  const clock = new VirtualClock(0);
  const { http } = client(clock, { initialS: 1, maxS: 60 });
  assertEquals([1, 2, 3, 4, 7, 8].map((a) => http.backoffMs(a)), [
    1000,
    2000,
    4000,
    8000,
    60000,
    60000,
  ]);
});

Deno.test("http: jitter keeps each sleep within [0.8d, d]", async () => {
  const server = startFakeHttp();
  try {
    server.route("/x", { status: 503 });
    const clock = new VirtualClock(0);
    let i = 0;
    const { http } = client(clock, { random: () => [0.99, 0.5, 0.0, 0.25][i++ % 4] });
    await assertRejects(() => http.getJson(`${server.url}/x`), RetryExhaustedError);
    const base = [1000, 2000, 4000, 8000];
    clock.sleeps.forEach((s, k) => assert(s >= base[k] * 0.8 && s <= base[k], `sleep ${k} = ${s}`));
    assert(clock.sleeps[0] < 1000, "jitter applied");
  } finally {
    await server.close();
  }
});

Deno.test("http: 404 and other 4xx are not retried", async () => {
  const server = startFakeHttp();
  try {
    const nf = server.route("/missing", { status: 404, body: "{}" });
    const bad = server.route("/bad", { status: 400, body: "bad request" });
    const clock = new VirtualClock(0);
    const { http } = client(clock);
    await assertRejects(() => http.getJson(`${server.url}/missing`), NotFoundError);
    const e = await assertRejects(() => http.getJson(`${server.url}/bad`), HttpStatusError, "400");
    assertEquals(e.status, 400);
    assertEquals([nf(), bad()], [1, 1]);
    assertEquals(clock.sleeps, []);
  } finally {
    await server.close();
  }
});

Deno.test("http: timeout, truncated JSON and HTML error pages are retried", async () => {
  const server = startFakeHttp();
  try {
    server.route("/x", [
      { hang: true },
      { body: '[{"conditionId": "0x', truncate: 10 },
      {
        status: 502,
        body: "<html><body>Bad gateway</body></html>",
        headers: { "content-type": "text/html" },
      },
      { status: 200, body: "<html>maintenance</html>", headers: { "content-type": "text/html" } },
      { json: [1, 2] },
    ]);
    const clock = new VirtualClock(0);
    const { http, registry } = client(clock, { timeoutMs: 150 });
    const res = await http.getJson(`${server.url}/x`);
    assertEquals(res.json, [1, 2]);
    const retries = registry.counter("augur_market_http_retries_total", "", ["platform", "reason"]);
    assertEquals(retries.get({ platform: "polymarket", reason: "timeout" }), 1);
    assertEquals(retries.get({ platform: "polymarket", reason: "malformed" }), 2);
    assertEquals(retries.get({ platform: "polymarket", reason: "5xx" }), 1);
    assertEquals(clock.sleeps, [1000, 2000, 4000, 8000]);
  } finally {
    await server.close();
  }
});

Deno.test("http: network error (connection refused) is retried then exhausted", async () => {
  const server = startFakeHttp();
  const url = server.url;
  await server.close();
  const clock = new VirtualClock(0);
  const { http } = client(clock, { maxRetries: 3 });
  const err = await assertRejects(() => http.getJson(`${url}/x`), RetryExhaustedError);
  assertEquals(err.attempts, 3);
  assertEquals(clock.sleeps, [1000, 2000]);
});

Deno.test("budget: requests per minute never exceed the cap on a fake clock", async () => {
  const clock = new VirtualClock(0);
  const budget = new RequestBudget({ capPerMinute: 600, safetyPct: 0.7, clock });
  assertEquals(budget.ratePerMinute, 420);
  assertEquals(budget.burst, 180);
  const times: number[] = [];
  for (let i = 0; i < 3000; i++) {
    await budget.acquire();
    times.push(clock.now());
  }
  // every 60-s window (sliding, anchored at each request) holds ≤ cap requests
  let j = 0;
  let worst = 0;
  for (let i = 0; i < times.length; i++) {
    while (times[i] - times[j] >= 60_000) j++;
    worst = Math.max(worst, i - j + 1);
  }
  assert(worst <= 600, `worst window ${worst}`);
  // long-run rate is the planned 420/min
  const minutes = (times[times.length - 1] - times[0]) / 60_000;
  const rate = (times.length - 180) / minutes;
  assert(Math.abs(rate - 420) < 5, `rate ${rate}`);
});

Deno.test("budget: safety 1.0 still never exceeds the cap", async () => {
  const clock = new VirtualClock(0);
  const budget = new RequestBudget({ capPerMinute: 100, safetyPct: 1, clock });
  const times: number[] = [];
  for (let i = 0; i < 500; i++) {
    await budget.acquire();
    times.push(clock.now());
  }
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    while (times[i] - times[j] >= 60_000) j++;
    assert(i - j + 1 <= 100, `window at ${i} holds ${i - j + 1}`);
  }
});

Deno.test("budget: concurrent clients through the fake server stay under the cap", async () => {
  const server = startFakeHttp();
  try {
    server.route("/x", [{ status: 500 }, { status: 429 }, { json: {} }]);
    const clock = new VirtualClock(0);
    const budget = new RequestBudget({ capPerMinute: 60, safetyPct: 0.7, clock });
    const stamps: number[] = [];
    server.onRequest = () => stamps.push(clock.now());
    const { http } = client(clock, { budget });
    await Promise.all(Array.from({ length: 40 }, () => http.getJson(`${server.url}/x`)));
    assertEquals(stamps.length, 42);
    let j = 0;
    for (let i = 0; i < stamps.length; i++) {
      while (stamps[i] - stamps[j] >= 60_000) j++;
      assert(i - j + 1 <= 60, `window ${i - j + 1}`);
    }
  } finally {
    await server.close();
  }
});
