import type { Client } from "../../src/index.js";
import { status } from "../../src/index.js";
import { quickConsumer } from "./quick-consumer.js";
import { recorder } from "./recorder.js";
import type { TestDatabase } from "./test-database.js";
import { waitFor } from "./wait-for.js";

/**
 * A schema in a known state, for the metrics tests. Consumer "mailer" (polling, ordering by
 * key) ran and stopped: two jobs went to dead letter at once (permanent failures), one job of
 * key `order-1` failed and waits an hour for its retry, holding back two later jobs of its key,
 * and three jobs succeeded. Then, with no consumer running, four jobs were enqueued (the
 * backlog) and three scheduled: two in an hour, one due already.
 */
export const workload = {
  consumer: "mailer",
  pendingJobs: 4,
  retrying: 1,
  blockedKeys: 1,
  waitingBehindKeys: 2,
  deadLetters: 2,
  heldOutcomes: 0,
  scheduled: { rows: 3, due: 1 },
  /** The retrying head and the two jobs waiting behind it: failed holds a blocked key's queue. */
  failed: { rows: 3, due: 0 },
  deadLetterRows: 2,
  /** 2 dead + 1 retrying + 2 behind it + 3 done + 4 pending. */
  immediateRows: 12,
} as const;

export async function runWorkload(db: TestDatabase, schema: string, client: Client): Promise<void> {
  const record = recorder<string>(async (jobs) =>
    jobs
      .filter((job) => job.payload !== "ok")
      .map((job) => ({ job, error: new Error(`refused ${job.payload}`), permanent: job.payload === "dies" })),
  );
  const consumer = quickConsumer(db.pool, record.handler, {
    schema,
    name: workload.consumer,
    ordering: "key",
    maxAttempts: 5,
    backoff: { base: 3_600_000, max: 3_600_000, jitter: 0 },
  });
  await consumer.start();
  try {
    await client.enqueueMany(["dies", "dies"]);
    await client.enqueue("retry", { key: "order-1" });
    await waitFor(async () => (await status(db.pool, { schema })).consumers[0]?.retrying === 1, {
      what: "the head of order-1 waiting for its retry",
    });
    await client.enqueue("ok", { key: "order-1" });
    await client.enqueue("ok", { key: "order-1" });
    await client.enqueueMany(["ok", "ok", "ok"]);
    await waitFor(
      async () => {
        const [mailer] = (await status(db.pool, { schema })).consumers;
        return mailer?.pendingJobs === 0 && mailer.deadLetters === 2 && mailer.waitingBehindKeys === 2;
      },
      { what: "the consumer through its jobs" },
    );
  } finally {
    await consumer.stop();
  }
  await client.enqueueMany(["later", "later", "later", "later"]);
  const inAnHour = new Date(Date.now() + 3_600_000);
  await client.enqueue("scheduled", { runAt: inAnHour });
  await client.enqueue("scheduled", { runAt: inAnHour });
  await client.enqueue("soon", { runAt: new Date(Date.now() + 200) });
  await waitFor(async () => (await status(db.pool, { schema })).tables.scheduled.due === 1, {
    what: "a scheduled job due",
  });
}
