/**
 * Fuzz: random argv through the CLI dispatcher `main()` in-process. Every case exits 0, 1 (an
 * AugurError) or 2 (usage / config) with at most a one-line `augur: …` error first — never an
 * internal error or a stack trace. Worker-starting combinations cannot start: the default
 * config directory does not exist and `run` never gets a valid `--config`.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { Fuzz, fuzzPlan, FuzzTally, runAsync } from "../helpers/fuzz.ts";
import { main } from "../../cli/main.ts";

const BUDGET_MS = 5000;

const COMMANDS = ["run", "lock", "config", "workers", "help", "--help", "-h", "--version", "-V"];
const SUBCOMMANDS = [
  "inspect",
  "release",
  "check",
  "engine",
  "feature",
  "poller",
  "store",
  "dedup",
  "websocket",
  "dual-write",
  "nope",
];
const FLAGS = [
  "--json",
  "--force",
  "--config",
  "--replica",
  "--replica-id",
  "--platform",
  "--source",
  "--once",
  "--metrics-port",
  "--",
  "-",
  "-x",
  "--jsn",
  "--json=1",
  "--config=",
  "--=",
  "---",
  "--replica=1/0",
];
const VALUES = [
  "0/1",
  "1/0",
  "-1/2",
  "3/2",
  "a/b",
  "1/",
  "kalshi",
  "polymarket",
  "simulator",
  "simulator:abc",
  "simulator:1e999",
  "replay:/nonexistent/file.ndjson",
  "live",
  "0",
  "-5",
  "99999",
  "1e3",
  "NaN",
  "",
  " ",
  "part.feature.00",
];

Deno.test("fuzz cli flags: main() exits 0/1/2 with a one-line error, never an internal error", async () => {
  const plan = fuzzPlan("cli_flags", { seed: 0x5eed_0401, cases: 3000 });
  const f = new Fuzz(plan.seed);
  const dir = await Deno.makeTempDir({ prefix: "augur_fuzz_cli_" });
  const valid = `${dir}/valid`;
  const broken = `${dir}/broken`;
  await Deno.mkdir(valid);
  await Deno.mkdir(broken);
  for (const entry of Deno.readDirSync(new URL("../../config/", import.meta.url))) {
    if (!entry.name.endsWith(".toml")) continue;
    const text = Deno.readTextFileSync(new URL(`../../config/${entry.name}`, import.meta.url));
    await Deno.writeTextFile(`${valid}/${entry.name}`, text);
    await Deno.writeTextFile(`${broken}/${entry.name}`, text);
  }
  // Never a reachable backend: redis through an env var that is not set.
  await Deno.writeTextFile(
    `${valid}/bus.toml`,
    '[backend]\nkind = "redis"\n[redis]\nurl_env = "AUGUR_FUZZ_UNSET_URL"\n',
  );
  await Deno.writeTextFile(`${broken}/bus.toml`, "[backend]\nkindd = 1\n");
  const configs = [`${dir}/missing`, broken, `${dir}/valid/bus.toml`, ""];

  const previousDir = Deno.env.get("AUGUR_CONFIG_DIR");
  Deno.env.set("AUGUR_CONFIG_DIR", `${dir}/missing`);
  Deno.env.delete("AUGUR_FUZZ_UNSET_URL");
  const log = console.log;
  const error = console.error;
  const warn = console.warn;
  const tally = new FuzzTally();
  try {
    for (let i = 0; i < plan.cases; i++) {
      const argv: string[] = [];
      if (f.chance(0.2)) argv.push("--config", f.pick(configs));
      const r0 = f.int(10);
      argv.push(
        r0 < 7 ? f.pick(COMMANDS.slice(0, 4)) : r0 < 9 ? f.pick(COMMANDS) : f.string().slice(0, 30),
      );
      const isRun = argv.includes("run");
      const n = f.int(6);
      for (let k = 0; k < n; k++) {
        const r = f.int(10);
        if (r < 3) argv.push(f.pick(SUBCOMMANDS));
        else if (r < 7) argv.push(f.pick(FLAGS));
        else if (r < 9) argv.push(f.pick(VALUES));
        else argv.push(f.string().slice(0, 50));
      }
      // `--config <valid>` only where nothing can start (config check, workers, lock).
      if (!isRun && f.chance(0.3)) argv.push("--config", valid);
      if (isRun) {
        for (let k = 0; k < argv.length; k++) {
          if (argv[k] === valid || argv[k].includes(valid)) argv[k] = `${dir}/missing`;
        }
      }
      const out: string[] = [];
      const err: string[] = [];
      console.log = (...a: unknown[]) => void out.push(a.map(String).join(" "));
      console.error = (...a: unknown[]) => void err.push(a.map(String).join(" "));
      console.warn = (...a: unknown[]) => void err.push(a.map(String).join(" "));
      let outcome;
      try {
        outcome = await runAsync(() => main(argv), BUDGET_MS);
      } finally {
        console.log = log;
        console.error = error;
        console.warn = warn;
      }
      const shown = JSON.stringify(argv);
      assert(outcome.ok, `main threw for ${shown}: ${outcome.ok ? "" : outcome.error}`);
      const code = outcome.value;
      const stderr = err.join("\n");
      assert([0, 1, 2].includes(code), `exit ${code} for ${shown}`);
      assert(!stderr.includes("internal error"), `internal error for ${shown}:\n${stderr}`);
      assert(!/\n\s+at /.test(stderr), `stack trace for ${shown}:\n${stderr}`);
      if (code !== 0 && err.length > 0 && !(code === 2 && err.length === 0)) {
        const first = err[0].split("\n")[0];
        assert(first.startsWith("augur: "), `unexpected first error line for ${shown}: ${first}`);
        assert(first.length < 600, `overlong error line for ${shown}`);
      }
      if (code !== 0 && err.length === 0) {
        // exit 2 without an error is the top usage (no command)
        assert(out.join("\n").includes("Usage: augur"), `silent failure for ${shown}`);
      }
      tally.add(`exit${code}`);
    }
  } finally {
    if (previousDir === undefined) Deno.env.delete("AUGUR_CONFIG_DIR");
    else Deno.env.set("AUGUR_CONFIG_DIR", previousDir);
    await Deno.remove(dir, { recursive: true });
  }
  console.log(tally.summary("cli_flags"));
  assertEquals(tally.total, plan.cases);
  assert((tally.counts.get("exit0") ?? 0) > 10 && (tally.counts.get("exit2") ?? 0) > 10);
});
