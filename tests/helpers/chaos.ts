/**
 * Chaos tooling for e2e tests: a paced load source, a supervised fleet of real `augur`
 * processes (restarted like an orchestrator would when they exit on their own, every
 * unexpected exit recorded), /healthz probes, and a scripted fault schedule.
 *
 * @example
 * ```ts
 * import { Fleet } from "./chaos.ts";
 * const fleet = new Fleet({ common: ["--config", "config"], env: {} });
 * fleet.start("store", ["run", "store"]);
 * await fleet.stopAll();
 * ```
 * @module
 */
import type { MarketSource, Tick } from "../../adapters/markets/source.ts";
import { type AugurProcess, spawnAugur } from "./augur_process.ts";
import { waitFor } from "./wait.ts";

/**
 * Wrap a source so it yields at most `snapshotsPerSecond` snapshots per second on average
 * (a steady load generator; the pace is the point, not a wait for a condition).
 *
 * @example
 * ```ts
 * import { pacedSource } from "./chaos.ts";
 * import { SimulatorSource } from "../../adapters/markets/simulator.ts";
 * const source = pacedSource(new SimulatorSource({ markets: 20, ticks: 5 }), {
 *   snapshotsPerSecond: 100,
 * });
 * for await (const tick of source) console.log(tick.messages.length);
 * ```
 */
export function pacedSource(
  source: MarketSource,
  options: { snapshotsPerSecond: number; onTick?: (tick: Tick) => void },
): MarketSource {
  let closed = false;
  return {
    description: `paced(${source.description}, ${options.snapshotsPerSecond}/s)`,
    close: () => {
      closed = true;
      return source.close();
    },
    async *[Symbol.asyncIterator]() {
      const started = performance.now();
      let emitted = 0;
      for await (const tick of source) {
        if (closed) return;
        const due = started + (emitted / options.snapshotsPerSecond) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        emitted += tick.messages.length;
        options.onTick?.(tick);
        yield tick;
      }
    },
  };
}

/** One process slot of the fleet (a name, its arguments, its current incarnation). */
export interface Member {
  readonly name: string;
  readonly args: string[];
  process: AugurProcess;
  /** Incarnations started (1 = never restarted). */
  starts: number;
  /** Exits we did not cause (code and time), restarted by the supervisor. */
  readonly unexpectedExits: { code: number; atMs: number; stderrTail: string }[];
  /** True while the test has stopped it on purpose (kill without restart). */
  held: boolean;
}

/** Options of {@linkcode Fleet}. */
export interface FleetOptions {
  /** Arguments appended to every process (`--config DIR --metrics-port 0`). */
  readonly common: string[];
  readonly env: Record<string, string>;
  /** Restart a process that exited on its own after this delay (default 500 ms). */
  readonly restartDelayMs?: number;
}

/**
 * A supervised set of augur processes. A process that exits without being asked to is
 * recorded in `unexpectedExits` and started again (the orchestrator's job in production).
 */
export class Fleet {
  readonly members = new Map<string, Member>();
  readonly #options: FleetOptions;
  #stopping = false;
  readonly #epoch = performance.now();

  constructor(options: FleetOptions) {
    this.#options = options;
  }

  /** Start a named process. */
  start(name: string, args: string[]): Member {
    const member: Member = {
      name,
      args,
      process: undefined as unknown as AugurProcess,
      starts: 0,
      unexpectedExits: [],
      held: false,
    };
    this.members.set(name, member);
    this.#spawn(member);
    return member;
  }

  #spawn(member: Member): void {
    const process = spawnAugur([...member.args, ...this.#options.common], {
      env: this.#options.env,
    });
    member.process = process;
    member.starts++;
    process.exit().then((code) => {
      if (member.process !== process || member.held || this.#stopping) return;
      member.unexpectedExits.push({
        code,
        atMs: Math.round(performance.now() - this.#epoch),
        stderrTail: process.stderr().slice(-1500),
      });
      setTimeout(() => {
        if (member.process === process && !member.held && !this.#stopping) this.#spawn(member);
      }, this.#options.restartDelayMs ?? 500);
    });
  }

  /** The member called `name`. */
  get(name: string): Member {
    const member = this.members.get(name);
    if (!member) throw new Error(`no fleet member "${name}"`);
    return member;
  }

  /** SIGKILL a member and start a fresh incarnation at once (a pod replaced). */
  async killAndRestart(name: string): Promise<void> {
    const member = this.get(name);
    member.held = true;
    const old = member.process;
    old.kill("SIGKILL");
    await old.exit();
    member.held = false;
    this.#spawn(member);
  }

  /** Milliseconds since the fleet was created. */
  elapsedMs(): number {
    return Math.round(performance.now() - this.#epoch);
  }

  /** The observability port the current incarnation logged (undefined until it listens). */
  metricsPort(name: string): number | undefined {
    const text = this.get(name).process.stderr();
    let port: number | undefined;
    for (const line of text.split("\n")) {
      if (!line.includes("observability endpoint listening")) continue;
      try {
        port = JSON.parse(line).port ?? port;
      } catch { /* not JSON */ }
    }
    return port;
  }

  /** GET `path` (e.g. `/healthz`) on a member's observability port; the HTTP status. */
  async probe(name: string, path = "/healthz"): Promise<number> {
    const port = this.metricsPort(name);
    if (port === undefined) return 0;
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        signal: AbortSignal.timeout(2000),
      });
      await response.body?.cancel();
      return response.status;
    } catch {
      return 0;
    }
  }

  /** Wait until every member answers `path` with 200. */
  async waitAllAnswer(path: string, timeoutMs: number): Promise<void> {
    await waitFor(async () => {
      const statuses = await Promise.all([...this.members.keys()].map((n) => this.probe(n, path)));
      return statuses.every((s) => s === 200);
    }, {
      timeoutMs,
      intervalMs: 250,
      message: `not every process answered ${path}: ${
        (await Promise.all(
          [...this.members.keys()].map(async (n) => `${n}=${await this.probe(n, path)}`),
        )).join(" ")
      }`,
    });
  }

  /** Sum of a metric's samples (optionally only lines containing `filter`) on a member. */
  async metric(name: string, metric: string, filter = ""): Promise<number> {
    const port = this.metricsPort(name);
    if (port === undefined) return 0;
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, {
        signal: AbortSignal.timeout(2000),
      })).text();
      let sum = 0;
      for (const line of text.split("\n")) {
        if (line.startsWith(metric) && line.includes(filter) && !line.startsWith("#")) {
          const head = line.slice(0, line.lastIndexOf(" "));
          if (head === metric || head.startsWith(`${metric}{`)) {
            sum += Number(line.slice(line.lastIndexOf(" ") + 1));
          }
        }
      }
      return sum;
    } catch {
      return 0;
    }
  }

  /** SIGTERM every member; resolves with each exit code. */
  async stopAll(): Promise<Map<string, number>> {
    this.#stopping = true;
    for (const m of this.members.values()) m.process.kill("SIGTERM");
    const codes = new Map<string, number>();
    for (const m of this.members.values()) codes.set(m.name, await m.process.exit());
    return codes;
  }

  /** SIGKILL everything (cleanup). */
  async killAll(): Promise<void> {
    this.#stopping = true;
    for (const m of this.members.values()) m.process.kill("SIGKILL");
    await Promise.all([...this.members.values()].map((m) => m.process.exit()));
  }
}

/** One scripted fault: at `atMs` after the schedule starts, run `action`. */
export interface ChaosStep {
  readonly atMs: number;
  readonly label: string;
  readonly action: () => Promise<void>;
}

/**
 * Run the steps in time order (each waits for its start time, then for the previous step).
 * Returns the log of what ran when.
 *
 * @example
 * ```ts
 * import { runSchedule } from "./chaos.ts";
 * const log = await runSchedule([{ atMs: 0, label: "noop", action: async () => {} }]);
 * console.log(log);
 * ```
 */
export async function runSchedule(
  steps: readonly ChaosStep[],
  options: { signal?: AbortSignal; onStep?: (line: string) => void } = {},
): Promise<string[]> {
  const started = performance.now();
  const log: string[] = [];
  for (const step of [...steps].sort((a, b) => a.atMs - b.atMs)) {
    if (options.signal?.aborted) break;
    const wait = started + step.atMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const at = ((performance.now() - started) / 1000).toFixed(1);
    await step.action();
    const line = `t=${at}s ${step.label} (${
      ((performance.now() - started) / 1000 - Number(at)).toFixed(1)
    }s)`;
    log.push(line);
    options.onStep?.(line);
  }
  return log;
}
