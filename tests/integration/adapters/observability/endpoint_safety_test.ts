/**
 * Endpoint safety of the observability server (/metrics, /healthz, /readyz): it binds only
 * the configured address, unknown paths are 404, other methods 405, and huge URLs, huge or
 * many headers and garbage bytes do not crash it (it keeps serving afterwards).
 */
import { assert, assertEquals } from "../../../helpers/assert.ts";
import { waitForSettled } from "../../../helpers/wait.ts";
import { startObservabilityServer } from "../../../../adapters/observability/http_server.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../../adapters/observability/logger.ts";

const quiet = createLogger({ sink: () => {} });

function start() {
  const registry = new MetricsRegistry();
  registry.counter("augur_test_total", "A test counter.", []).inc({});
  return startObservabilityServer({ hostname: "127.0.0.1", port: 0, registry, logger: quiet });
}

async function reachable(hostname: string, port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Send raw bytes, read whatever comes back (until close or 2 s). */
async function raw(port: number, bytes: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    try {
      for (let off = 0; off < bytes.length; off += 65536) {
        await conn.write(bytes.subarray(off, off + 65536));
      }
    } catch {
      // the server may close early on an oversized request
    }
    const buf = new Uint8Array(65536);
    let out = "";
    try {
      const n = await waitForSettled(conn.read(buf), { timeoutMs: 2000, message: "no answer" });
      if (n) out = new TextDecoder().decode(buf.subarray(0, n));
    } catch {
      // reset / closed / no answer within 2 s (the read ends when the connection closes below)
    }
    return out;
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

async function healthy(port: number): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  assertEquals(response.status, 200);
  assertEquals(await response.json(), { alive: true });
}

Deno.test("endpoint safety: binds the configured address only", async () => {
  const server = start();
  try {
    assertEquals(server.hostname, "127.0.0.1");
    assert(await reachable("127.0.0.1", server.port));
    // 127.0.0.2 is another loopback address on Linux: not bound, so not reachable.
    if (Deno.build.os === "linux") assert(!(await reachable("127.0.0.2", server.port)));
    // Every other local IPv4 address of this machine.
    for (const nic of Deno.networkInterfaces()) {
      if (nic.family !== "IPv4" || nic.address.startsWith("127.")) continue;
      assert(
        !(await reachable(nic.address, server.port)),
        `reachable on ${nic.address} though bound to 127.0.0.1`,
      );
    }
  } finally {
    await server.close();
  }
});

Deno.test("endpoint safety: 404 for unknown paths, 405 for other methods, GET/HEAD served", async () => {
  const server = start();
  const base = `http://127.0.0.1:${server.port}`;
  try {
    for (
      const path of [
        "/",
        "/metrics/",
        "/metricsx",
        "/../etc/passwd",
        "/%00",
        "/healthz/x",
        "/READYZ",
      ]
    ) {
      const response = await fetch(`${base}${path}`);
      await response.body?.cancel();
      assertEquals(response.status, 404, path);
    }
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      for (const path of ["/metrics", "/healthz", "/nope"]) {
        const response = await fetch(`${base}${path}`, {
          method,
          body: method === "POST" ? "x" : undefined,
        });
        await response.body?.cancel();
        assertEquals(response.status, 405, `${method} ${path}`);
      }
    }
    const metrics = await fetch(`${base}/metrics`);
    assertEquals(metrics.status, 200);
    assert((await metrics.text()).includes("augur_test_total 1"));
    const head = await fetch(`${base}/metrics`, { method: "HEAD" });
    await head.body?.cancel();
    assertEquals(head.status, 200);
    const ready = await fetch(`${base}/readyz`);
    assertEquals(ready.status, 200);
    await ready.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("endpoint safety: huge URLs, huge or many headers and garbage do not crash the server", async () => {
  const server = start();
  const port = server.port;
  const enc = new TextEncoder();
  try {
    const hugePath = "/" + "a".repeat(1_000_000);
    const reply1 = await raw(port, enc.encode(`GET ${hugePath} HTTP/1.1\r\nHost: x\r\n\r\n`));
    assert(reply1 === "" || /^HTTP\/1\.1 (4\d\d)/.test(reply1), reply1.slice(0, 100));
    await healthy(port);

    const hugeHeader = `X-Big: ${"b".repeat(2_000_000)}\r\n`;
    const reply2 = await raw(
      port,
      enc.encode(`GET /healthz HTTP/1.1\r\nHost: x\r\n${hugeHeader}\r\n`),
    );
    assert(reply2 === "" || /^HTTP\/1\.1 (4\d\d|200)/.test(reply2), reply2.slice(0, 100));
    await healthy(port);

    const many = Array.from({ length: 20_000 }, (_, i) => `X-H${i}: v`).join("\r\n");
    const reply3 = await raw(
      port,
      enc.encode(`GET /metrics HTTP/1.1\r\nHost: x\r\n${many}\r\n\r\n`),
    );
    assert(reply3 === "" || /^HTTP\/1\.1 (4\d\d|200)/.test(reply3), reply3.slice(0, 100));
    await healthy(port);

    for (
      const garbage of [
        "\x00\x01\x02\xff\r\n\r\n",
        "GET\r\n\r\n",
        "GET /metrics HTTP/9.9\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a TLS ClientHello start
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
      ]
    ) {
      await raw(port, enc.encode(garbage));
      await healthy(port);
    }

    // Concurrent well-formed requests still all succeed.
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => fetch(`http://127.0.0.1:${port}/metrics`)),
    );
    for (const r of responses) {
      assertEquals(r.status, 200);
      await r.body?.cancel();
    }
  } finally {
    await server.close();
  }
});
