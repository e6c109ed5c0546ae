/**
 * Fencing of singleton output (DESIGN §10). On takeover the new active publishes a fence
 * message (header `Augur-Fence: <token>`) to each output subject and records
 * {token → stream position of that fence} in a registry without TTL. A consumer drops (and
 * counts in `augur_fence_rejected_total`) a message whose token is lower than that of a fence
 * that precedes it in the same stream. Consumers keep no token state of their own: they read the
 * registry, so a restart or a competing consumer gives the same answer.
 *
 * @example
 * ```ts
 * import { FenceGate, MemoryFenceRegistry } from "./fencing.ts";
 * const registry = new MemoryFenceRegistry();
 * await registry.record("augur_signals", 2, "10");
 * const gate = new FenceGate(registry);
 * await gate.accepts("augur_signals", "11", 1); // false: token 1 after the fence of token 2
 * ```
 * @module
 */
import { defaultRegistry, type MetricsRegistry } from "../adapters/observability/metrics.ts";
import { type Delivery, type EventBus, HEADER } from "../adapters/bus/types.ts";
import type { Store } from "../adapters/storage/types.ts";

/** One recorded fence. */
export interface Fence {
  readonly token: number;
  readonly position: string;
}

/** Where fences are recorded (NATS KV / Redis hash in production, memory in tests). */
export interface FenceRegistry {
  record(stream: string, token: number, position: string): Promise<void>;
  list(stream: string): Promise<Fence[]>;
}

/** In-process registry (engine, tests). */
export class MemoryFenceRegistry implements FenceRegistry {
  readonly #fences = new Map<string, Fence[]>();
  record(stream: string, token: number, position: string): Promise<void> {
    const list = this.#fences.get(stream) ?? [];
    if (!list.some((f) => f.token === token)) list.push({ token, position });
    this.#fences.set(stream, list);
    return Promise.resolve();
  }
  list(stream: string): Promise<Fence[]> {
    return Promise.resolve([...(this.#fences.get(stream) ?? [])]);
  }
}

/** Compare two stream positions (JetStream sequences or Redis `ms-seq` ids). */
export function comparePositions(a: string, b: string): number {
  const [a1, a2 = "0"] = a.split("-");
  const [b1, b2 = "0"] = b.split("-");
  const major = BigInt(a1) - BigInt(b1);
  if (major !== 0n) return major < 0n ? -1 : 1;
  const minor = BigInt(a2) - BigInt(b2);
  return minor === 0n ? 0 : minor < 0n ? -1 : 1;
}

/** Decides whether a consumer accepts a message carrying a fencing token. */
export class FenceGate {
  readonly #registry: FenceRegistry;
  readonly #rejected;

  constructor(registry: FenceRegistry, options: { metrics?: MetricsRegistry } = {}) {
    this.#registry = registry;
    this.#rejected = (options.metrics ?? defaultRegistry).counter(
      "augur_fence_rejected_total",
      "Messages dropped because a newer singleton fenced their token.",
      ["stream"],
    );
  }

  /**
   * True when a message at `position` of `stream` with fencing `token` is acceptable: no
   * fence with a higher token precedes it. The registry is read on every check (singleton
   * output is low-rate): a cached copy could miss the fence of a takeover that happened a
   * moment ago, which is exactly when a paused former active may still publish.
   */
  async accepts(stream: string, position: string, token: number): Promise<boolean> {
    const fences = await this.#registry.list(stream);
    const rejected = fences.some((f) =>
      f.token > token && comparePositions(f.position, position) < 0
    );
    if (rejected) this.#rejected.inc({ stream });
    return !rejected;
  }

  /**
   * Accept-check a delivery: messages without `Augur-Fence` pass; fence markers themselves
   * are reported as `"fence"` so the caller acks and skips them.
   */
  async check(delivery: Delivery): Promise<"accept" | "reject" | "fence"> {
    const raw = delivery.headers[HEADER.fence];
    if (raw === undefined) return "accept";
    if (delivery.payload.length === 0) return "fence";
    const token = Number(raw);
    if (!Number.isSafeInteger(token)) return "reject";
    return await this.accepts(delivery.stream, delivery.position, token) ? "accept" : "reject";
  }
}

/**
 * Fences kept in the Store's `worker_state` table (kind `fence`, key = stream): shared by
 * every process of a deployment and never expiring. Only the active singleton appends, so the
 * read-modify-write needs no lock of its own.
 */
export class StoreFenceRegistry implements FenceRegistry {
  readonly #store: Pick<Store, "loadState" | "saveState">;
  constructor(store: Pick<Store, "loadState" | "saveState">) {
    this.#store = store;
  }
  async record(stream: string, token: number, position: string): Promise<void> {
    const fences = await this.list(stream);
    if (fences.some((f) => f.token === token)) return;
    fences.push({ token, position });
    await this.#store.saveState({
      kind: "fence",
      partition: 0,
      key: stream,
      position,
      state: new TextEncoder().encode(JSON.stringify(fences)),
      token,
    });
  }
  async list(stream: string): Promise<Fence[]> {
    const entry = await this.#store.loadState("fence", 0, { key: stream });
    return entry ? JSON.parse(new TextDecoder().decode(entry.state)) as Fence[] : [];
  }
}

/**
 * On takeover: publish an empty fence message (`Augur-Fence: <token>`) to each output subject
 * and record {token → its stream position}.
 */
export async function publishFences(
  bus: EventBus,
  registry: FenceRegistry,
  options: { subjects: readonly string[]; token: number },
): Promise<void> {
  for (const subject of options.subjects) {
    const ack = await bus.publish({
      subject,
      payload: new Uint8Array(),
      headers: { [HEADER.fence]: String(options.token) },
    });
    await registry.record(ack.stream, options.token, ack.position);
  }
}

/** The `Augur-Fence` header stamped on a singleton's output. */
export function fenceHeader(token: number): Record<string, string> {
  return { [HEADER.fence]: String(token) };
}
