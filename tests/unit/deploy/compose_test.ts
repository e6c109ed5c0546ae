/**
 * Checks of the smoke stack (deploy/docker/compose.yaml, prometheus.yml, config/): the smoke
 * config validates, every image is pinned, Redis is started durable, Prometheus scrapes every
 * augur service, and every augur service runs a catalog kind.
 */
import { assert, assertEquals } from "../../helpers/assert.ts";
import { loadConfig } from "../../../config/loader.ts";
import { workerCatalog } from "../../../runtime/catalog.ts";
import { REPO_ROOT } from "./render.ts";

const compose = await Deno.readTextFile(`${REPO_ROOT}deploy/docker/compose.yaml`);
const prometheus = await Deno.readTextFile(`${REPO_ROOT}deploy/docker/prometheus.yml`);

/** Top-level service names and their `command:` lists (flow style), by indentation. */
function services(): Map<string, string[] | undefined> {
  const out = new Map<string, string[] | undefined>();
  const block = compose.split(/^services:\n/m)[1].split(/^\S/m)[0];
  let current = "";
  for (const line of block.split("\n")) {
    const name = /^ {2}([a-z0-9-]+):\s*$/.exec(line)?.[1];
    if (name) {
      current = name;
      out.set(name, undefined);
      continue;
    }
    const command = /^ {4}command: (\[.*\])\s*$/.exec(line)?.[1];
    if (command && current) out.set(current, JSON.parse(command));
  }
  return out;
}

Deno.test("compose: the smoke config validates (NATS bus, TimescaleDB store)", async () => {
  const config = await loadConfig({
    dir: `${REPO_ROOT}deploy/docker/config`,
    env: { AUGUR_TIMESCALE_URL: "postgres://augur:augur@timescaledb:5432/augur" },
  });
  assertEquals(config.bus.backend.kind, "nats");
  assertEquals(config.bus.nats.servers, ["nats://nats:4222"]);
  assertEquals(config.storage.backend.kind, "timescaledb");
  assertEquals(config.observability.metrics.port, 9090);
  assert(compose.includes("AUGUR_TIMESCALE_URL: postgres://"), "compose sets the store URL");
});

Deno.test("compose: every image is pinned; Redis is durable; NATS has JetStream", () => {
  const images = [...compose.matchAll(/^\s*image:\s*(\S+)\s*$/gm)].map((m) => m[1]);
  assert(images.length >= 5, `expected >= 5 images, got ${images.length}`);
  for (const image of images) {
    const tag = /:([^/:@]+)$/.exec(image)?.[1];
    assert(tag && tag !== "latest" && /\d/.test(tag), `image ${image} is not pinned`);
  }
  for (
    const flag of ["--appendonly", "--appendfsync", "always", "--maxmemory-policy", "noeviction"]
  ) {
    assert(compose.includes(flag), `redis lacks ${flag}`);
  }
  assert(compose.includes('"--jetstream"'), "nats runs with --jetstream");
  assert(compose.includes('user: "65532:65532"') && compose.includes("read_only: true"));
});

Deno.test("compose: augur services run catalog kinds and Prometheus scrapes each of them", () => {
  const all = services();
  const kinds = new Set<string>(workerCatalog().map((k) => k.kind));
  const augur = [...all.entries()].filter(([, cmd]) => cmd?.[0] === "run");
  assert(augur.length >= 10, `expected the worker kinds, got ${augur.length}`);
  for (const [name, cmd] of augur) {
    assert(kinds.has(cmd![1]), `${name}: ${cmd![1]} is not a catalog kind`);
    assert(prometheus.includes(`- ${name}:9090`), `prometheus.yml does not scrape ${name}`);
  }
  const covered = new Set(augur.map(([, cmd]) => cmd![1]));
  for (const k of workerCatalog()) {
    if (k.mode === "all-in-one" || k.kind === "dual-write") continue;
    assert(covered.has(k.kind), `smoke stack lacks kind ${k.kind}`);
  }
  for (const infra of ["nats", "redis", "timescaledb", "prometheus"]) assert(all.has(infra), infra);
});

Deno.test("compose: prometheus.yml passes promtool check config", async () => {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("promtool", {
      args: ["check", "config", "deploy/docker/prometheus.yml"],
      cwd: REPO_ROOT,
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      assert(Deno.env.get("AUGUR_REQUIRE_SERVICES") !== "1", "promtool missing");
      console.warn("compose_test: promtool not installed, config check skipped");
      return;
    }
    throw error;
  }
  assert(out.success, new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout));
});
