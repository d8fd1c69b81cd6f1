import { Client } from "../../src/index.js";
import { runChild } from "../child-process.js";
import type { BenchContext, Scenario } from "../context.js";
import { dropSchema, freshSchema, payload } from "../database.js";
import type { Row } from "../report.js";
import { rate, roundSeconds } from "../report.js";
import { percentiles } from "../stats.js";
import { type StartTimes, wallClockMs } from "../tasks/task.js";

const fixedRate = 1000;
const producers = 8;

/**
 * latency_polling / latency_replication: a consumer with default settings runs in a child
 * process while producers here enqueue autocommit jobs, first at a fixed 1,000 jobs/s, then
 * as fast as 8 connections go. A job's latency runs from its commit (the enqueue's reply)
 * to its handler's start, both read from the wall clock with sub-millisecond precision.
 */
function latencyScenario(mode: "polling" | "replication"): Scenario {
  const scenario = mode === "polling" ? "latency_polling" : "latency_replication";
  // Polling is also measured woken by NOTIFY, its documented alternative (docs/architecture.md).
  const wakeups = mode === "polling" ? [false, true] : [false];
  return {
    steps: () => wakeups.length,
    async run(context) {
      const rows: Row[] = [];
      for (const listen of wakeups) rows.push(...(await measure(context, scenario, mode, listen)));
      return rows;
    },
  };
}

async function measure(
  context: BenchContext,
  scenario: "latency_polling" | "latency_replication",
  mode: "polling" | "replication",
  listen: boolean,
): Promise<Row[]> {
  const { pool, progress, url, options } = context;
  const how = listen ? ", woken by NOTIFY" : "";
  progress.step(
    `${scenario}${how}: ${options.latencySeconds} s at ${fixedRate}/s, then ${options.latencySeconds} s at full speed`,
  );
  const schema = await freshSchema(pool, scenario);
  const client = new Client(pool, { schema, notify: listen });
  const fixed = new Map<string, number>();
  const full = new Map<string, number>();
  let fixedSeconds = 0;
  let fullSeconds = 0;
  const started = await runChild<StartTimes>(
    { kind: "live-consumer", url, schema, name: "live", mode, listen },
    {
      cpuProfileDir: options.cpuProfileDir,
      onReady: async () => {
        fixedSeconds = await atFixedRate(client, options.latencySeconds, fixed);
        fullSeconds = await atFullSpeed(client, options.latencySeconds, full);
        return { type: "expect", count: fixed.size + full.size };
      },
    },
  );
  const row = (variant: string, committed: Map<string, number>, seconds: number): Row => {
    const latencies = started.flatMap(([id, at]) => {
      const commit = committed.get(id);
      return commit === undefined ? [] : [at - commit];
    });
    return {
      scenario,
      subject: "poutbox",
      variant: `${variant}${listen ? ", listen/notify" : ""}`,
      n: committed.size,
      seconds: roundSeconds(seconds),
      jobs_per_s: rate(committed.size, seconds),
      baseline_jobs_per_s: null,
      ratio: null,
      ...percentiles(latencies),
    };
  };
  const atFixed = row(`${fixedRate.toLocaleString("en-US")} jobs/s`, fixed, fixedSeconds);
  await dropSchema(pool, schema, { consumers: mode === "replication" ? ["live"] : [] });
  // The target is for default settings, so not for the NOTIFY variant.
  const limit = mode === "polling" ? 10 : 3;
  return [
    listen
      ? atFixed
      : { ...atFixed, target: `p50 <= ${limit} ms`, met: (atFixed.p50_ms ?? Number.POSITIVE_INFINITY) <= limit },
    row(`full speed, ${producers} connections`, full, fullSeconds),
  ];
}

export const latencyPolling = latencyScenario("polling");
export const latencyReplication = latencyScenario("replication");

/**
 * Enqueues at `fixedRate` for `seconds`: each millisecond tick sends the jobs that are due,
 * without waiting for earlier ones, over the pool's connections. Returns the seconds taken.
 */
async function atFixedRate(client: Client, seconds: number, committed: Map<string, number>): Promise<number> {
  const total = Math.round(fixedRate * seconds);
  const pending = new Set<Promise<void>>();
  let sent = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * fixedRate));
      for (; sent < due; sent++) {
        const job = client.enqueue(payload(sent)).then((id) => {
          committed.set(String(id), wallClockMs());
          pending.delete(job);
        });
        pending.add(job);
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  await Promise.all(pending);
  return (performance.now() - started) / 1000;
}

/** Enqueues from 8 connections as fast as they go for `seconds`. Returns the seconds taken. */
async function atFullSpeed(client: Client, seconds: number, committed: Map<string, number>): Promise<number> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let index = 0;
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (performance.now() < deadline) {
        const id = await client.enqueue(payload(index++));
        committed.set(String(id), wallClockMs());
      }
    }),
  );
  return (performance.now() - started) / 1000;
}
