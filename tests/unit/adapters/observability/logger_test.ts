import { assertEquals, assertStringIncludes } from "../../../helpers/assert.ts";
import { createLogger, redact, registerSecret } from "../../../../adapters/observability/logger.ts";

Deno.test("logger: one JSON object per line with level, component and fields", () => {
  const lines: string[] = [];
  const log = createLogger({ component: "bus", level: "info", sink: (l) => lines.push(l) });
  log.debug("hidden");
  log.info("connected", { servers: "nats://127.0.0.1:4222" });
  log.child({ replica: "r1" }).error("failed", { error: new Error("boom") });
  assertEquals(lines.length, 2);
  const first = JSON.parse(lines[0]);
  assertEquals([first.level, first.msg, first.component, first.servers], [
    "info",
    "connected",
    "bus",
    "nats://127.0.0.1:4222",
  ]);
  const second = JSON.parse(lines[1]);
  assertEquals(second.replica, "r1");
  assertEquals(second.error, { name: "Error", message: "boom" });
});

Deno.test("logger: registered secrets never leave, in messages or fields", () => {
  const lines: string[] = [];
  registerSecret("s3cr3t-token-value");
  const log = createLogger({ sink: (l) => lines.push(l), level: "debug" });
  log.warn("dsn postgres://u:s3cr3t-token-value@h/db", { key: "s3cr3t-token-value" });
  assertEquals(lines[0].includes("s3cr3t-token-value"), false);
  assertStringIncludes(lines[0], "postgres://u:***@h/db");
  assertEquals(redact("x s3cr3t-token-value y"), "x *** y");
});
