/**
 * A consumer that takes messages from a Redis consumer group and never acks them; the
 * integration test SIGKILLs it to prove a live peer reclaims its pending entries.
 *
 * Usage: `deno run -A redis_bus_victim.ts <url> <pattern> <group> <count>`; prints one line
 * per held delivery (`held <stream> <position>`), then `holding <n>` and waits to be killed.
 *
 * @module
 */
import { RedisBus } from "../../../../adapters/bus/redis_bus.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";

if (import.meta.main) {
  const [url, pattern, group, count] = Deno.args;
  const bus = new RedisBus({
    url,
    batch: Number(count),
    claimIdleMs: 500,
    blockMs: 100,
    registry: new MetricsRegistry(),
    logger: {
      debug() {},
      info() {},
      warn() {},
      error() {},
      child() {
        return this;
      },
    },
  });
  await bus.connect();
  const held: string[] = [];
  for await (const delivery of bus.subscribe(pattern, group)) {
    held.push(delivery.position);
    console.log(`held ${delivery.stream} ${delivery.position}`);
    if (held.length >= Number(count)) {
      console.log(`holding ${held.length}`);
      setInterval(() => {}, 1000); // keep the process alive
      await new Promise(() => {}); // mid-subscription, nothing acked: wait for SIGKILL
    }
  }
}
