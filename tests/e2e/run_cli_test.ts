/**
 * Issue 5 must-show: bad `augur run` invocations through the real CLI (a real `augur`
 * process) fail before touching any server with one clear line on stderr and exit 2 —
 * never a stack trace.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { REPO_ROOT, runAugur } from "../helpers/augur_process.ts";

const MARKETS =
  '[[markets]]\nid = "kalshi_fed"\nplatform = "kalshi"\nplatform_market_id = "FED-26JUN"\n';
const NATS_BUS = '[backend]\nkind = "nats"\npartitions = 60\n';

/** A config dir holding exactly `files` (no copy of the repo's config). */
async function configDir(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "augur-run-cli-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

/**
 * Run `augur run …` and check: exit 2, exactly one `augur:` line naming the problem, no
 * stack trace, and the worker never started (nothing logged as JSON).
 */
async function expectUsageFailure(args: string[], expected: string[]): Promise<string> {
  // No server env: a test that reached a connection would fail differently (not exit 2).
  const run = await runAugur(args, {
    env: { NO_COLOR: "1", AUGUR_CONFIG_DIR: "", REDIS_URL: "", AUGUR_TIMESCALE_URL: "" },
  });
  const context = `augur ${args.join(" ")}\nstderr:\n${run.stderr}\nstdout:\n${run.stdout}`;
  assertEquals(run.code, 2, `exit code of ${context}`);
  const lines = run.stderr.split("\n").filter((l) => l.trim() !== "");
  const errorLines = lines.filter((l) => l.startsWith("augur: "));
  assertEquals(errorLines.length, 1, `one error line in ${context}`);
  for (const text of expected) assertStringIncludes(errorLines[0], text, context);
  assert(!/^\s+at /m.test(run.stderr), `no stack trace in ${context}`);
  assert(!run.stderr.includes('"msg":"worker started"'), `the worker never started: ${context}`);
  assertEquals(run.stdout, "", `nothing on stdout: ${context}`);
  return errorLines[0];
}

const dirs: string[] = [];
async function validDir(extra: Record<string, string> = {}): Promise<string> {
  const dir = await configDir({ "markets.toml": MARKETS, "bus.toml": NATS_BUS, ...extra });
  dirs.push(dir);
  return dir;
}

Deno.test("run: --replica 5/4 is refused (i must be < N)", async () => {
  const dir = await validDir();
  await expectUsageFailure(["run", "feature", "--replica", "5/4", "--config", dir], [
    "--replica",
    "0 <= i < N",
    '"5/4"',
  ]);
});

Deno.test("run: a malformed --replica is refused", async () => {
  const dir = await validDir();
  await expectUsageFailure(["run", "feature", "--replica", "one-of-four", "--config", dir], [
    '--replica: expected "i/N"',
    "one-of-four",
  ]);
});

Deno.test("run: --replica 1/7 with 60 partitions is refused with the valid divisors", async () => {
  const dir = await validDir();
  await expectUsageFailure(["run", "detector", "--replica", "1/7", "--config", dir], [
    "N=7 must divide bus.backend.partitions=60",
    "1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60",
  ]);
});

Deno.test("run: an unknown kind is refused with the nearest kind", async () => {
  const dir = await validDir();
  await expectUsageFailure(["run", "feture", "--config", dir], [
    'unknown kind "feture"',
    'did you mean "feature"',
  ]);
});

Deno.test("run: a missing kind is refused", async () => {
  await expectUsageFailure(["run"], ["missing <kind>"]);
});

Deno.test("run: --config pointing to a missing directory is refused", async () => {
  const missing = `${await Deno.makeTempDir()}/nope`;
  await expectUsageFailure(["run", "dedup", "--config", missing], [
    missing,
    "config directory not found",
  ]);
});

Deno.test("run: a config directory without markets.toml is refused", async () => {
  const dir = await configDir({ "bus.toml": NATS_BUS });
  dirs.push(dir);
  await expectUsageFailure(["run", "feature", "--replica", "1/4", "--config", dir], [
    "markets.toml",
    "required file is missing",
  ]);
});

Deno.test("run: a memory bus for a distributed kind points to `augur run engine`", async () => {
  const dir = await validDir({ "bus.toml": '[backend]\nkind = "memory"\n' });
  for (const args of [["dedup"], ["feature", "--replica", "0/4"], ["store"]]) {
    await expectUsageFailure(["run", ...args, "--config", dir], [
      `augur run ${args[0]} needs a shared bus`,
      'backend.kind is "memory"',
      "augur run engine",
    ]);
  }
});

Deno.test("run: --replica on a kind that is not partition-ordered is refused", async () => {
  const dir = await validDir();
  await expectUsageFailure(["run", "store", "--replica", "1/4", "--config", dir], [
    '--replica applies only to partition-ordered kinds, not "store"',
  ]);
});

Deno.test("run: a poller without --platform is refused", async () => {
  const dir = await validDir();
  await expectUsageFailure(["run", "poller", "--config", dir], ["--platform polymarket"]);
});

Deno.test("run: a typo in bus.toml names the file, the key and the nearest key", async () => {
  const dir = await validDir({ "bus.toml": '[backend]\nkind = "nats"\npartitons = 60\n' });
  await expectUsageFailure(["run", "dedup", "--config", dir], [
    "bus.toml",
    "backend.partitons",
    'did you mean "partitions"',
  ]);
});

Deno.test("run: an invalid --metrics-port is refused", async () => {
  const dir = await validDir();
  await expectUsageFailure(["run", "store", "--metrics-port", "70000", "--config", dir], [
    "--metrics-port",
    "70000",
  ]);
});

Deno.test("run: cleanup of the temporary config dirs", async () => {
  for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  assert(REPO_ROOT.length > 0);
});
