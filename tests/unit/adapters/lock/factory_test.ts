import { assertEquals, assertRejects } from "../../../helpers/assert.ts";
import { createLock, lockTimings } from "../../../../adapters/lock/factory.ts";
import { ConfigError, ConnectionError } from "../../../../config/errors.ts";
import { freePort } from "../../../helpers/servers.ts";

const lock = {
  ttl_seconds: 30,
  renew_interval_seconds: 10,
  wait_tick_seconds: 1,
  margin_seconds: 2,
  kv_bucket: "augur_locks",
};

Deno.test("lock factory: memory backend and timings in ms", async () => {
  const bus = { backend: { kind: "memory" }, lock };
  const made = await createLock(bus);
  assertEquals(made.backend, "memory");
  assertEquals(lockTimings(bus), {
    ttlMs: 30_000,
    renewIntervalMs: 10_000,
    waitTickMs: 1_000,
    marginMs: 2_000,
  });
  await made.close();
});

Deno.test("lock factory: unknown kind → ConfigError with a suggestion", async () => {
  await assertRejects(
    () => createLock({ backend: { kind: "nast" }, lock }),
    ConfigError,
    'did you mean "nats"',
  );
});

Deno.test("lock factory: redis URL env var missing → ConfigError naming it", async () => {
  await assertRejects(
    () =>
      createLock({ backend: { kind: "redis" }, redis: { url_env: "AUGUR_TEST_NO_SUCH" }, lock }, {
        env: () => undefined,
      }),
    ConfigError,
    "AUGUR_TEST_NO_SUCH",
  );
});

Deno.test("lock factory: unreachable servers → ConnectionError, one line", async () => {
  const port = freePort();
  const nats = await assertRejects(
    () =>
      createLock({
        backend: { kind: "nats" },
        nats: { servers: [`nats://127.0.0.1:${port}`] },
        lock,
      }),
    ConnectionError,
    `127.0.0.1:${port}`,
  );
  assertEquals(nats.message.includes("\n"), false);
  const redis = await assertRejects(
    () =>
      createLock({ backend: { kind: "redis" }, redis: { url_env: "U" }, lock }, {
        env: () => `redis://:hunter2secret@127.0.0.1:${port}`,
        inspectOnly: true,
      }),
    ConnectionError,
    `127.0.0.1:${port}`,
  );
  assertEquals(redis.message.includes("hunter2secret"), false, "password never shown");
});

Deno.test("lock factory: unreadable NATS credentials file → ConfigError", async () => {
  await assertRejects(
    () =>
      createLock({
        backend: { kind: "nats" },
        nats: { servers: ["nats://127.0.0.1:1"], credentials_file_env: "CREDS" },
        lock,
      }, { env: () => "/nonexistent/augur.creds" }),
    ConfigError,
    "/nonexistent/augur.creds",
  );
});
