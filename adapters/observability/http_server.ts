/**
 * The observability endpoint every long-running kind serves: `/metrics` (Prometheus text
 * 0.0.4), `/healthz` (the process is alive) and `/readyz` (every registered readiness check
 * passes: bus connected, store reachable, singleton role known…).
 *
 * Port 0 binds a free port; the bound port is returned and logged.
 *
 * @example
 * ```ts
 * import { startObservabilityServer } from "./http_server.ts";
 * const server = startObservabilityServer({ hostname: "127.0.0.1", port: 0 });
 * server.readiness.register("bus", () => true);
 * console.log(server.port);
 * await server.close();
 * ```
 * @module
 */
import { defaultRegistry, type MetricsRegistry } from "./metrics.ts";
import { createLogger, type Logger } from "./logger.ts";

/** A readiness check: true (or a resolved true) when the component is ready. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

/** Named readiness checks; `/readyz` passes only when all pass. */
export class Readiness {
  readonly #checks = new Map<string, ReadinessCheck>();

  /** Add or replace a check. */
  register(name: string, check: ReadinessCheck): void {
    this.#checks.set(name, check);
  }

  /** Remove a check. */
  unregister(name: string): void {
    this.#checks.delete(name);
  }

  /** Evaluate every check; a throwing check counts as not ready. */
  async evaluate(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const checks: Record<string, boolean> = {};
    for (const [name, check] of this.#checks) {
      try {
        checks[name] = (await check()) === true;
      } catch {
        checks[name] = false;
      }
    }
    return { ready: Object.values(checks).every(Boolean), checks };
  }
}

/** Options of {@linkcode startObservabilityServer}. */
export interface ObservabilityServerOptions {
  /** Bind address (default 0.0.0.0). */
  hostname?: string;
  /** Port; 0 picks a free one (default 9090). */
  port?: number;
  /** Registry to expose (default the process registry). */
  registry?: MetricsRegistry;
  /** Readiness checks (a new set when omitted). */
  readiness?: Readiness;
  /** Logger (default component "observability"). */
  logger?: Logger;
}

/** A running observability server. */
export interface ObservabilityServer {
  /** The bound port. */
  readonly port: number;
  readonly hostname: string;
  readonly readiness: Readiness;
  /** Stop listening. */
  close(): Promise<void>;
}

/** Serve `/metrics`, `/healthz` and `/readyz`. */
export function startObservabilityServer(
  options: ObservabilityServerOptions = {},
): ObservabilityServer {
  const registry = options.registry ?? defaultRegistry;
  const readiness = options.readiness ?? new Readiness();
  const logger = options.logger ?? createLogger({ component: "observability" });
  const hostname = options.hostname ?? "0.0.0.0";
  const server = Deno.serve({
    hostname,
    port: options.port ?? 9090,
    onListen: () => {},
  }, async (request) => {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405 });
    }
    switch (pathname) {
      case "/metrics":
        return new Response(registry.expose(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      case "/healthz":
        return Response.json({ alive: true });
      case "/readyz": {
        const result = await readiness.evaluate();
        return Response.json(result, { status: result.ready ? 200 : 503 });
      }
      default:
        return new Response("not found\n", { status: 404 });
    }
  });
  const port = server.addr.port;
  logger.info("observability endpoint listening", { hostname, port });
  return {
    port,
    hostname,
    readiness,
    close: () => server.shutdown(),
  };
}
