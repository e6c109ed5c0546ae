/**
 * A TCP proxy for fault injection in integration tests: put it between a client and a real
 * server, then cut every live connection (an abrupt network failure or a killed peer, as
 * the server sees it), stall forwarding (a network partition that keeps sockets open), or
 * resume.
 *
 * @example
 * ```ts
 * import { startFaultProxy } from "./fault_proxy.ts";
 * const proxy = await startFaultProxy(4222);
 * // connect the client to 127.0.0.1:proxy.port …
 * proxy.cut();
 * await proxy.close();
 * ```
 * @module
 */

/** A running fault proxy. */
export interface FaultProxy {
  /** The local port clients connect to. */
  readonly port: number;
  /** Live client connections. */
  readonly connections: number;
  /** Close every live connection abruptly (new connections are still accepted). */
  cut(): void;
  /** Stop forwarding bytes in both directions (sockets stay open). */
  stall(): void;
  /** Forward again after {@linkcode FaultProxy.stall}. */
  resume(): void;
  /** Refuse new connections from now on (existing ones keep working until cut). */
  refuse(): void;
  /** Accept new connections again after {@linkcode FaultProxy.refuse}. */
  accept(): void;
  /** Stop listening and cut every connection. */
  close(): Promise<void>;
}

interface Pair {
  client: Deno.Conn;
  upstream: Deno.Conn;
}

/**
 * Start a proxy on a free 127.0.0.1 port forwarding to `127.0.0.1:targetPort`.
 *
 * @example
 * ```ts
 * import { startFaultProxy } from "./fault_proxy.ts";
 * const proxy = await startFaultProxy(6379);
 * proxy.stall();
 * proxy.resume();
 * await proxy.close();
 * ```
 */
export function startFaultProxy(
  targetPort: number,
  options: { targetHost?: string } = {},
): Promise<FaultProxy> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const pairs = new Set<Pair>();
  let stalled = false;
  let refusing = false;
  let resumeWaiters: (() => void)[] = [];
  const waitResumed = () =>
    stalled ? new Promise<void>((resolve) => resumeWaiters.push(resolve)) : Promise.resolve();

  const pump = async (from: Deno.Conn, to: Deno.Conn, pair: Pair) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        await waitResumed();
        if (!pairs.has(pair)) break;
        let off = 0;
        while (off < n) off += await to.write(buffer.subarray(off, n));
      }
    } catch { /* connection cut */ }
    drop(pair);
  };

  const drop = (pair: Pair) => {
    if (!pairs.delete(pair)) return;
    try {
      pair.client.close();
    } catch { /* closed */ }
    try {
      pair.upstream.close();
    } catch { /* closed */ }
  };

  const cutAll = () => {
    for (const pair of [...pairs]) drop(pair);
  };

  const accepting = (async () => {
    for await (const client of listener) {
      if (refusing) {
        client.close();
        continue;
      }
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect({
          hostname: options.targetHost ?? "127.0.0.1",
          port: targetPort,
        });
      } catch {
        client.close();
        continue;
      }
      const pair = { client, upstream };
      pairs.add(pair);
      pump(client, upstream, pair);
      pump(upstream, client, pair);
    }
  })().catch(() => {});

  return Promise.resolve({
    port,
    get connections() {
      return pairs.size;
    },
    cut: cutAll,
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      const waiters = resumeWaiters;
      resumeWaiters = [];
      for (const w of waiters) w();
    },
    refuse() {
      refusing = true;
    },
    accept() {
      refusing = false;
    },
    async close() {
      refusing = true;
      try {
        listener.close();
      } catch { /* closed */ }
      cutAll();
      stalled = false;
      for (const w of resumeWaiters.splice(0)) w();
      await accepting;
    },
  });
}
