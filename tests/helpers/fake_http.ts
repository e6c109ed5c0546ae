/**
 * A local fake HTTP server (Deno.serve on port 0) for platform-client tests: routes by path
 * (and optional query subset) to a script of responses — recorded fixture files, JSON,
 * scripted errors (429 with Retry-After, 500, HTML pages, truncated bodies, hangs). The last
 * response of a script repeats. Every request is logged; `onRequest` lets a test stamp
 * requests with its fake clock.
 *
 * @example
 * ```ts
 * import { startFakeHttp } from "./fake_http.ts";
 * const server = startFakeHttp();
 * server.route("/markets", [{ status: 429, headers: { "retry-after": "2" } }, { json: [] }]);
 * const res = await fetch(`${server.url}/markets`);
 * console.log(res.status); // 429
 * await res.body?.cancel();
 * await server.close();
 * ```
 * @module
 */

/** One scripted response. */
export interface FakeResponse {
  /** HTTP status (default 200). */
  status?: number;
  /** Raw body. */
  body?: string;
  /** JSON body (serialized). */
  json?: unknown;
  /** Body read from this file path. */
  file?: string;
  /** Response headers. */
  headers?: Record<string, string>;
  /** Send only the first n characters of the body (a truncated JSON). */
  truncate?: number;
  /** Never answer (until the client aborts). */
  hang?: boolean;
}

/** A logged request. */
export interface FakeRequest {
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string>;
}

interface Route {
  path: string;
  query?: Record<string, string>;
  script: FakeResponse[];
  served: number;
}

/** A running fake server. */
export interface FakeHttp {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: FakeRequest[];
  /** Add a route (later routes win on ties); returns the route's served-count getter. */
  route(
    path: string,
    script: FakeResponse | FakeResponse[],
    query?: Record<string, string>,
  ): () => number;
  /** Called synchronously for every request. */
  onRequest?: (request: FakeRequest) => void;
  close(): Promise<void>;
}

/** Start a fake server on 127.0.0.1, port 0. */
export function startFakeHttp(): FakeHttp {
  const routes: Route[] = [];
  const requests: FakeRequest[] = [];
  const hanging = new Set<() => void>();
  const fileCache = new Map<string, string>();
  const fake: FakeHttp = {
    url: "",
    requests,
    route(path, script, query) {
      const r: Route = {
        path,
        query,
        script: Array.isArray(script) ? script : [script],
        served: 0,
      };
      routes.unshift(r);
      return () => r.served;
    },
    close: async () => {
      for (const release of hanging) release();
      await server.shutdown();
    },
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const u = new URL(req.url);
      const request: FakeRequest = {
        path: u.pathname,
        query: Object.fromEntries(u.searchParams),
        headers: Object.fromEntries(req.headers),
      };
      requests.push(request);
      fake.onRequest?.(request);
      const route = routes.find((r) =>
        r.path === u.pathname &&
        Object.entries(r.query ?? {}).every(([k, v]) => u.searchParams.get(k) === v)
      );
      if (!route) return new Response("no route", { status: 404 });
      const spec = route.script[Math.min(route.served, route.script.length - 1)];
      route.served++;
      if (spec.hang) {
        // released by close(); the client gives up on its own timeout
        await new Promise<void>((resolve) => hanging.add(resolve));
        return new Response("late", { status: 503 });
      }
      let body = spec.body ?? "";
      if (spec.json !== undefined) body = JSON.stringify(spec.json);
      if (spec.file) {
        if (!fileCache.has(spec.file)) fileCache.set(spec.file, await Deno.readTextFile(spec.file));
        body = fileCache.get(spec.file)!;
      }
      if (spec.truncate !== undefined) body = body.slice(0, spec.truncate);
      return new Response(body, {
        status: spec.status ?? 200,
        headers: { "content-type": "application/json", ...spec.headers },
      });
    },
  );
  (fake as { url: string }).url = `http://127.0.0.1:${server.addr.port}`;
  return fake;
}

/** Path of the shared market fixtures, relative to the repo root (`../shared/fixtures/markets`). */
export const FIXTURES_DIR: string = new URL("../../../shared/fixtures/markets", import.meta.url)
  .pathname;

/** True when the shared fixtures folder exists. */
export function haveFixtures(): boolean {
  try {
    return Deno.statSync(FIXTURES_DIR).isDirectory;
  } catch {
    return false;
  }
}

/** Absolute path of a fixture file. */
export function fixture(relative: string): string {
  return `${FIXTURES_DIR}/${relative}`;
}
