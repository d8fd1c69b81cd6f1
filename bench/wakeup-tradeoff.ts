// Measures the wake-up trade-off: polling every pollInterval (the default) against NOTIFY
// (`notify: true` on the client, `listen: true` on the consumer). Three figures each:
//   - enqueue rate, 8 connections of autocommit single enqueues (NOTIFY's commit-time lock);
//   - idle-to-first-job latency: commit of one job on an idle outbox to the handler's start;
//   - server CPU spent by an idle consumer, from /proc (embedded cluster only).
// `npx tsx bench/wakeup-tradeoff.ts [seconds per enqueue run] [latency samples]`
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import { startEmbeddedCluster } from "../dev/embedded-cluster.js";
import { Client, Consumer, type ConsumerOptions, migrate } from "../src/index.js";

const seconds = Number(process.argv[2] ?? 5);
const samples = Number(process.argv[3] ?? 40);
const cluster = process.env.DATABASE_URL ? undefined : await startEmbeddedCluster();
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? cluster?.url, max: 12 });
pool.on("error", () => {});

async function enqueueRate(notify: boolean): Promise<number> {
  const schema = `rate_${notify ? "notify" : "plain"}_${Date.now()}`;
  await migrate(pool, { schema });
  const client = new Client(pool, { schema, notify });
  const deadline = performance.now() + seconds * 1000;
  let count = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (performance.now() < deadline) {
        await client.enqueue({ n: count });
        count++;
      }
    }),
  );
  return count / seconds;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function idleLatency(mode: "polling" | "notify"): Promise<{ p50: number; p99: number }> {
  const schema = `latency_${mode}_${Date.now()}`;
  await migrate(pool, { schema });
  const client = new Client(pool, { schema, notify: mode === "notify" });
  const started = new Map<bigint, number>();
  const options: ConsumerOptions = mode === "notify" ? { schema, listen: true, pollInterval: 1000 } : { schema };
  const consumer = new Consumer(
    pool,
    async (jobs) => {
      for (const job of jobs) started.set(job.id, performance.now());
    },
    options,
  );
  await consumer.start();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
    const id = await client.enqueue({ i });
    const committed = performance.now();
    while (!started.has(id)) await new Promise((resolve) => setImmediate(resolve));
    latencies.push((started.get(id) as number) - committed);
  }
  await consumer.stop();
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** CPU milliseconds used by the postgres processes alive before and after `work`. */
async function serverCpu(work: () => Promise<void>): Promise<number> {
  const ticks = () => {
    const byPid = new Map<string, number>();
    for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        if (!stat.includes("(postgres)")) continue;
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        byPid.set(pid, Number(fields[11]) + Number(fields[12]));
      } catch {}
    }
    return byPid;
  };
  const before = ticks();
  await work();
  let used = 0;
  for (const [pid, after] of ticks()) used += after - (before.get(pid) ?? 0);
  return (used * 1000) / 100;
}

async function idleCpu(options: ConsumerOptions | undefined): Promise<number> {
  const schema = `idle_${Date.now()}`;
  await migrate(pool, { schema });
  const consumer = options ? new Consumer(pool, async () => {}, { schema, ...options }) : undefined;
  await consumer?.start();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const ms = await serverCpu(() => new Promise((resolve) => setTimeout(resolve, 5000)));
  await consumer?.stop();
  return ms / 5;
}

try {
  const plain = [await enqueueRate(false), await enqueueRate(false)];
  const notified = [await enqueueRate(true), await enqueueRate(true)];
  const rate = (runs: number[]) => Math.round(runs.reduce((a, b) => a + b) / runs.length);
  console.log(
    JSON.stringify({
      scenario: "enqueue_single_autocommit_8_connections",
      plain_per_s: rate(plain),
      notify_per_s: rate(notified),
      ratio: +(rate(notified) / rate(plain)).toFixed(2),
    }),
  );
  console.log(
    JSON.stringify({
      scenario: "idle_to_first_job_ms",
      polling_10ms: await idleLatency("polling"),
      listen_notify: await idleLatency("notify"),
    }),
  );
  if (!process.env.DATABASE_URL) {
    console.log(
      JSON.stringify({
        scenario: "idle_server_cpu_ms_per_s",
        no_consumer: await idleCpu(undefined),
        polling_10ms: await idleCpu({}),
        listen_1000ms: await idleCpu({ listen: true, pollInterval: 1000 }),
      }),
    );
  }
} finally {
  await pool.end();
  await cluster?.stop();
}
