import { assertEquals } from "../../helpers/assert.ts";
import { Redis } from "ioredis";
import postgres from "postgres";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { needs, pgDatabase, startNats, startPostgres, startRedis } from "../../helpers/servers.ts";

Deno.test({
  name: "harness: nats-server starts, serves JetStream, survives SIGKILL + restart",
  ...needs("nats"),
  fn: async () => {
    const nats = await startNats();
    try {
      let nc = await connect({ servers: nats.url });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "probe", subjects: ["probe.>"] });
      await nc.close();
      await nats.kill();
      await nats.restart();
      nc = await connect({ servers: nats.url });
      const info = await (await jetstreamManager(nc)).streams.info("probe");
      assertEquals(info.config.name, "probe");
      await nc.close();
    } finally {
      await nats.stop();
    }
  },
});

Deno.test({
  name: "harness: durable redis-server keeps data across SIGKILL + restart",
  ...needs("redis"),
  fn: async () => {
    const redis = await startRedis();
    try {
      let client = new Redis(redis.url, { lazyConnect: true });
      await client.connect();
      await client.set("k", "v");
      client.disconnect();
      await redis.kill();
      await redis.restart();
      client = new Redis(redis.url, { lazyConnect: true });
      await client.connect();
      assertEquals(await client.get("k"), "v");
      client.disconnect();
    } finally {
      await redis.stop();
    }
  },
});

Deno.test({
  name: "harness: throwaway PostgreSQL cluster survives SIGKILL + restart; fresh databases",
  ...needs("postgres"),
  fn: async () => {
    const pg = await startPostgres();
    try {
      let sql = postgres(pg.url, { onnotice: () => {} });
      await sql`CREATE TABLE t (x int)`;
      await sql`INSERT INTO t VALUES (7)`;
      await sql.end();
      await pg.kill();
      await pg.restart();
      sql = postgres(pg.url, { onnotice: () => {} });
      assertEquals((await sql`SELECT x FROM t`)[0].x, 7);
      await sql.end();
    } finally {
      await pg.stop();
    }
    const db = await pgDatabase();
    try {
      const sql = postgres(db.url);
      assertEquals((await sql`SELECT current_database() AS d`)[0].d, db.name);
      await sql.end();
    } finally {
      await db.drop();
    }
  },
});
