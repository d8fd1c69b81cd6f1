import pg from "pg";
import { startEmbeddedCluster } from "../dev/embedded-cluster.js";
import { Consumer, migrate } from "../src/index.js";
import { leaderLockHolder } from "../src/consumer/leader-key.js";
const cluster = await startEmbeddedCluster();
const pool = new pg.Pool({ connectionString: cluster.url });
await migrate(pool, { schema: "race" });
let seen = 0;
for (let i = 0; i < 50; i++) {
  const c = new Consumer(pool, async () => {}, { schema: "race", name: "r", pollInterval: 5 });
  await c.start();
  while (!c.isLeader) await new Promise((r) => setTimeout(r, 5));
  await c.stop();
  if ((await leaderLockHolder(pool, "race", "r")) !== null) seen++;
}
console.log("lock still held right after stop():", seen, "of 50");
await pool.end();
await cluster.stop();
