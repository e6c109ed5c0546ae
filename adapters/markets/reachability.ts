/**
 * A quick reachability check of the platform APIs before a live run, so `augur run engine`
 * on a machine without network (or without DNS) says so in one line instead of retrying
 * every market with backoff.
 *
 * @example
 * ```ts
 * import { checkReachable } from "./reachability.ts";
 * await checkReachable(["https://gamma-api.polymarket.com"], { timeoutMs: 3000 });
 * ```
 * @module
 */
import { ConnectionError } from "../../config/errors.ts";

/** Default API bases of the live platforms (see the clients). */
export const PLATFORM_HOSTS: Readonly<Record<"polymarket" | "kalshi", readonly string[]>> = {
  polymarket: ["https://gamma-api.polymarket.com", "https://clob.polymarket.com"],
  kalshi: ["https://api.elections.kalshi.com"],
};

/**
 * Open a TCP connection to each URL's host:port within `timeoutMs`. Throws ConnectionError
 * naming the first unreachable host.
 */
export async function checkReachable(
  urls: readonly string[],
  options: { timeoutMs?: number } = {},
): Promise<void> {
  for (const url of urls) {
    const { hostname, port, protocol } = new URL(url);
    const target = { hostname, port: Number(port || (protocol === "https:" ? 443 : 80)) };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const conn = await Promise.race([
        Deno.connect(target),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("timed out")), options.timeoutMs ?? 3000);
        }),
      ]);
      conn.close();
    } catch (error) {
      throw new ConnectionError(
        `cannot reach ${hostname}:${target.port} (${
          (error as Error).message.split("\n")[0]
        }): no network? Run on recorded or simulated data instead: --source replay:FILE or --source simulator`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }
}
