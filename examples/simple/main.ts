// The modes of the Go Poutbox's examples/simple, one process each, on one database:
//
//   npx tsx examples/simple/main.ts --mode=postgres           # a database to try it on (no Docker), until Ctrl-C
//   npx tsx examples/simple/main.ts --mode=migrate            # create the outbox tables (once)
//   npx tsx examples/simple/main.ts --mode=consumer           # polling consumer   -> jobs.txt
//   npx tsx examples/simple/main.ts --mode=consumer-logical   # replication consumer -> jobs_logical_repl.txt
//   npx tsx examples/simple/main.ts --mode=client             # enqueue jobs, one every --interval ms
//   npx tsx examples/simple/main.ts --mode=maintenance        # partition maintenance on its own
//
// Build the package first (`npm run build`): the example imports "poutbox" as a user would.
// The database is DATABASE_URL, or the one --mode=postgres starts. Ctrl-C stops each process.
import { appendFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import pg from "pg";
import { Client, Consumer, Maintenance, migrate } from "poutbox";
import { startEmbeddedCluster } from "../../test/support/embedded-cluster.js";

interface OrderJob {
  orderId: number;
  email: string;
}

const localPort = 54329;
const localUrl = `postgres://postgres:postgres@127.0.0.1:${localPort}/postgres`;
const modes = ["postgres", "migrate", "client", "consumer", "consumer-logical", "maintenance"] as const;

const { values } = parseArgs({
  options: { mode: { type: "string" }, interval: { type: "string", default: "100" } },
});
const mode = values.mode as (typeof modes)[number];
if (!modes.includes(mode)) {
  process.stderr.write(`usage: examples/simple/main.ts --mode=${modes.join("|")} [--interval=ms]\n`);
  process.exit(2);
}

/** Resolves on the first Ctrl-C (or SIGTERM). */
const stopped = new Promise<void>((resolve) => {
  process.once("SIGINT", () => resolve());
  process.once("SIGTERM", () => resolve());
});

if (mode === "postgres") {
  const cluster = await startEmbeddedCluster({ port: localPort });
  console.log(`PostgreSQL 17 is listening: ${cluster.url} (the other modes use it when DATABASE_URL is unset)`);
  await stopped;
  await cluster.stop();
  process.exit(0);
}

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? localUrl, max: 4 });
pool.on("error", (error) => console.error(`pool: ${error.message}`));

try {
  if (mode === "migrate") {
    const { version, applied } = await migrate(pool);
    await pool.query("CREATE TABLE IF NOT EXISTS simple_orders (id serial PRIMARY KEY, email text NOT NULL)");
    console.log(`schema poutbox at migration ${version} (applied now: ${applied.join(", ") || "none"})`);
  } else if (mode === "client") {
    await runClient(Number(values.interval));
  } else if (mode === "consumer" || mode === "consumer-logical") {
    await runConsumer(mode === "consumer" ? "polling" : "replication");
  } else {
    await runMaintenance();
  }
} finally {
  await pool.end();
}

/** An order and its job in one transaction, every `interval` ms; every tenth job is scheduled 5 s ahead. */
async function runClient(interval: number): Promise<void> {
  const outbox = new Client<OrderJob>(pool);
  let running = true;
  void stopped.then(() => {
    running = false;
  });
  for (let n = 1; running; n++) {
    const tx = await pool.connect();
    try {
      await tx.query("BEGIN");
      const email = `customer${n}@example.com`;
      const { rows } = await tx.query("INSERT INTO simple_orders (email) VALUES ($1) RETURNING id", [email]);
      const runAt = n % 10 === 0 ? new Date(Date.now() + 5000) : undefined;
      const id = await outbox.enqueue({ orderId: rows[0].id, email }, { tx, topic: "order.created", runAt });
      await tx.query("COMMIT");
      console.log(`order ${rows[0].id}: job ${id}${runAt ? " (scheduled in 5 s)" : ""}`);
    } catch (error) {
      await tx.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      tx.release();
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** Appends every job it gets to a file, as the Go example does. */
async function runConsumer(consumerMode: "polling" | "replication"): Promise<void> {
  const file = consumerMode === "polling" ? "jobs.txt" : "jobs_logical_repl.txt";
  const consumer = new Consumer<OrderJob>(
    pool,
    async (jobs) => {
      const lines = jobs.map(
        (job) => `${job.id} order=${job.payload.orderId} email=${job.payload.email} attempt=${job.attempt}`,
      );
      await appendFile(file, `${lines.join("\n")}\n`);
      console.log(`delivered ${jobs.length} job(s) to ${file}, last ${jobs.at(-1)?.id}`);
    },
    { name: `simple-${consumerMode}`, mode: consumerMode },
  );
  consumer.on("leader", () => console.log(`leading consumer "${consumer.name}" (${consumerMode})`));
  consumer.on("standby", () => console.log("another process leads this consumer name; standing by"));
  consumer.on("error", (error) => console.error(`consumer: ${error.message}`));
  await consumer.start();
  await stopped;
  await consumer.stop();
}

/** Consumer leaders run maintenance by default; this runs it on its own, every 15 s. */
async function runMaintenance(): Promise<void> {
  const maintenance = new Maintenance(pool, { runInterval: 15_000 });
  maintenance.on("run", (report) => {
    const created = report.created.map((each) => each.name).join(", ") || "none";
    const dropped = report.dropped.map((each) => each.name).join(", ") || "none";
    console.log(`maintenance: created ${created}; dropped ${dropped}; kept ${report.skipped.length}`);
  });
  maintenance.on("error", (error) => console.error(`maintenance: ${error.message}`));
  maintenance.start();
  await stopped;
  await maintenance.stop();
}
