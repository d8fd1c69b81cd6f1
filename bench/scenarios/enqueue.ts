import type pg from "pg";
import { Client } from "../../src/index.js";
import type { Scenario } from "../context.js";
import { dropSchema, freshSchema, payload } from "../database.js";
import { peerRow, type Row, rate, ratio, roundSeconds } from "../report.js";
import { fastestOf } from "../stats.js";

/** Producers of enqueue_single: connections, each running its transactions one after the other. */
export const connections = 8;

/** Transactions in enqueue_single: a tenth of n, at least 2,000 (it is the slowest path). */
export function singleCount(n: number): number {
  return Math.max(2000, Math.round(n / 10));
}

/**
 * enqueue_single: 8 connections, each transaction inserts a business row and enqueues one
 * job. Baseline: the same transaction with a bare INSERT into a plain table instead.
 */
export const enqueueSingle: Scenario = {
  steps: ({ peers }) => 1 + peers.length,
  async run(context) {
    const { pool, progress } = context;
    const count = singleCount(context.options.n);
    progress.step(`enqueue_single: ${count} transactions, poutbox (with and without NOTIFY) and bare INSERT`);
    const schema = await freshSchema(pool, "enqueue");
    await createBusinessTables(pool, schema);
    const client = new Client(pool, { schema });
    // The NOTIFY wake-up's cost to producers, its documented trade-off (docs/architecture.md).
    const notifying = new Client(pool, { schema, notify: true });
    const best = await fastestOf({
      ours: async () => ({
        seconds: await inTransactions(pool, schema, count, (tx, index) =>
          client.enqueue(payload(index), { tx }).then(() => {}),
        ),
      }),
      notify: async () => ({
        seconds: await inTransactions(pool, schema, count, (tx, index) =>
          notifying.enqueue(payload(index), { tx }).then(() => {}),
        ),
      }),
      // Every job with a key of its own: the path that takes a key and writes the job.
      idempotent: async (round) => ({
        seconds: await inTransactions(pool, schema, count, (tx, index) =>
          client.enqueue(payload(index), { tx, idempotencyKey: `r${round}-${index}` }).then(() => {}),
        ),
      }),
      // The keys of round 0 again, their jobs still pending (no consumer runs): found, nothing written.
      duplicate: async () => ({
        seconds: await inTransactions(pool, schema, count, (tx, index) =>
          client.enqueue(payload(index), { tx, idempotencyKey: `r0-${index}` }).then(() => {}),
        ),
      }),
      baseline: async () => ({
        seconds: await inTransactions(pool, schema, count, async (tx, index) => {
          await tx.query(`INSERT INTO "${schema}".plain_jobs (payload) VALUES ($1::json)`, [
            JSON.stringify(payload(index)),
          ]);
        }),
      }),
    });
    const baseline = rate(count, best.baseline.seconds);
    const ours = rate(count, best.ours.seconds);
    const notify = rate(count, best.notify.seconds);
    const rows: Row[] = [
      {
        scenario: "enqueue_single",
        subject: "poutbox",
        n: count,
        seconds: roundSeconds(best.ours.seconds),
        jobs_per_s: ours,
        baseline_jobs_per_s: baseline,
        ratio: ratio(ours, baseline),
        target: ">= 0.90",
        met: ours / baseline >= 0.9,
      },
      {
        scenario: "enqueue_single",
        subject: "poutbox",
        variant: "notify: true",
        n: count,
        seconds: roundSeconds(best.notify.seconds),
        jobs_per_s: notify,
        baseline_jobs_per_s: baseline,
        ratio: ratio(notify, baseline),
      },
      ...(["idempotent", "duplicate"] as const).map((variant): Row => {
        const jobs = rate(count, best[variant].seconds);
        return {
          scenario: "enqueue_single",
          subject: "poutbox",
          variant: variant === "idempotent" ? "idempotencyKey, new" : "idempotencyKey, duplicate",
          n: count,
          seconds: roundSeconds(best[variant].seconds),
          jobs_per_s: jobs,
          baseline_jobs_per_s: baseline,
          ratio: ratio(jobs, baseline),
        };
      }),
    ];
    for (const peer of context.peers) {
      progress.step(`enqueue_single: ${peer.name}`);
      const seconds = await inTransactions(pool, schema, count, (tx, index) =>
        peer.enqueueInTransaction(tx, payload(index)),
      );
      await peer.clear();
      rows.push(peerRow("enqueue_single", peer, count, seconds, baseline));
    }
    await dropSchema(pool, schema);
    return rows;
  },
};

const bulkSize = 1000;

/** enqueue_bulk: enqueueMany of 1,000 per call. Baseline: INSERT ... SELECT FROM unnest. */
export const enqueueBulk: Scenario = {
  steps: ({ peers }) => 1 + peers.length,
  async run(context) {
    const { pool, progress } = context;
    const n = context.options.n;
    progress.step(`enqueue_bulk: ${n} jobs in calls of ${bulkSize}, poutbox and unnest`);
    const schema = await freshSchema(pool, "bulk");
    await createBusinessTables(pool, schema);
    const client = new Client(pool, { schema });
    const best = await fastestOf({
      ours: async () => ({ seconds: await inBatches(n, (batch) => client.enqueueMany(batch).then(() => {})) }),
      baseline: async () => ({
        seconds: await inBatches(n, async (batch) => {
          await pool.query(`INSERT INTO "${schema}".plain_jobs (payload) SELECT p FROM unnest($1::json[]) AS p`, [
            batch.map((job) => JSON.stringify(job)),
          ]);
        }),
      }),
    });
    const baseline = rate(n, best.baseline.seconds);
    const ours = rate(n, best.ours.seconds);
    const rows: Row[] = [
      {
        scenario: "enqueue_bulk",
        subject: "poutbox",
        batch_size: bulkSize,
        n,
        seconds: roundSeconds(best.ours.seconds),
        jobs_per_s: ours,
        baseline_jobs_per_s: baseline,
        ratio: ratio(ours, baseline),
        target: ">= 0.80",
        met: ours / baseline >= 0.8,
      },
    ];
    await dropSchema(pool, schema);
    for (const peer of context.peers) {
      progress.step(`enqueue_bulk: ${peer.name}`);
      const seconds = await inBatches(n, (batch) => peer.enqueueMany(batch));
      await peer.clear();
      rows.push({ ...peerRow("enqueue_bulk", peer, n, seconds, baseline), batch_size: bulkSize });
    }
    return rows;
  },
};

export async function createBusinessTables(pool: pg.Pool, schema: string): Promise<void> {
  // What a business transaction writes beside its job, and the plain table of the baselines.
  await pool.query(`
    CREATE TABLE "${schema}".orders (id bigserial PRIMARY KEY, email text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE "${schema}".plain_jobs (id bigserial PRIMARY KEY, payload json NOT NULL, created_at timestamptz NOT NULL DEFAULT now());`);
}

/** `count` transactions over 8 connections: BEGIN, an order row, `enqueue`, COMMIT. Seconds. */
export async function inTransactions(
  pool: pg.Pool,
  schema: string,
  count: number,
  enqueue: (tx: pg.PoolClient, index: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const tx = await pool.connect();
      try {
        for (let index = next++; index < count; index = next++) {
          await tx.query("BEGIN");
          await tx.query(`INSERT INTO "${schema}".orders (email) VALUES ($1)`, [payload(index).email]);
          await enqueue(tx, index);
          await tx.query("COMMIT");
        }
      } finally {
        tx.release();
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

/** n payloads in calls of 1,000, one after the other. Seconds. */
export async function inBatches(n: number, call: (batch: object[]) => Promise<void>): Promise<number> {
  let seconds = 0;
  for (let from = 0; from < n; from += bulkSize) {
    // Payload objects are built outside the timing: every subject gets the same objects.
    const batch = Array.from({ length: Math.min(bulkSize, n - from) }, (_, i) => payload(from + i));
    const started = performance.now();
    await call(batch);
    seconds += (performance.now() - started) / 1000;
  }
  return seconds;
}
