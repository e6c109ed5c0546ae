import { assertEquals, assertMatch, assertRejects } from "../../helpers/assert.ts";
import { formatLockTable, lockCommand } from "../../../cli/lock.ts";
import { UsageError } from "../../../config/errors.ts";

Deno.test("lock table: aligned columns, age and ttl left in seconds", () => {
  const text = formatLockTable([
    {
      name: "dedup",
      holder: "replica-a",
      token: 42,
      acquiredAtMs: 1000,
      expiresAtMs: 31_000,
      observedAtMs: 13_300,
    },
    {
      name: "part.feature.07",
      holder: "b",
      token: 7,
      acquiredAtMs: 0,
      expiresAtMs: 500,
      observedAtMs: 900,
    },
  ]);
  const lines = text.split("\n");
  assertEquals(lines.length, 3);
  assertMatch(lines[0], /^NAME\s+HOLDER\s+TOKEN\s+AGE\s+TTL LEFT$/);
  assertMatch(lines[1], /^dedup\s+replica-a\s+42\s+12\.3s\s+17\.7s$/);
  assertMatch(lines[2], /^part\.feature\.07\s+b\s+7\s+0\.9s\s+0\.0s$/);
  assertEquals(lines[0].indexOf("HOLDER"), lines[1].indexOf("replica-a"));
  assertEquals(formatLockTable([]), "no locks held");
});

Deno.test("lock command: usage errors exit 2 before touching any server", async () => {
  await assertRejects(() => lockCommand.run([]), UsageError, "inspect or release");
  await assertRejects(() => lockCommand.run(["frob"]), UsageError, '"frob"');
  await assertRejects(() => lockCommand.run(["release"]), UsageError, "NAME");
  await assertRejects(() => lockCommand.run(["release", "dedup"]), UsageError, "--force");
  await assertRejects(
    () => lockCommand.run(["inspect", "a", "b"]),
    UsageError,
    'unexpected argument "b"',
  );
  await assertRejects(() => lockCommand.run(["inspect", "--bogus"]), UsageError, "--bogus");
});
