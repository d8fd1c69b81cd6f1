// The README's quick start, runnable: `npm run build && npx tsx examples/quick-start.ts`.
// Uses DATABASE_URL when set, otherwise starts a throw-away embedded PostgreSQL.
import pg from "pg";
import { Client, Consumer, migrate } from "poutbox";
import { startEmbeddedCluster } from "../test/support/embedded-cluster.js";

const cluster = process.env.DATABASE_URL ? undefined : await startEmbeddedCluster();
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? cluster?.url });
// Without a listener, an idle connection the server closes (a restart) would end the process.
pool.on("error", (error) => console.error("idle database connection lost:", error.message));

try {
  await migrate(pool); // creates or upgrades the "poutbox" schema; safe to run at every start
  await pool.query("CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, email text NOT NULL)");

  const outbox = new Client<{ orderId: number; email: string }>(pool);

  // The order and its job commit together, or not at all.
  const tx = await pool.connect();
  try {
    await tx.query("BEGIN");
    const { rows } = await tx.query("INSERT INTO orders (email) VALUES ($1) RETURNING id", ["ada@example.com"]);
    const jobId = await outbox.enqueue(
      { orderId: rows[0].id, email: "ada@example.com" },
      { tx, topic: "order.created" },
    );
    await tx.query("COMMIT");
    console.log(`order ${rows[0].id} saved with job ${jobId}`);
  } catch (error) {
    await tx.query("ROLLBACK");
    throw error;
  } finally {
    tx.release();
  }

  // Outside a transaction, and in bulk (one statement, all or none).
  const reminder = await outbox.enqueue(
    { orderId: 1, email: "ada@example.com" },
    { runAt: new Date(Date.now() + 3_600_000) },
  );
  const bulk = await outbox.enqueueMany([
    { orderId: 2, email: "bob@example.com" },
    { orderId: 3, email: "eve@example.com" },
  ]);
  console.log(`scheduled job ${reminder}; bulk jobs ${bulk.join(", ")}`);

  // Deliver them: at least once, in commit order. (The reminder waits for its hour.)
  let delivered = 0;
  const consumer = new Consumer<{ orderId: number; email: string }>(pool, async (jobs) => {
    for (const job of jobs) console.log(`delivered job ${job.id} (attempt ${job.attempt}): email ${job.payload.email}`);
    delivered += jobs.length;
  });
  consumer.on("stopped", () => {
    if (consumer.failure) console.error("consumer stopped:", consumer.failure.message);
  });
  await consumer.start();
  // A worker runs until told to stop; this one stops after three deliveries, or on SIGTERM.
  const stop = () => consumer.stop();
  process.once("SIGTERM", stop);
  while (delivered < 3 && consumer.failure === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
  process.off("SIGTERM", stop);
  await consumer.stop();
} finally {
  await pool.end();
  await cluster?.stop();
}
