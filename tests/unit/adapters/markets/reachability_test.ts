import { assertRejects } from "../../../helpers/assert.ts";
import { checkReachable } from "../../../../adapters/markets/reachability.ts";
import { ConnectionError } from "../../../../config/errors.ts";
import { freePort } from "../../../helpers/servers.ts";

Deno.test("reachability: a listening host passes; a refused one is one clear ConnectionError", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    await checkReachable([`http://127.0.0.1:${port}`]);
  } finally {
    listener.close();
  }
  const closed = freePort();
  const error = await assertRejects(
    () => checkReachable([`https://127.0.0.1:${closed}/x`], { timeoutMs: 2000 }),
    ConnectionError,
    `cannot reach 127.0.0.1:${closed}`,
  );
  if (error.message.includes("\n")) throw new Error("expected one line");
});
