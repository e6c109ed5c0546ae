/**
 * The public WebSocket endpoint (`augur run websocket`, DOMAIN §11.4), on `Deno.serve`.
 *
 * Routes:
 * - `GET /ws?consumer=<ConsumerType>` — upgrade to a WebSocket streaming the frames routed
 *   to that consumer type. The consumer type is chosen in the query at connect time (no
 *   identify frame). Refusals happen before the upgrade, as plain HTTP: 401 for a missing or
 *   wrong token (when a token is configured), 400 for a missing/unknown consumer type (the
 *   body lists the allowed values), 503 beyond `maxConnections` or while draining, 426 for a
 *   request that is not a WebSocket upgrade.
 * - `GET /signals?since=<ISO Z | epoch µs>[&consumer=<type>][&limit=N][&after=<signal_id>]` —
 *   catch-up after a reconnect: stored contexts with `signal.detected_at ≥ since` (inclusive;
 *   clients de-duplicate on `signal_id`), in store order (detected_at, market_id,
 *   signal_type, signal_id), filtered to those routed to `consumer` when given, as canonical
 *   JSON lines (`application/x-ndjson`). At most `limit` lines (default 1000, max 10 000);
 *   when more exist the response carries `Augur-Truncated: true` and the next page is
 *   `since=<last detected_at>&after=<last signal_id>`.
 * - `GET /healthz` — 200 while serving.
 *
 * Authentication (when a token is configured): `Authorization: Bearer <token>` or the `token`
 * query parameter (browsers cannot set headers on a WebSocket), compared in constant time
 * (SHA-256 of both sides, then `timingSafeEqual`). The token never appears in logs.
 *
 * Client → server frames: optional; a text frame `{"frame_type":"ping"}` is answered with a
 * `heartbeat` frame. Anything else closes THAT connection only: binary 1003, not a JSON
 * object 1007, unknown frame type 1008, larger than `maxMessageBytes` 1009.
 * Liveness: the server pings; a peer that sends nothing (not even the pong) for
 * `idleTimeoutSeconds` is closed (Deno's `idleTimeout`: ping after half of it, close after
 * the other half). On drain every client gets close code 1001.
 *
 * @example
 * ```ts
 * import { startWebSocketServer } from "./websocket_server.ts";
 * import { WebSocketHub } from "./websocket_hub.ts";
 * import { WebSocketRouter } from "./websocket_routing.ts";
 * const server = startWebSocketServer({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   hub: new WebSocketHub(),
 *   router: WebSocketRouter.fromConfig({ consumers: {}, markets: { markets: [] } }),
 * });
 * // clients: new WebSocket(`ws://127.0.0.1:${server.port}/ws?consumer=dashboard`)
 * await server.close();
 * ```
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createLogger, type Logger } from "../adapters/observability/logger.ts";
import { defaultRegistry, type MetricsRegistry } from "../adapters/observability/metrics.ts";
import type { Store } from "../adapters/storage/types.ts";
import { canonicalJson, KINDS, parseIsoMicros } from "../pipeline/canonical_json.ts";
import { CONSUMER_TYPES, type ConsumerType } from "../pipeline/models.ts";
import type { HubConnection, WebSocketHub } from "./websocket_hub.ts";
import type { WebSocketRouter } from "./websocket_routing.ts";

/** Close codes the server uses. */
export const CLOSE = {
  goingAway: 1001,
  unsupportedData: 1003,
  invalidPayload: 1007,
  policyViolation: 1008,
  tooBig: 1009,
} as const;

/** Options of {@linkcode startWebSocketServer}. */
export interface WebSocketServerOptions {
  /** Bind address (`formatters.websocket.bind`). */
  readonly hostname: string;
  /** Port (`formatters.websocket.port`); 0 picks a free one. */
  readonly port: number;
  readonly hub: WebSocketHub;
  readonly router: WebSocketRouter;
  /** Contexts for `/signals` (the endpoint answers 503 without a store). */
  readonly store?: Pick<Store, "contextsInRange">;
  /** Required bearer token; undefined = no authentication. */
  readonly token?: string;
  /** Connections beyond this are refused with 503 (default 10 000). */
  readonly maxConnections?: number;
  /** Largest client message (default 4096 bytes). */
  readonly maxMessageBytes?: number;
  /** Close a peer silent this long, pings included (default 90 s; 0 disables). */
  readonly idleTimeoutSeconds?: number;
  /** `[json] float_decimals` of the canonical JSON (default 6). */
  readonly floatDecimals?: number;
  /** How often heartbeats are checked (default min(1000, heartbeat interval / 2) ms). */
  readonly tickMs?: number;
  readonly registry?: MetricsRegistry;
  readonly logger?: Logger;
}

/** A running endpoint. */
export interface WebSocketServer {
  readonly hostname: string;
  readonly port: number;
  /** `ws://host:port/ws` (host 127.0.0.1 when bound to 0.0.0.0). */
  readonly url: string;
  /** Refuse new connections, close every client with 1001, stop listening. */
  close(): Promise<void>;
}

const MAX_LIMIT = 10_000;
const DEFAULT_LIMIT = 1000;
const encoder = new TextEncoder();

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Constant-time token comparison: both sides are hashed to 32 bytes first, so neither the
 * content nor the length of the expected token leaks through timing.
 *
 * @example
 * ```ts
 * import { tokenMatches } from "./websocket_server.ts";
 * tokenMatches("s3cret", "s3cret"); // true
 * tokenMatches("s3cret", "guess"); // false
 * ```
 */
export function tokenMatches(expected: string, presented: string | null | undefined): boolean {
  if (presented === null || presented === undefined) return false;
  return timingSafeEqual(digest(expected), digest(presented));
}

/** The token a request presents (`Authorization: Bearer`, else `?token=`). */
function presentedToken(request: Request, url: URL): string | null {
  const header = request.headers.get("authorization");
  if (header !== null) {
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    return m ? m[1] : null;
  }
  return url.searchParams.get("token");
}

/**
 * Parse `since`: an ISO UTC datetime (`2026-03-15T12:00:07Z`) or integer epoch µs.
 *
 * @example
 * ```ts
 * import { parseSince } from "./websocket_server.ts";
 * parseSince("1000000"); // 1000000
 * parseSince("1970-01-01T00:00:01Z"); // 1000000
 * parseSince("yesterday"); // null
 * ```
 */
export function parseSince(text: string): number | null {
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : null;
  }
  return parseIsoMicros(text);
}

function plain(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

function consumerOf(raw: string | null): ConsumerType | string {
  if (raw === null || raw === "") {
    return `expected a consumer query parameter, one of ${CONSUMER_TYPES.join(", ")}`;
  }
  if (!(CONSUMER_TYPES as readonly string[]).includes(raw)) {
    return `unknown consumer ${JSON.stringify(raw)}: expected one of ${CONSUMER_TYPES.join(", ")}`;
  }
  return raw as ConsumerType;
}

/**
 * Start the endpoint (see the module doc).
 *
 * @example
 * ```ts
 * import { startWebSocketServer } from "./websocket_server.ts";
 * import { WebSocketHub } from "./websocket_hub.ts";
 * import { WebSocketRouter } from "./websocket_routing.ts";
 * const server = startWebSocketServer({
 *   hostname: "127.0.0.1", port: 0, hub: new WebSocketHub(), token: "s3cret",
 *   router: WebSocketRouter.fromConfig({ consumers: {}, markets: { markets: [] } }),
 * });
 * await server.close();
 * ```
 */
export function startWebSocketServer(options: WebSocketServerOptions): WebSocketServer {
  const { hub, router } = options;
  const logger = options.logger ?? createLogger({ component: "websocket" });
  const registry = options.registry ?? defaultRegistry;
  const maxConnections = options.maxConnections ?? 10_000;
  const maxMessageBytes = options.maxMessageBytes ?? 4096;
  const idleTimeout = options.idleTimeoutSeconds ?? 90;
  const floatDecimals = options.floatDecimals ?? 6;
  const refused = registry.counter(
    "augur_websocket_refused_total",
    "WebSocket connection attempts refused before the upgrade, by reason.",
    ["reason"],
  );
  const clientErrors = registry.counter(
    "augur_websocket_client_errors_total",
    "Connections closed because of what the client sent, by reason.",
    ["reason"],
  );
  const catchUps = registry.counter(
    "augur_websocket_catchup_requests_total",
    "GET /signals requests, by outcome.",
    ["outcome"],
  );
  let opening = 0;
  let draining = false;
  const sockets = new Set<WebSocket>();

  const authorized = (request: Request, url: URL): boolean =>
    options.token === undefined || tokenMatches(options.token, presentedToken(request, url));

  const clientError = (
    socket: WebSocket,
    code: number,
    reason: string,
    conn: HubConnection | undefined,
  ) => {
    clientErrors.inc({ reason });
    logger.info("closing websocket: bad client frame", {
      connection: conn?.id,
      consumer: conn?.consumer,
      reason,
    });
    try {
      socket.close(code, reason);
    } catch {
      // already closing
    }
  };

  const upgrade = (request: Request, url: URL): Response => {
    if (draining) {
      refused.inc({ reason: "draining" });
      return plain(503, "server draining", { "retry-after": "1" });
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      refused.inc({ reason: "not_upgrade" });
      return plain(426, "expected a WebSocket upgrade request", { upgrade: "websocket" });
    }
    if (!authorized(request, url)) {
      refused.inc({ reason: "unauthorized" });
      return plain(401, "unauthorized: expected a valid bearer token", {
        "www-authenticate": 'Bearer realm="augur"',
      });
    }
    const consumer = consumerOf(url.searchParams.get("consumer"));
    if (!(CONSUMER_TYPES as readonly string[]).includes(consumer)) {
      refused.inc({ reason: "bad_consumer" });
      return plain(400, consumer);
    }
    if (hub.size + opening >= maxConnections) {
      refused.inc({ reason: "capacity" });
      logger.warn("websocket connection refused: at capacity", { max_connections: maxConnections });
      return plain(503, `at capacity (${maxConnections} connections)`, { "retry-after": "5" });
    }
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout });
    opening++;
    let opened = false;
    let conn: HubConnection | undefined;
    sockets.add(socket);
    socket.onopen = () => {
      opening--;
      opened = true;
      if (draining) {
        socket.close(CLOSE.goingAway, "server draining");
        return;
      }
      conn = hub.add(consumer as ConsumerType, socket);
    };
    socket.onmessage = (event: MessageEvent) => {
      const data = event.data;
      if (typeof data !== "string") {
        const size = data instanceof Blob ? data.size : (data as ArrayBuffer).byteLength;
        if (size > maxMessageBytes) clientError(socket, CLOSE.tooBig, "too_big", conn);
        else clientError(socket, CLOSE.unsupportedData, "binary", conn);
        return;
      }
      // UTF-16 length ≤ UTF-8 bytes ≤ 3 × length: only measure bytes near the limit.
      if (
        data.length > maxMessageBytes ||
        (data.length * 3 > maxMessageBytes && encoder.encode(data).length > maxMessageBytes)
      ) {
        clientError(socket, CLOSE.tooBig, "too_big", conn);
        return;
      }
      let frame: unknown;
      try {
        frame = JSON.parse(data);
      } catch {
        clientError(socket, CLOSE.invalidPayload, "malformed", conn);
        return;
      }
      if (typeof frame !== "object" || frame === null || Array.isArray(frame)) {
        clientError(socket, CLOSE.invalidPayload, "malformed", conn);
        return;
      }
      if ((frame as Record<string, unknown>).frame_type === "ping" && conn) {
        hub.ping(conn);
        return;
      }
      clientError(socket, CLOSE.policyViolation, "unknown_frame", conn);
    };
    const gone = () => {
      if (!opened) {
        opened = true;
        opening--;
      }
      sockets.delete(socket);
      if (conn) hub.remove(conn);
    };
    socket.onclose = gone;
    socket.onerror = () => {}; // followed by close
    return response;
  };

  const catchUp = async (request: Request, url: URL): Promise<Response> => {
    if (!authorized(request, url)) {
      catchUps.inc({ outcome: "unauthorized" });
      return plain(401, "unauthorized: expected a valid bearer token", {
        "www-authenticate": 'Bearer realm="augur"',
      });
    }
    const rawSince = url.searchParams.get("since");
    const since = rawSince === null ? null : parseSince(rawSince);
    if (since === null) {
      catchUps.inc({ outcome: "bad_request" });
      return plain(
        400,
        `expected since=<ISO UTC datetime or epoch microseconds>, received ${
          JSON.stringify(rawSince)
        }`,
      );
    }
    let consumer: ConsumerType | undefined;
    const rawConsumer = url.searchParams.get("consumer");
    if (rawConsumer !== null) {
      const c = consumerOf(rawConsumer);
      if (!(CONSUMER_TYPES as readonly string[]).includes(c)) {
        catchUps.inc({ outcome: "bad_request" });
        return plain(400, c);
      }
      consumer = c as ConsumerType;
    }
    const rawLimit = url.searchParams.get("limit");
    const limit = rawLimit === null ? DEFAULT_LIMIT : Number(rawLimit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      catchUps.inc({ outcome: "bad_request" });
      return plain(400, `expected limit in 1..${MAX_LIMIT}, received ${JSON.stringify(rawLimit)}`);
    }
    const after = url.searchParams.get("after");
    if (!options.store) {
      catchUps.inc({ outcome: "unavailable" });
      return plain(503, "no store configured for catch-up");
    }
    let contexts;
    try {
      contexts = await options.store.contextsInRange({
        start: since,
        end: Number.MAX_SAFE_INTEGER,
      });
    } catch (error) {
      catchUps.inc({ outcome: "store_error" });
      logger.error("catch-up read failed", { error: (error as Error).message });
      return plain(503, "store unavailable");
    }
    let start = 0;
    if (after !== null) {
      const i = contexts.findIndex((c) => c.signal.signal_id === after);
      if (i >= 0) start = i + 1;
    }
    const lines: string[] = [];
    let truncated = false;
    for (let i = start; i < contexts.length; i++) {
      const c = contexts[i];
      if (consumer !== undefined && !router.routeContext(c).includes(consumer)) continue;
      if (lines.length === limit) {
        truncated = true;
        break;
      }
      lines.push(canonicalJson(c, KINDS.context, { floatDecimals }) + "\n");
    }
    catchUps.inc({ outcome: "ok" });
    return new Response(lines.join(""), {
      status: 200,
      headers: {
        "content-type": "application/x-ndjson; charset=utf-8",
        "augur-truncated": String(truncated),
      },
    });
  };

  const handler = (request: Request): Response | Promise<Response> => {
    const url = new URL(request.url);
    if (request.method !== "GET") return plain(405, "expected GET", { allow: "GET" });
    switch (url.pathname) {
      case "/ws":
        return upgrade(request, url);
      case "/signals":
        return catchUp(request, url);
      case "/healthz":
        return plain(draining ? 503 : 200, draining ? "draining" : "ok");
      default:
        return plain(404, "not found: expected /ws, /signals or /healthz");
    }
  };

  const controller = new AbortController();
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    signal: controller.signal,
    onListen: () => {},
  }, handler);
  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname === "0.0.0.0" ? "127.0.0.1" : addr.hostname;
  logger.info("websocket endpoint listening", { hostname: addr.hostname, port: addr.port });

  const tickMs = options.tickMs ?? Math.max(5, Math.min(1000, hub.heartbeatIntervalMs / 2));
  const ticker = setInterval(() => hub.tick(), tickMs);

  let closing: Promise<void> | undefined;
  return {
    hostname: addr.hostname,
    port: addr.port,
    url: `ws://${host.includes(":") ? `[${host}]` : host}:${addr.port}/ws`,
    close: () =>
      closing ??= (async () => {
        draining = true;
        clearInterval(ticker);
        hub.close(CLOSE.goingAway, "server draining");
        for (const socket of sockets) {
          try {
            socket.close(CLOSE.goingAway, "server draining");
          } catch {
            // already closing
          }
        }
        controller.abort();
        await server.finished;
        logger.info("websocket endpoint closed");
      })(),
  };
}
