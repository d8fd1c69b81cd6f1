// The Poutbox demo: `npm start`, flags after `--` (`npm start -- --help` lists them).
// Producers save orders with their outbox jobs in one transaction, rolling some back on purpose;
// a consumer (polling or logical replication) writes each delivered job to a file; the summary
// reads that file back and checks the promises. Exit status 1 when a job was lost or an
// unexpected one delivered (or the demo could not run), 0 otherwise.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { Client, Consumer } from "../src/index.js";
import {
  committedOrders,
  consumerName,
  createDemoSchemas,
  demoSchema,
  dropDemoSlot,
  resetDemoSchemas,
  shopSchema,
} from "./database.js";
import { createDeliveryLog, DeliveryCounts, deliveryHandler, readDeliveryLog } from "./delivery-log.js";
import { type EmbeddedServer, startEmbeddedServer } from "./embedded-server.js";
import { parseDemoOptions } from "./options.js";
import { type OrderJob, ProducerCounts, produceOrders } from "./producers.js";
import { showProgress } from "./progress.js";
import { kept, summarize, summaryText } from "./summary.js";

const options = parseDemoOptions(process.argv.slice(2));
// With --json, stdout carries the summary alone; everything else goes to stderr.
const say = (text: string) => (options.json ? process.stderr : process.stdout).write(`${text}\n`);

// Ctrl-C once: stop producing and deliver what committed. Again: stop waiting. npm and tsx
// pass the terminal's signal on to this process as well, so signals within a second of the
// first are that same Ctrl-C.
// Where notes go: on stderr, or above the live display while it runs.
let note = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const stopProducing = new AbortController();
const stopWaiting = new AbortController();
let firstSignalAt = 0;
function interrupt(): void {
  if (!stopProducing.signal.aborted) {
    firstSignalAt = Date.now();
    stopProducing.abort();
    note("stopping the producers; delivering what committed (Ctrl-C again to stop waiting)");
  } else if (Date.now() - firstSignalAt > 1000) {
    stopWaiting.abort();
  }
}
process.on("SIGINT", interrupt);
process.on("SIGTERM", interrupt);

let server: EmbeddedServer | undefined;
let pool: pg.Pool | undefined;
let consumer: Consumer<OrderJob> | undefined;
let status = 1;
try {
  // Empty counts as unset.
  const given = process.env.DATABASE_URL || undefined;
  const database = given ? "DATABASE_URL" : "embedded";
  if (!given) {
    say("starting a throw-away embedded PostgreSQL (set DATABASE_URL to use yours)...");
    server = await startEmbeddedServer();
  }
  const url = given ?? server?.url;
  pool = new pg.Pool({ connectionString: url, max: options.producers + 4, application_name: "poutbox-demo" });
  // An idle connection cut by the server must not crash the demo; the next query reports it.
  pool.on("error", () => {});

  await resetDemoSchemas(pool);
  const version = await createDemoSchemas(pool);
  await createDeliveryLog(options.out);
  const run = randomUUID().slice(0, 8);
  const name = consumerName(options.mode);
  const orders = options.jobs === 0 ? "orders until Ctrl-C" : `${options.jobs.toLocaleString("en-US")} orders`;
  say(
    [
      `Poutbox demo, ${options.mode} mode: ${orders} from ${options.producers} producers, ` +
        `${Math.round(options.rollbackRate * 100)}% rolled back on purpose`,
      `  database: ${database === "embedded" ? "embedded PostgreSQL" : "DATABASE_URL"}; outbox schema ${demoSchema} ` +
        `(migration ${version}); orders in ${shopSchema}.orders`,
      `  consumer "${name}" writes every delivered job to ${options.out}`,
    ].join("\n"),
  );

  const producerCounts = new ProducerCounts();
  const deliveryCounts = new DeliveryCounts();
  consumer = new Consumer<OrderJob>(pool, deliveryHandler(options.out, options.failRate, deliveryCounts), {
    name,
    schema: demoSchema,
    mode: options.mode,
    batchSize: options.batchSize,
    // Jobs failed on purpose come back within a second or so rather than the default backoff.
    backoff: { base: 100, max: 1000 },
    maxAttempts: 10,
  });
  consumer.on("error", (error) => note(`consumer: ${error.message} (it retries by itself)`));
  await consumer.start();

  const started = performance.now();
  let finished = started;
  let drained = false;
  const progress = showProgress(producerCounts, deliveryCounts);
  const plainNote = note;
  note = progress.log;
  try {
    await produceOrders(
      pool,
      new Client<OrderJob>(pool, { schema: demoSchema }),
      {
        run,
        orders: options.jobs,
        producers: options.producers,
        rate: options.rate,
        rollbackRate: options.rollbackRate,
        signal: stopProducing.signal,
      },
      producerCounts,
    );
    const deadline = Date.now() + options.drainTimeout * 1000;
    for (;;) {
      if (deliveryCounts.orders.size >= producerCounts.committed) {
        drained = true;
        break;
      }
      if (consumer.failure) throw consumer.failure;
      if (stopWaiting.signal.aborted || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    finished = performance.now();
  } finally {
    progress.stop();
    note = plainNote;
  }
  // Once stopped, the consumer has written and acknowledged every batch it took.
  await consumer.stop();

  const summary = summarize({
    mode: options.mode,
    run,
    committedOrders: await committedOrders(pool, run),
    rolledBack: producerCounts.rolledBack,
    retried: deliveryCounts.failed,
    lines: await readDeliveryLog(options.out),
    seconds: (finished - started) / 1000,
    interrupted: stopProducing.signal.aborted,
    drained,
    file: options.out,
    database,
  });
  await dropDemoSlot(pool, options.mode);
  say(summaryText(summary));
  if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  status = kept(summary) ? 0 : 1;
} catch (error) {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
} finally {
  await consumer?.stop();
  await pool?.end();
  await server?.stop();
}
process.exit(status);
