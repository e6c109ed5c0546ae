/**
 * Real `augur` processes for e2e tests: `deno run -A main.ts <args>` from the repository root,
 * with stderr (JSON logs) captured, signals on demand and the exit code awaited.
 *
 * @example
 * ```ts
 * import { spawnAugur } from "./augur_process.ts";
 * const p = spawnAugur(["workers"]);
 * console.log(await p.exit());
 * ```
 * @module
 */
import { waitFor } from "./wait.ts";

/** The repository root (tests run from anywhere). */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** A running augur process. */
export interface AugurProcess {
  readonly pid: number;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Send a signal (ignored when the process already exited). */
  kill(signal?: Deno.Signal): void;
  /** Resolve with the exit code. */
  exit(): Promise<number>;
  /** Wait until stderr contains `text` (or a JSON log line with that msg). */
  waitForLog(text: string, timeoutMs?: number): Promise<void>;
}

/** Start `augur <args>` with `env` added to the environment. */
export function spawnAugur(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): AugurProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${REPO_ROOT}/main.ts`, ...args],
    cwd: options.cwd ?? REPO_ROOT,
    env: { AUGUR_LOG_LEVEL: "info", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  let out = "";
  const pump = async (stream: ReadableStream<Uint8Array>, append: (s: string) => void) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) append(chunk);
  };
  const done = Promise.all([
    pump(child.stderr, (s) => err += s),
    pump(child.stdout, (s) => out += s),
  ]);
  let exited = false;
  const status = child.status.then(async (s) => {
    exited = true;
    await done;
    return s.code;
  });
  return {
    pid: child.pid,
    stderr: () => err,
    stdout: () => out,
    kill: (signal = "SIGTERM") => {
      if (!exited) {
        try {
          child.kill(signal);
        } catch { /* already gone */ }
      }
    },
    exit: () => status,
    waitForLog: async (text, timeoutMs = 30_000) => {
      await waitFor(() => {
        if (exited && !err.includes(text)) {
          throw new Error(`process exited before logging "${text}":\n${err.slice(-3000)}`);
        }
        return err.includes(text);
      }, { timeoutMs, message: `log "${text}" not seen; stderr:\n${err.slice(-3000)}` });
    },
  };
}

/** Run `augur <args>` to completion. */
export async function runAugur(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = spawnAugur(args, options);
  const code = await p.exit();
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/**
 * Test processes use a small PostgreSQL pool (4, no overflow) unless the test sets
 * `[connection]` itself: parallel e2e tests start dozens of workers, and the default pool of
 * 20 + 10 per process would exhaust the server's max_connections.
 */
function withSmallPool(name: string, text: string): string {
  if (name !== "storage.toml" || /^\[connection\]/m.test(text)) return text;
  return `${text.trimEnd()}\n\n[connection]\npool_size = 4\nmax_overflow = 0\n`;
}

/**
 * Write a config directory: the repository's config/*.toml with `overrides` (file name →
 * full TOML text) replacing or adding files. Returns its path.
 */
export async function writeConfigDir(overrides: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "augur-config-" });
  for await (const entry of Deno.readDir(`${REPO_ROOT}/config`)) {
    if (entry.isFile && entry.name.endsWith(".toml")) {
      await Deno.copyFile(`${REPO_ROOT}/config/${entry.name}`, `${dir}/${entry.name}`);
    }
  }
  for (const [name, text] of Object.entries(overrides)) {
    await Deno.writeTextFile(`${dir}/${name}`, withSmallPool(name, text));
  }
  return dir;
}
