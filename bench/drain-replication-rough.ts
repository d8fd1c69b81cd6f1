// A rough drain figure for replication mode: N jobs waiting in a consumer's slot (committed
// while it was stopped, after its slot existed), no-op handler, jobs/s until all N are
// handled, against the best raw reader of a pgoutput slot that received the same changes.
// Two shapes: N single-job transactions (8 connections of autocommit enqueues) and N/1000
// transactions of 1,000 jobs (enqueueMany). Each drain runs in a child process of its own,
// so its peak RSS is its own. The raw reader runs twice: waking for every read, and pausing
// its socket for 1 ms after each read (fewer, larger reads: the faster one on a backlog).
// Then, live: a consumer and the raw readers while 8 connections enqueue single jobs (CPU per
// job, reads, latency under load); and the idle latency (commit of one job on an idle outbox
// to the handler's start). When replication-connection.ts exports a `readCoalescing` knob
// ({ enabled }), the consumer runs are measured with it off and on in the same run.
// `npx tsx bench/drain-replication-rough.ts [N] [batch sizes, e.g. 1000,5000] [rounds] [latency samples]`
// SCENARIOS=drain,live,idle (the default) runs only those; CPU_PROF_DIR=<dir> writes a CPU
// profile of each child process there.
import { fork } from "node:child_process";
import net from "node:net";
import pg from "pg";
import { startEmbeddedCluster } from "../dev/embedded-cluster.js";
import { Client, Consumer, migrate } from "../src/index.js";
import { publicationName, slotName } from "../src/replication/names.js";
import { dateToPgMicros } from "../src/replication/pg-time.js";
import * as connectionModule from "../src/replication/replication-connection.js";
import { encodeStandbyStatusUpdate } from "../src/replication/replication-messages.js";
import { ensurePublication } from "../src/replication/slot-admin.js";

type Shape = "single" | "many";

type Task =
  | { kind: "ours"; url: string; schema: string; name: string; batchSize: number; coalesce: boolean; n: number }
  | { kind: "raw"; url: string; schema: string; slot: string; coalesce: boolean; n: number; live?: boolean }
  | { kind: "idle"; url: string; schema: string; name: string; coalesce: boolean; samples: number }
  | { kind: "live"; url: string; schema: string; name: string; coalesce: boolean; n: number };

interface Live {
  readonly doneAt: number;
  /** Each job's created_at (its insert, by the server's clock) to its handler's start, in ms. */
  readonly latency: Percentiles;
  readonly cpuMs: number;
  readonly peakRssMb: number;
  readonly reads: number;
  readonly readKb: number;
}

interface Drained {
  readonly seconds: number;
  readonly firstJobMs: number;
  readonly peakRssMb: number;
  readonly reads?: number;
  readonly readKb?: number;
}

interface RawLive extends Drained {
  readonly doneAt: number;
  /** Each transaction's commit time (server clock) to the read of its Commit message, in ms. */
  readonly latency: Percentiles;
  readonly cpuMs: number;
}

interface Latency {
  /** From the enqueue's commit acknowledgement to the handler's start (may be negative). */
  readonly fromCommit: Percentiles;
  /** From sending the enqueue (an autocommit INSERT) to the handler's start. */
  readonly fromSend: Percentiles;
}

interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

/** Turns the coalescing of socket reads on or off, where the module has it. */
function setCoalescing(on: boolean): void {
  const knob = (connectionModule as unknown as { readCoalescing?: { enabled: boolean } }).readCoalescing;
  if (knob) knob.enabled = on;
  else if (on) throw new Error("replication-connection.ts has no readCoalescing to turn on");
}

if (process.argv[2] === "--child") {
  process.once("message", (task: Task) => {
    runTask(task).then(
      (result) => process.send?.(result, () => process.exit(0)),
      (error: Error) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
} else {
  await main();
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 100_000);
  const batchSizes = String(process.argv[3] ?? "1000,5000")
    .split(",")
    .map(Number);
  const rounds = Number(process.argv[4] ?? 1);
  const samples = Number(process.argv[5] ?? 40);
  const only = new Set((process.env.SCENARIOS ?? "drain,live,idle").split(","));
  const hasCoalescing = "readCoalescing" in connectionModule;
  const variants = hasCoalescing ? [false, true] : [false];
  const cluster = process.env.DATABASE_URL ? undefined : await startEmbeddedCluster();
  const url = process.env.DATABASE_URL ?? (cluster?.url as string);
  const pool = new pg.Pool({ connectionString: url, max: 12 });
  pool.on("error", () => {});
  try {
    for (const shape of only.has("drain") ? (["single", "many"] as const) : []) {
      const schema = `drain_repl_${shape}_${Date.now()}`;
      await migrate(pool, { schema });
      // Every reader's slot exists before the first job: a consumer's by starting it once
      // (then it has also caught up by polling), a raw reader's by SQL.
      const tasks: Task[] = [];
      for (let round = 0; round < rounds; round++) {
        for (const coalesce of inOrder([false, true], round)) {
          tasks.push({ kind: "raw", url, schema, slot: `raw_${coalesce ? "on" : "off"}_${round}`, coalesce, n });
          if (!variants.includes(coalesce)) continue;
          for (const batchSize of batchSizes) {
            const name = `b${batchSize}_${coalesce ? "on" : "off"}_${round}`;
            tasks.push({ kind: "ours", url, schema, name, batchSize, coalesce, n });
          }
        }
      }
      for (const task of tasks) if (task.kind === "ours") await createConsumerSlot(pool, schema, task.name);
      for (const task of tasks) {
        if (task.kind === "raw")
          await pool.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [task.slot]);
      }
      await waitForIdleSlots(pool);
      const fill = await prefill(pool, schema, shape, n);
      console.error(`${shape}: ${n} jobs enqueued in ${fill.toFixed(1)} s`);
      const results = new Map<Task, Drained>();
      for (const task of tasks) {
        const result = (await runChild(task)) as Drained;
        results.set(task, result);
        console.log(
          JSON.stringify({
            scenario: "drain_replication_rough",
            shape,
            reader: task.kind,
            coalesce: task.coalesce,
            ...(task.kind === "ours" ? { batchSize: task.batchSize } : {}),
            n,
            seconds: +result.seconds.toFixed(3),
            jobs_per_s: Math.round(n / result.seconds),
            first_job_ms: +result.firstJobMs.toFixed(1),
            peak_rss_mb: result.peakRssMb,
            ...(result.reads === undefined ? {} : { reads: result.reads, avg_read_kb: result.readKb }),
          }),
        );
        await waitForIdleSlots(pool);
      }
      // Ratios: each consumer run against the raw readers of its round.
      for (let round = 0; round < rounds; round++) {
        const inRound = tasks.filter((task) => (task.kind === "raw" ? task.slot : task.name).endsWith(`_${round}`));
        const rate = (task: Task) => n / (results.get(task) as Drained).seconds;
        const raw = new Map(inRound.filter((task) => task.kind === "raw").map((task) => [task.coalesce, rate(task)]));
        const best = Math.max(...raw.values());
        for (const task of inRound) {
          if (task.kind !== "ours") continue;
          console.log(
            JSON.stringify({
              scenario: "drain_replication_ratio",
              shape,
              round,
              batchSize: task.batchSize,
              coalesce: task.coalesce,
              ours_jobs_per_s: Math.round(rate(task)),
              raw_same_coalescing_jobs_per_s: Math.round(raw.get(task.coalesce) as number),
              ratio_same_coalescing: +(rate(task) / (raw.get(task.coalesce) as number)).toFixed(2),
              best_raw_jobs_per_s: Math.round(best),
              ratio_best_raw: +(rate(task) / best).toFixed(2),
            }),
          );
        }
      }
      await dropSlots(pool, [
        ...tasks.map((task) =>
          task.kind === "raw" ? task.slot : task.kind === "ours" ? slotName(schema, task.name) : "",
        ),
      ]);
      await pool.query(`DROP PUBLICATION IF EXISTS "${publicationName(schema)}"`);
      await pool.query(`DROP SCHEMA ${schema} CASCADE`);
    }
    // Live: one reader at a time keeps up with 8 connections enqueueing single jobs; what
    // reading costs shows as its CPU time per job, what it costs the jobs as their latency.
    for (let round = 0; only.has("live") && round < rounds; round++) {
      for (const coalesce of inOrder([false, true], round)) {
        for (const kind of ["raw", "ours"] as const) {
          if (kind === "ours" && !variants.includes(coalesce)) continue;
          const schema = `live_${kind}_${coalesce ? "on" : "off"}_${Date.now()}`;
          await migrate(pool, { schema });
          await ensurePublication(pool, schema, publicationName(schema));
          const slot = kind === "raw" ? "raw_live" : slotName(schema, "live");
          if (kind === "raw") await pool.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
          const task: Task =
            kind === "raw"
              ? { kind: "raw", url, schema, slot, coalesce, n, live: true }
              : { kind: "live", url, schema, name: "live", coalesce, n };
          let enqueued = { seconds: 0, at: 0 };
          const result = (await runChild(task, async () => {
            const seconds = await prefill(pool, schema, "single", n);
            enqueued = { seconds, at: Date.now() };
          })) as Live | RawLive;
          console.log(
            JSON.stringify({
              scenario: "live_replication_rough",
              reader: kind,
              coalesce,
              n,
              enqueue_jobs_per_s: Math.round(n / enqueued.seconds),
              lag_after_last_commit_ms: result.doneAt - enqueued.at,
              [kind === "raw" ? "commit_to_read_ms" : "insert_to_handler_ms"]: rounded(result.latency),
              cpu_ms_per_1000_jobs: +((result.cpuMs / n) * 1000).toFixed(1),
              peak_rss_mb: result.peakRssMb,
              reads: result.reads,
              avg_read_kb: "readKb" in result ? result.readKb : undefined,
            }),
          );
          await dropSlots(pool, [slot]);
          await pool.query(`DROP PUBLICATION IF EXISTS "${publicationName(schema)}"`);
          await pool.query(`DROP SCHEMA ${schema} CASCADE`);
        }
      }
    }
    for (let round = 0; only.has("idle") && round < rounds; round++) {
      for (const coalesce of inOrder(variants, round)) {
        const schema = `idle_${coalesce ? "on" : "off"}_${Date.now()}`;
        await migrate(pool, { schema });
        const task: Task = { kind: "idle", url, schema, name: "idle", coalesce, samples };
        const result = (await runChild(task)) as Latency;
        console.log(
          JSON.stringify({
            scenario: "idle_latency_replication",
            coalesce,
            samples,
            from_commit_ms: rounded(result.fromCommit),
            from_send_ms: rounded(result.fromSend),
          }),
        );
        await dropSlots(pool, [slotName(schema, "idle")]);
        await pool.query(`DROP PUBLICATION IF EXISTS "${publicationName(schema)}"`);
        await pool.query(`DROP SCHEMA ${schema} CASCADE`);
      }
    }
  } finally {
    await pool.end();
    await cluster?.stop();
  }
}

/** Odd rounds run the variants in reverse order, so that neither always goes first. */
function inOrder<T>(variants: T[], round: number): T[] {
  return round % 2 === 1 ? [...variants].reverse() : variants;
}

/** Starts a replication consumer once so that its slot exists, then stops it. */
async function createConsumerSlot(pool: pg.Pool, schema: string, name: string): Promise<void> {
  const consumer = new Consumer(pool, async () => {}, { schema, name, mode: "replication" });
  await consumer.start();
  try {
    await waitForSlot(pool, slotName(schema, name), consumer);
    await sleep(300);
  } finally {
    await consumer.stop();
  }
}

async function waitForSlot(pool: pg.Pool, slot: string, consumer: Consumer): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (consumer.failure) throw consumer.failure;
    const { rows } = await pool.query("SELECT active FROM pg_replication_slots WHERE slot_name = $1", [slot]);
    if (consumer.isLeader && rows[0]?.active === true) return;
    if (Date.now() > deadline) throw new Error(`slot ${slot} did not start streaming`);
    await sleep(20);
  }
}

/** Waits until no walsender holds a slot (a stopped reader's ends shortly after it). */
async function waitForIdleSlots(pool: pg.Pool): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM pg_replication_slots WHERE active");
    if (rows[0].n === 0) return;
    await sleep(20);
  }
  throw new Error("replication slots still active");
}

async function dropSlots(pool: pg.Pool, slots: string[]): Promise<void> {
  await waitForIdleSlots(pool);
  for (const slot of slots) {
    await pool.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", [
      slot,
    ]);
  }
}

/** Commits n jobs in the given shape; returns the seconds it took. */
async function prefill(pool: pg.Pool, schema: string, shape: Shape, n: number): Promise<number> {
  const client = new Client(pool, { schema });
  const started = performance.now();
  if (shape === "single") {
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < n) await client.enqueue({ i: next++ });
      }),
    );
  } else {
    for (let from = 0; from < n; from += 1000) {
      await client.enqueueMany(Array.from({ length: Math.min(1000, n - from) }, (_, i) => ({ i: from + i })));
    }
  }
  return (performance.now() - started) / 1000;
}

/** Runs a task in a child process; `ready` runs when the child says it is ready for jobs. */
function runChild(task: Task, ready?: () => Promise<void>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // CPU_PROF_DIR=<dir>: a .cpuprofile of every child there.
    const profile = process.env.CPU_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.CPU_PROF_DIR}`] : [];
    const child = fork(new URL(import.meta.url).pathname, ["--child"], {
      stdio: "inherit",
      execArgv: [...process.execArgv, ...profile],
    });
    let result: unknown;
    const timer = setTimeout(() => child.kill(), 300_000);
    child.on("message", (message) => {
      if ((message as { ready?: boolean }).ready) {
        ready?.().catch((error: Error) => {
          child.kill();
          reject(error);
        });
      } else {
        result = message;
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (result !== undefined) resolve(result);
      else reject(new Error(`${task.kind} child exited with ${code} and no result`));
    });
    child.send(task);
  });
}

async function runTask(task: Task): Promise<Drained | Latency | Live> {
  if (task.kind === "raw") return rawDrain(task);
  setCoalescing(task.coalesce);
  if (task.kind === "ours") return oursDrain(task);
  if (task.kind === "live") return live(task);
  return idleLatency(task);
}

async function live(task: Extract<Task, { kind: "live" }>): Promise<Live> {
  const pool = new pg.Pool({ connectionString: task.url, max: 4 });
  let seen = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const latencies: number[] = [];
  const consumer = new Consumer(
    pool,
    async (jobs) => {
      const now = performance.timeOrigin + performance.now();
      for (const job of jobs) latencies.push(now - job.createdAt.getTime());
      seen += jobs.length;
      if (seen >= task.n) done();
    },
    { schema: task.schema, name: task.name, mode: "replication" },
  );
  await consumer.start();
  await waitForSlot(pool, slotName(task.schema, task.name), consumer);
  await sleep(300);
  const reads = countReads();
  const cpu = process.cpuUsage();
  process.send?.({ ready: true });
  await finished;
  const doneAt = Date.now();
  const used = process.cpuUsage(cpu);
  const counted = reads();
  await consumer.stop();
  await pool.end();
  return {
    doneAt,
    latency: percentiles(latencies),
    cpuMs: (used.user + used.system) / 1000,
    peakRssMb: peakRssMb(),
    ...counted,
  };
}

async function oursDrain(task: Extract<Task, { kind: "ours" }>): Promise<Drained> {
  const reads = countReads();
  const pool = new pg.Pool({ connectionString: task.url, max: 4 });
  let seen = 0;
  let firstJob = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const consumer = new Consumer(
    pool,
    async (jobs) => {
      if (seen === 0) firstJob = performance.now();
      seen += jobs.length;
      if (seen >= task.n) done();
    },
    { schema: task.schema, name: task.name, mode: "replication", batchSize: task.batchSize },
  );
  const started = performance.now();
  await consumer.start();
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await consumer.stop();
  await pool.end();
  return { seconds, firstJobMs: firstJob - started, peakRssMb: peakRssMb(), ...reads() };
}

/**
 * Counts the reads of the socket that read the most bytes (the replication connection's),
 * by watching every socket's 'data' events.
 */
function countReads(): () => { reads: number; readKb: number } {
  const counts = new Map<net.Socket, { reads: number; bytes: number }>();
  const emit = net.Socket.prototype.emit;
  net.Socket.prototype.emit = function (this: net.Socket, event: string | symbol, ...args: unknown[]) {
    if (event === "data") {
      const count = counts.get(this) ?? { reads: 0, bytes: 0 };
      count.reads++;
      count.bytes += (args[0] as Buffer).length;
      counts.set(this, count);
    }
    return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
  } as typeof emit;
  return () => {
    const [top] = [...counts.values()].sort((a, b) => b.bytes - a.bytes);
    return top ? { reads: top.reads, readKb: +(top.bytes / top.reads / 1024).toFixed(1) } : { reads: 0, readKb: 0 };
  };
}

/**
 * The best raw reader of the same slot: counts Insert messages by their first byte, decodes
 * nothing, acknowledges once a second and when asked. With `coalesce`, pauses the socket
 * for 1 ms after every read.
 */
async function rawDrain(task: Extract<Task, { kind: "raw" }>): Promise<Drained | RawLive> {
  const client = new pg.Client({ connectionString: task.url, replication: "database" } as pg.ClientConfig);
  client.on("error", () => {}); // the socket is destroyed at the end, mid-stream
  const started = performance.now();
  await client.connect();
  const connection = (client as unknown as { connection: RawConnection }).connection;
  const socket = connection.stream;
  let inserts = 0;
  let firstJob = 0;
  let last: Buffer | undefined;
  let reads = 0;
  let bytes = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const ack = () => {
    if (!last) return;
    const lsn = last.readBigUInt64BE(1);
    connection.sendCopyFromChunk(
      encodeStandbyStatusUpdate({
        written: lsn,
        flushed: lsn,
        applied: lsn,
        clientTime: dateToPgMicros(Date.now()),
        replyRequested: false,
      }),
    );
  };
  const latencies: number[] = [];
  connection.on("copyData", ({ chunk }) => {
    if (chunk[0] === 0x77) {
      last = chunk;
      if (chunk[25] === 0x49) {
        if (inserts === 0) firstJob = performance.now();
        if (++inserts >= task.n) done();
      } else if (task.live && chunk[25] === 0x43) {
        // Commit: flags, commit LSN, end LSN, then the commit time (µs since 2000-01-01).
        const committed = Number(chunk.readBigInt64BE(43)) / 1000 + pgEpochMs;
        latencies.push(performance.timeOrigin + performance.now() - committed);
      }
    } else if (chunk[0] === 0x6b && chunk[17] !== 0) {
      ack();
    }
  });
  socket.on("data", (data: Buffer) => {
    reads++;
    bytes += data.length;
    if (task.coalesce) {
      socket.pause();
      setTimeout(() => socket.resume(), 1);
    }
  });
  const timer = setInterval(ack, 1000);
  const streaming = client
    .query(
      `START_REPLICATION SLOT "${task.slot}" LOGICAL 0/0 (proto_version '1', publication_names '"${publicationName(task.schema)}"')`,
    )
    .catch(() => undefined);
  let cpu: NodeJS.CpuUsage | undefined;
  if (task.live) {
    await sleep(300);
    reads = 0;
    bytes = 0;
    cpu = process.cpuUsage();
    process.send?.({ ready: true });
  }
  await finished;
  const doneAt = Date.now();
  const used = cpu && process.cpuUsage(cpu);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  ack();
  socket.destroy();
  await streaming;
  const drained = {
    seconds,
    firstJobMs: firstJob - started,
    peakRssMb: peakRssMb(),
    reads,
    readKb: +(bytes / reads / 1024).toFixed(1),
  };
  if (!used) return drained;
  return { ...drained, doneAt, latency: percentiles(latencies), cpuMs: (used.user + used.system) / 1000 };
}

const pgEpochMs = 946_684_800_000;

interface RawConnection {
  readonly stream: {
    on(event: "data", listener: (data: Buffer) => void): void;
    pause(): void;
    resume(): void;
    destroy(): void;
  };
  on(event: "copyData", listener: (message: { chunk: Buffer }) => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
}

async function idleLatency(task: Extract<Task, { kind: "idle" }>): Promise<Latency> {
  const pool = new pg.Pool({ connectionString: task.url, max: 6 });
  const client = new Client(pool, { schema: task.schema });
  const started = new Map<bigint, number>();
  let waiting: { id: bigint; resolve: () => void } | undefined;
  const consumer = new Consumer(
    pool,
    async (jobs) => {
      const now = performance.now();
      for (const job of jobs) {
        started.set(job.id, now);
        if (waiting?.id === job.id) waiting.resolve();
      }
    },
    { schema: task.schema, name: task.name, mode: "replication" },
  );
  await consumer.start();
  await waitForSlot(pool, slotName(task.schema, task.name), consumer);
  await sleep(300);
  const fromCommit: number[] = [];
  const fromSend: number[] = [];
  for (let i = 0; i < task.samples; i++) {
    await sleep(50 + Math.random() * 100);
    const sent = performance.now();
    const id = await client.enqueue({ i });
    const committed = performance.now();
    if (!started.has(id)) await new Promise<void>((resolve) => (waiting = { id, resolve }));
    fromCommit.push((started.get(id) as number) - committed);
    fromSend.push((started.get(id) as number) - sent);
  }
  await consumer.stop();
  await pool.end();
  return { fromCommit: percentiles(fromCommit), fromSend: percentiles(fromSend) };
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
  return { p50: at(50), p99: at(99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

function rounded(p: Percentiles): Percentiles {
  return { p50: +p.p50.toFixed(2), p99: +p.p99.toFixed(2), max: +p.max.toFixed(2) };
}
