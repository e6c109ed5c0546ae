/**
 * Platform clients pointed at a fake HTTP server ({@linkcode startFakeHttp}): every API base
 * URL is the server's, logs are discarded, metrics go to a fresh registry and the Kalshi key
 * is absent — unless `options` says otherwise.
 *
 * @example
 * ```ts
 * import { startFakeHttp } from "./fake_http.ts";
 * import { kalshiAt, polymarketAt } from "./fake_market_clients.ts";
 * const server = startFakeHttp();
 * const polymarket = polymarketAt(server.url);
 * const kalshi = kalshiAt(server.url, { http: { random: () => 0 } });
 * await server.close();
 * ```
 * @module
 */
import { KalshiClient, type KalshiClientOptions } from "../../adapters/markets/kalshi_client.ts";
import {
  PolymarketClient,
  type PolymarketClientOptions,
} from "../../adapters/markets/polymarket_client.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";

/**
 * A Polymarket client whose Gamma, CLOB and Data-API URLs are all `url`.
 *
 * @example
 * ```ts
 * import { polymarketAt } from "./fake_market_clients.ts";
 * import { VirtualClock } from "../../adapters/markets/clock.ts";
 * const client = polymarketAt("http://127.0.0.1:8080", { clock: new VirtualClock(0) });
 * ```
 */
export function polymarketAt(
  url: string,
  options: PolymarketClientOptions = {},
): PolymarketClient {
  return new PolymarketClient({
    gammaUrl: url,
    clobUrl: url,
    dataUrl: url,
    registry: new MetricsRegistry(),
    logger: createLogger({ sink: () => {} }),
    ...options,
  });
}

/**
 * A Kalshi client at base URL `url` with no API key in its environment.
 *
 * @example
 * ```ts
 * import { kalshiAt } from "./fake_market_clients.ts";
 * const client = kalshiAt("http://127.0.0.1:8080", { requireKey: true });
 * ```
 */
export function kalshiAt(url: string, options: KalshiClientOptions = {}): KalshiClient {
  return new KalshiClient({
    baseUrl: url,
    env: () => undefined,
    registry: new MetricsRegistry(),
    logger: createLogger({ sink: () => {} }),
    ...options,
  });
}
