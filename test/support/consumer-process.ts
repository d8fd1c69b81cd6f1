// A consumer in a process of its own, for the leadership tests: they start several of these,
// kill or pause them, and read what each one delivered.
//
//   node --import tsx test/support/consumer-process.ts --sink FILE [--database URL] [--schema NAME]
//     [--name NAME] [--sleep MS] [--batch-size N] [--leader-timeout MS] [--takeover-interval MS]
//     [--poll-interval MS] [--application-name NAME] [--mode polling|replication]
//     [--max-batch-bytes N] [--status-interval MS] [--handler record|block|hang-once|chaos|float]
//     [--handler-timeout MS] [--shutdown-timeout MS] [--max-attempts N] [--slot-lost fail|catch-up]
//     [--maintenance on|off] [--gate FILE --hold-after N] [--ordering key --order-log FILE]
//
// Handlers (--handler), for the fault suite:
//   record     (default) append the batch's ids to the sink, then wait --sleep ms
//   block      append; the first batch then keeps the event loop busy for --sleep ms (no
//              timer, no I/O runs meanwhile)
//   hang-once  the first batch never settles and ignores its AbortSignal; later ones record
//   chaos      per job id, deterministic: id % 7 == 0 always fails (dead letter after
//              --max-attempts), id % 5 == 0 fails its first attempt; a batch of first
//              attempts holding an id % 11 == 0 throws; failures also name an id not in the
//              batch. Only the jobs handled successfully are appended to the sink.
//   float      as record, but the first batch also leaves a rejected promise nobody awaits
//   ordered    for --ordering key: id % 5 == 0 fails its first attempt; every delivery goes to
//              --order-log (`id key seq attempt ok`), the successes to the sink
//
// With --gate FILE, a record handler's batch is held, after it was appended to the sink and
// before it returns, for as long as FILE exists, once this process had handled --hold-after
// jobs before that batch: a test can then fault the consumer while a batch is known to be in
// flight, whatever the machine's speed, and let it go on by removing FILE.
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
//   RSS <bytes>          the process's peak resident set size so far, after each batch
//   STOPPED              SIGTERM handled: the consumer stopped and the pool ended
import { appendFileSync, existsSync } from "node:fs";
import { parseArgs } from "node:util";
import pg from "pg";
import { Consumer, type ConsumerMode, type Handler, type JobFailure, type SlotLostPolicy } from "../../src/index.js";

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
    handler: { type: "string", default: "record" },
    "handler-timeout": { type: "string" },
    "shutdown-timeout": { type: "string" },
    "max-attempts": { type: "string" },
    "slot-lost": { type: "string" },
    maintenance: { type: "string", default: "on" },
    gate: { type: "string" },
    ordering: { type: "string", default: "none" },
    "order-log": { type: "string" },
    "hold-after": { type: "string", default: "0" },
  },
});

const database = values.database ?? process.env.DATABASE_URL;
const sink = values.sink;
if (!database || !sink) {
  process.stderr.write("consumer-process: --sink and --database (or DATABASE_URL) are required\n");
  process.exit(2);
}
const sleepMs = Number(values.sleep);
const holdAfter = Number(values["hold-after"]);
let handled = 0;

async function holdAtGate(count: number): Promise<void> {
  const before = handled;
  handled += count;
  if (values.gate === undefined || before < holdAfter) return;
  while (existsSync(values.gate)) await new Promise((resolve) => setTimeout(resolve, 10));
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const pool = new pg.Pool({ connectionString: database, application_name: values["application-name"] });
// An idle pooled connection cut by the server must not crash the process.
pool.on("error", (error) => say(`ERROR pool: ${oneLine(error.message)}`));

let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
};
setInterval(sampleRss, 20).unref();

let batches = 0;
const record = (ids: readonly bigint[]) => appendFileSync(sink, ids.map((id) => `${id}\n`).join(""));
const handlers: Record<string, Handler> = {
  async record(jobs) {
    record(jobs.map((job) => job.id));
    say(`BATCH ${jobs.length}`);
    if (sleepMs > 0) await new Promise((resolve) => setTimeout(resolve, sleepMs));
    await holdAtGate(jobs.length);
  },
  async block(jobs) {
    record(jobs.map((job) => job.id));
    say(`BATCH ${jobs.length}`);
    const until = batches === 1 ? Date.now() + sleepMs : 0;
    while (Date.now() < until) {
      // Busy on purpose: nothing else runs in this process meanwhile.
    }
  },
  async "hang-once"(jobs) {
    if (batches === 1) {
      say(`BATCH ${jobs.length}`);
      await new Promise(() => {});
    }
    return handlers.record?.(jobs, { signal: new AbortController().signal });
  },
  async chaos(jobs) {
    say(`BATCH ${jobs.length}`);
    // Only batches of first attempts throw, so that the outcome of each job is fixed by its id.
    if (jobs.every((job) => job.attempt === 1) && jobs.some((job) => job.id % 11n === 0n)) {
      throw new Error("chaos: the whole batch fails");
    }
    const failures: JobFailure[] = [];
    const handled: bigint[] = [];
    for (const job of jobs) {
      if (job.id % 7n === 0n) failures.push({ job, error: new Error(`chaos: ${job.id} always fails`) });
      else if (job.id % 5n === 0n && job.attempt === 1) failures.push({ job: job.id, error: "chaos: first attempt" });
      else handled.push(job.id);
    }
    record(handled);
    // An id the batch does not hold: the consumer must ignore it.
    failures.push({ job: -1n, error: "chaos: not in this batch" });
    return failures;
  },
  /**
   * For ordered consumers: id % 5 == 0 fails its first attempt; every delivery is appended to
   * --order-log as `id key seq attempt ok` (one write per call, so the lines of processes
   * sharing the file keep the order they were handled in); successes also go to the sink.
   */
  async ordered(jobs) {
    say(`BATCH ${jobs.length}`);
    const failures: JobFailure[] = [];
    const lines: string[] = [];
    for (const job of jobs) {
      const fails = job.id % 5n === 0n && job.attempt === 1;
      if (fails) failures.push({ job, error: new Error("ordered: first attempt fails") });
      const { seq } = job.payload as { seq?: number };
      lines.push(`${job.id} ${job.key} ${seq ?? -1} ${job.attempt} ${fails ? 0 : 1}\n`);
    }
    if (values["order-log"]) appendFileSync(values["order-log"], lines.join(""));
    record(jobs.filter((job) => !failures.some((failure) => failure.job === job)).map((job) => job.id));
    if (sleepMs > 0) await new Promise((resolve) => setTimeout(resolve, sleepMs));
    return failures;
  },
  async float(jobs) {
    if (batches === 1) void Promise.reject(new Error("float: nobody awaits this"));
    return handlers.record?.(jobs, { signal: new AbortController().signal });
  },
};
const handler = handlers[values.handler];
if (!handler) {
  process.stderr.write(`consumer-process: unknown --handler ${values.handler}\n`);
  process.exit(2);
}

const consumer = new Consumer(
  pool,
  async (jobs, context) => {
    batches++;
    const result = await handler(jobs, context);
    sampleRss();
    say(`RSS ${peakRss}`);
    say("BATCH_DONE");
    return result;
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
    ...(values["handler-timeout"] === undefined ? {} : { handlerTimeout: Number(values["handler-timeout"]) }),
    ...(values["shutdown-timeout"] === undefined ? {} : { shutdownTimeout: Number(values["shutdown-timeout"]) }),
    ...(values["max-attempts"] === undefined ? {} : { maxAttempts: Number(values["max-attempts"]) }),
    ...(values["slot-lost"] === undefined ? {} : { slotLost: values["slot-lost"] as SlotLostPolicy }),
    ...(values.maintenance === "off" ? { maintenance: false as const } : {}),
    ...(values.ordering === "key" ? { ordering: "key" as const } : {}),
    backoff: { base: 20, max: 200, jitter: 0 },
    promoteInterval: 20,
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
