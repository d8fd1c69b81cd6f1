// A consumer in a process of its own, for the leadership tests: they start several of these,
// kill or pause them, and read what each one delivered.
//
//   node --import tsx test/support/consumer-process.ts --sink FILE [--database URL] [--schema NAME]
//     [--name NAME] [--sleep MS] [--batch-size N] [--leader-timeout MS] [--takeover-interval MS]
//     [--poll-interval MS] [--application-name NAME] [--mode polling|replication]
//     [--max-batch-bytes N] [--status-interval MS]
//
// The database is --database, or DATABASE_URL. The handler appends the id of every job it is
// given to the sink file, one a line, with one synchronous write per batch *before* it sleeps
// --sleep ms, so that a batch stays in flight (delivered but not yet committed) for a while.
//
// One line on stdout per event, which the parent reads (writes to a pipe are synchronous on
// Linux, so a line is out before the process does anything else):
//   READY                the consumer started (as leader or standby)
//   LEADER <epoch>       the consumer's `leader` event
//   STANDBY              the consumer's `standby` event
//   BATCH <n>            the handler started a batch of n jobs (after writing them to the sink)
//   BATCH_DONE           the handler is about to return
//   ERROR <message>      the consumer's `error` event, on one line
//   STOPPED              SIGTERM handled: the consumer stopped and the pool ended
import { appendFileSync } from "node:fs";
import { parseArgs } from "node:util";
import pg from "pg";
import { Consumer, type ConsumerMode } from "../../src/index.js";

const { values } = parseArgs({
  options: {
    database: { type: "string" },
    sink: { type: "string" },
    schema: { type: "string", default: "poutbox" },
    name: { type: "string", default: "default" },
    sleep: { type: "string", default: "0" },
    "batch-size": { type: "string", default: "10" },
    "leader-timeout": { type: "string", default: "1000" },
    "takeover-interval": { type: "string", default: "100" },
    "poll-interval": { type: "string", default: "5" },
    "application-name": { type: "string" },
    mode: { type: "string", default: "polling" },
    "max-batch-bytes": { type: "string" },
    "status-interval": { type: "string" },
  },
});

const database = values.database ?? process.env.DATABASE_URL;
const sink = values.sink;
if (!database || !sink) {
  process.stderr.write("consumer-process: --sink and --database (or DATABASE_URL) are required\n");
  process.exit(2);
}
const sleepMs = Number(values.sleep);

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const pool = new pg.Pool({ connectionString: database, application_name: values["application-name"] });
// An idle pooled connection cut by the server must not crash the process.
pool.on("error", (error) => say(`ERROR pool: ${oneLine(error.message)}`));

const consumer = new Consumer(
  pool,
  async (jobs) => {
    appendFileSync(sink, jobs.map((job) => `${job.id}\n`).join(""));
    say(`BATCH ${jobs.length}`);
    if (sleepMs > 0) await new Promise((resolve) => setTimeout(resolve, sleepMs));
    say("BATCH_DONE");
  },
  {
    schema: values.schema,
    name: values.name,
    batchSize: Number(values["batch-size"]),
    leaderTimeout: Number(values["leader-timeout"]),
    takeoverInterval: Number(values["takeover-interval"]),
    pollInterval: Number(values["poll-interval"]),
    reconnectDelay: 50,
    mode: values.mode as ConsumerMode,
    ...(values["max-batch-bytes"] === undefined ? {} : { maxBatchBytes: Number(values["max-batch-bytes"]) }),
    ...(values["status-interval"] === undefined ? {} : { statusInterval: Number(values["status-interval"]) }),
  },
);
consumer.on("leader", ({ epoch }) => say(`LEADER ${epoch}`));
consumer.on("standby", () => say("STANDBY"));
consumer.on("error", (error) => say(`ERROR ${oneLine(error.message)}`));

let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await consumer.stop();
    await pool.end();
    say("STOPPED");
    process.exit(0);
  })();
});

try {
  await consumer.start();
  say("READY");
} catch (error) {
  say(`ERROR start: ${oneLine((error as Error).message)}`);
  await pool.end();
  process.exit(1);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ");
}
