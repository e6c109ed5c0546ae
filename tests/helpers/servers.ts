/**
 * Throwaway real servers for integration and e2e tests: nats-server (JetStream),
 * redis-server and PostgreSQL, on free ports, with stop / restart / SIGKILL on demand.
 *
 * When a binary is missing the test is skipped with the reason, unless
 * `AUGUR_REQUIRE_SERVICES=1`, which turns the skip into a failure (CI sets it).
 *
 * @example
 * ```ts
 * import { startNats, needs } from "./servers.ts";
 * Deno.test({ name: "talks to nats", ...needs("nats"), fn: async () => {
 *   const nats = await startNats();
 *   try { console.log(nats.url); } finally { await nats.stop(); }
 * }});
 * ```
 * @module
 */

import { waitFor } from "./wait.ts";

export { waitFor };

const PG_BIN = "/usr/lib/postgresql/15/bin";

const BINARIES: Record<Service, string> = {
  nats: "nats-server",
  redis: "redis-server",
  postgres: `${PG_BIN}/postgres`,
};

/** The services the harness can start. */
export type Service = "nats" | "redis" | "postgres";

/** True when CI demands every service (a missing one fails instead of skipping). */
export const requireServices: boolean = Deno.env.get("AUGUR_REQUIRE_SERVICES") === "1";

function which(binary: string): string | undefined {
  if (binary.startsWith("/")) {
    try {
      Deno.statSync(binary);
      return binary;
    } catch {
      return undefined;
    }
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    try {
      Deno.statSync(`${dir}/${binary}`);
      return `${dir}/${binary}`;
    } catch { /* next */ }
  }
  return undefined;
}

/** Whether the binary of `service` is on this machine. */
export function hasService(service: Service): boolean {
  return which(BINARIES[service]) !== undefined;
}

/**
 * Test options that skip (with the reason printed in the test name) when a service binary
 * is missing, or keep the test so it fails loudly when `AUGUR_REQUIRE_SERVICES=1`.
 */
export function needs(...services: Service[]): { ignore: boolean } {
  const missing = services.filter((s) => !hasService(s));
  if (missing.length === 0 || requireServices) return { ignore: false };
  console.warn(`skipped: ${missing.map((s) => BINARIES[s]).join(", ")} not installed`);
  return { ignore: true };
}

function binaryOrThrow(service: Service): string {
  const path = which(BINARIES[service]);
  if (!path) {
    throw new Error(
      `${BINARIES[service]} is not installed (AUGUR_REQUIRE_SERVICES=${
        requireServices ? "1" : "0"
      })`,
    );
  }
  return path;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Resolve when a TCP connection to the port succeeds. */
export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return true;
    } catch {
      return false;
    }
  }, { timeoutMs, message: `port ${port} did not open` });
}

/** A server process the test controls. */
export interface ManagedServer {
  readonly port: number;
  readonly url: string;
  /** Data directory (kept across restarts, removed by stop()). */
  readonly dir: string;
  /** SIGTERM and wait; removes the data directory. */
  stop(): Promise<void>;
  /** SIGKILL and wait; keeps the data directory so restart() recovers it. */
  kill(): Promise<void>;
  /** Start again on the same port with the same data directory. */
  restart(): Promise<void>;
  /** Pause (SIGSTOP) / resume (SIGCONT). */
  pause(): void;
  resume(): void;
}

class ProcessServer implements ManagedServer {
  #child: Deno.ChildProcess | undefined;
  constructor(
    readonly port: number,
    readonly url: string,
    readonly dir: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly user?: string,
    /** Extra readiness probe after the port listens (PostgreSQL: recovery finished). */
    private readonly ready?: () => Promise<boolean>,
  ) {}

  async start(): Promise<void> {
    const [cmd, args] = this.user
      ? ["runuser", ["-u", this.user, "--", this.command, ...this.args]]
      : [this.command, this.args];
    this.#child = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).spawn();
    const child = this.#child;
    const stderr = child.stderr.pipeThrough(new TextDecoderStream());
    let errText = "";
    (async () => {
      for await (const chunk of stderr) errText = (errText + chunk).slice(-4000);
    })().catch(() => {});
    let exited = false;
    child.status.then(() => exited = true);
    await waitFor(async () => {
      if (exited) throw new Error(`${this.command} exited at start: ${errText}`);
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
        conn.close();
        return this.ready ? await this.ready() : true;
      } catch {
        return false;
      }
    }, { timeoutMs: 20_000, message: `${this.command} did not listen on ${this.port}` });
  }

  async #signal(sig: Deno.Signal): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    try {
      child.kill(sig);
    } catch { /* already gone */ }
    await child.status;
  }

  async stop(): Promise<void> {
    await this.#signal("SIGTERM");
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
  kill(): Promise<void> {
    return this.#signal("SIGKILL");
  }
  async restart(): Promise<void> {
    await this.#signal("SIGTERM");
    await this.start();
  }
  pause(): void {
    this.#child?.kill("SIGSTOP");
  }
  resume(): void {
    this.#child?.kill("SIGCONT");
  }
}

/** Start a nats-server with JetStream on a free port and a temporary store dir. */
export async function startNats(): Promise<ManagedServer> {
  const bin = binaryOrThrow("nats");
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "augur-nats-" });
  const server = new ProcessServer(port, `nats://127.0.0.1:${port}`, dir, bin, [
    "-a",
    "127.0.0.1",
    "-p",
    String(port),
    "-js",
    "-sd",
    dir,
  ]);
  await server.start();
  return server;
}

/**
 * Start a redis-server on a free port. `durable` (default true) turns on
 * `appendonly yes` + `appendfsync always` + `noeviction`, as augur requires (DESIGN §10).
 */
export async function startRedis(options: { durable?: boolean } = {}): Promise<ManagedServer> {
  const bin = binaryOrThrow("redis");
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "augur-redis-" });
  const durable = options.durable ?? true;
  const server = new ProcessServer(port, `redis://127.0.0.1:${port}`, dir, bin, [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    durable ? "yes" : "no",
    "--appendfsync",
    durable ? "always" : "everysec",
    "--maxmemory-policy",
    "noeviction",
  ]);
  await server.start();
  return server;
}

/**
 * Start a throwaway PostgreSQL 15 cluster (initdb + postgres) on a free port, as the
 * `postgres` OS user when running as root. Use it when a test must restart or kill the
 * server; otherwise {@linkcode pgDatabase} is much faster.
 */
export async function startPostgres(): Promise<ManagedServer> {
  const bin = binaryOrThrow("postgres");
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "augur-pg-" });
  const asRoot = Deno.uid?.() === 0;
  const user = asRoot ? "postgres" : undefined;
  if (asRoot) await run("chown", ["postgres", dir]);
  const initdb = `${PG_BIN}/initdb`;
  await run(
    user ? "runuser" : initdb,
    [
      ...(user ? ["-u", user, "--", initdb] : []),
      "-D",
      `${dir}/data`,
      "-A",
      "trust",
      "-U",
      "postgres",
      "--no-sync",
    ],
  );
  const server = new ProcessServer(
    port,
    `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    bin,
    [
      "-D",
      `${dir}/data`,
      "-p",
      String(port),
      "-h",
      "127.0.0.1",
      "-k",
      dir,
      "-c",
      "fsync=off",
    ],
    user,
    // PostgreSQL listens while still recovering ("the database system is starting up"):
    // ready means it accepts connections.
    async () =>
      (await new Deno.Command(`${PG_BIN}/pg_isready`, {
        args: ["-q", "-h", "127.0.0.1", "-p", String(port)],
        stdout: "null",
        stderr: "null",
      }).output()).success,
  );
  await server.start();
  return server;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A fresh database on the machine's PostgreSQL (or `AUGUR_TEST_PG_URL`). */
export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/**
 * Create a fresh database for one test file on the local PostgreSQL server
 * (`AUGUR_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`).
 */
export async function pgDatabase(prefix = "augur_test"): Promise<TestDatabase> {
  const adminUrl = Deno.env.get("AUGUR_TEST_PG_URL") ??
    "postgres://postgres@127.0.0.1:5432/postgres";
  const name = `${prefix}_${Date.now().toString(36)}_${
    Math.floor(Math.random() * 1e9).toString(36)
  }`;
  await psql(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => psql(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function psql(url: string, sql: string): Promise<void> {
  const out = await new Deno.Command("psql", {
    args: [url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`psql failed (${sql}): ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}
