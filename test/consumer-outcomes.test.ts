import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Consumer,
  type ConsumerOptions,
  type Handler,
  InvalidOptionError,
  type JobFailure,
  listDeadLetters,
  purgeDeadLetters,
  requeueDeadLetters,
} from "../src/index.js";
import { recorder } from "./support/recorder.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

/** Runs `work` with a started consumer of a fresh name, stopping it afterwards. */
async function withConsumer<T>(
  schema: string,
  handler: Handler,
  options: ConsumerOptions,
  work: (consumer: Consumer) => Promise<T>,
): Promise<T> {
  const consumer = new Consumer(db.pool, handler, {
    schema,
    name: "outcomes",
    pollInterval: 5,
    promoteInterval: 20,
    backoff: { base: 20, factor: 2, jitter: 0 },
    ...options,
  });
  await consumer.start();
  try {
    return await work(consumer);
  } finally {
    await consumer.stop();
  }
}

async function failedRow(schema: string, id: bigint) {
  const { rows } = await db.pool.query(
    `SELECT attempt, last_error, next_retry_at, failed_at FROM ${schema}.failed WHERE consumer = 'outcomes' AND id = $1`,
    [String(id)],
  );
  return rows[0];
}

describe("handler outcomes", () => {
  it("retries the jobs a handler returns as failed, storing the error, until they succeed", async () => {
    const { schema, client } = await db.freshSchema("outcomes");
    const [bad, good] = await client.enqueueMany(["bad", "good"]);
    let calls = 0;
    const record = recorder(async (jobs) => {
      const failing = jobs.filter((job) => job.payload === "bad" && job.attempt < 3);
      calls++;
      return failing.map((job) => ({ job, error: new Error(`failure ${job.attempt}`) }));
    });
    await withConsumer(schema, record.handler, {}, async () => {
      await waitFor(() => record.deliveries.filter((job) => job.id === bad).length === 3, { what: "third attempt" });
      const attempts = record.deliveries.filter((job) => job.id === bad).map((job) => job.attempt);
      assert.deepEqual(attempts, [1, 2, 3]);
      assert.equal(record.deliveries.filter((job) => job.id === good).length, 1);
      assert.ok(calls >= 3);
    });
  });

  it("stores the error text and the backoff schedule with each failure", async () => {
    const { schema, client } = await db.freshSchema("outcomes");
    const id = await client.enqueue("always fails");
    const record = recorder(async (jobs) => jobs.map((job) => ({ job: job.id, error: new Error("smtp said no") })));
    await withConsumer(schema, record.handler, { backoff: { base: 60_000, jitter: 0 } }, async () => {
      const row = await waitFor(() => failedRow(schema, id), { what: "failed row" });
      assert.equal(row.attempt, 1);
      assert.match(row.last_error, /^Error: smtp said no/);
      const delay = (row.next_retry_at as Date).getTime() - (row.failed_at as Date).getTime();
      assert.ok(Math.abs(delay - 60_000) < 1000, `retry after ${delay} ms, expected 60 s`);
    });
  });

  it("takes maxAttempts and backoff from retryByTopic for the jobs of those topics", async () => {
    const { schema, client } = await db.freshSchema("outcomes");
    const [patient] = await client.enqueueMany(["patient"], { topic: "payment.capture" });
    const [quick] = await client.enqueueMany(["quick"], { topic: "cache.refresh" });
    const [plain] = await client.enqueueMany(["plain"]);
    const record = recorder(async (jobs) => jobs.map((job) => ({ job, error: new Error(`no ${job.attempt}`) })));
    const options: ConsumerOptions = {
      maxAttempts: 2,
      retryByTopic: {
        "payment.capture": { maxAttempts: 4 },
        "cache.refresh": { maxAttempts: 1, backoff: { base: 60_000 } },
      },
    };
    await withConsumer(schema, record.handler, options, async () => {
      await waitFor(async () => (await listDeadLetters(db.pool, { schema })).length === 3, { what: "3 dead letters" });
    });
    const attempts = (id: bigint | undefined) => record.deliveries.filter((job) => job.id === id).length;
    assert.equal(attempts(patient), 4, "its topic's maxAttempts");
    assert.equal(attempts(quick), 1, "its topic's maxAttempts: dead at once");
    assert.equal(attempts(plain), 2, "no topic: the consumer's own");
    assert.throws(
      () => new Consumer(db.pool, record.handler, { retryByTopic: { "a.b": { backoff: { jitter: 3 } } } }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "retryByTopic.a.b.backoff.jitter",
    );
    assert.throws(
      () => new Consumer(db.pool, record.handler, { retryByTopic: [] as never }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "retryByTopic",
    );
  });

  it("fails the whole batch with the error a handler throws", async () => {
    const { schema, client } = await db.freshSchema("outcomes");
    const ids = await client.enqueueMany([1, 2, 3]);
    const record = recorder(async () => {
      throw new TypeError("handler exploded");
    });
    await withConsumer(schema, record.handler, { backoff: { base: 60_000 } }, async () => {
      for (const id of ids) {
        const row = await waitFor(() => failedRow(schema, id), { what: `failed row ${id}` });
        assert.match(row.last_error, /TypeError: handler exploded/);
      }
    });
  });

  it("aborts and fails a batch that runs past handlerTimeout", async () => {
    const { schema, client } = await db.freshSchema("outcomes");
    const id = await client.enqueue("slow");
    let aborted = false;
    const record = recorder(
      (_jobs, signal) =>
        new Promise<undefined>((resolve) => {
          signal.addEventListener("abort", () => {
            aborted = true;
            resolve(undefined);
          });
        }),
    );
    await withConsumer(schema, record.handler, { handlerTimeout: 100, backoff: { base: 60_000 } }, async () => {
      const row = await waitFor(() => failedRow(schema, id), { what: "timed-out job in failed" });
      assert.match(row.last_error, /timed out after 100 ms/);
      assert.ok(aborted, "the handler's signal was aborted");
    });
  });

  it("moves a job to dead_letter after maxAttempts, and requeues it from there", async () => {
    const { schema, client } = await db.freshSchema("outcomes");
    const id = await client.enqueue({ poison: true }, { topic: "poison" });
    let healed = false;
    const record = recorder(async (jobs) =>
      healed ? undefined : jobs.map((job) => ({ job, error: new Error(`attempt ${job.attempt} failed`) })),
    );
    await withConsumer(schema, record.handler, { maxAttempts: 3 }, async (consumer) => {
      const [dead] = await waitFor(
        async () => {
          const letters = await listDeadLetters(db.pool, { schema, consumer: consumer.name });
          return letters.length > 0 ? letters : undefined;
        },
        { what: "dead letter" },
      );
      assert.equal(dead?.id, id);
      assert.equal(dead?.attempts, 3);
      assert.equal(dead?.topic, "poison");
      assert.deepEqual(dead?.payload, { poison: true });
      assert.match(dead?.lastError ?? "", /attempt 3 failed/);
      assert.equal(record.deliveries.length, 3);
      assert.equal(await failedRow(schema, id), undefined);

      healed = true;
      assert.equal(await requeueDeadLetters(db.pool, { schema, consumer: consumer.name, ids: [id] }), 1);
      await waitFor(() => record.deliveries.length === 4, { what: "requeued delivery" });
      assert.equal(record.deliveries[3]?.id, id);
      assert.equal(record.deliveries[3]?.attempt, 1);
      assert.deepEqual(await listDeadLetters(db.pool, { schema, consumer: consumer.name }), []);
    });
  });

  for (const ordering of ["none", "key"] as const) {
    it(`a failure marked permanent goes to dead letter at once, the others are retried (ordering ${ordering})`, async () => {
      const { schema, client } = await db.freshSchema("outcomes");
      const [refused, flaky, after] = await client.enqueueMany(["refused", "flaky", "after"], { key: "k1" });
      const other = await client.enqueue("other", { key: "k2" });
      const record = recorder(async (jobs) =>
        jobs.flatMap((job): JobFailure[] => {
          if (job.payload === "refused") return [{ job, error: new Error("refused for good"), permanent: true }];
          if (job.payload === "flaky" && job.attempt < 2)
            return [{ job, error: new Error("try again"), permanent: false }];
          return [];
        }),
      );
      await withConsumer(schema, record.handler, { maxAttempts: 5, ordering }, async (consumer) => {
        const [dead] = await waitFor(
          async () => {
            const letters = await listDeadLetters(db.pool, { schema, consumer: consumer.name });
            return letters.length > 0 ? letters : undefined;
          },
          { what: "the dead letter" },
        );
        assert.equal(dead?.id, refused);
        assert.equal(dead?.attempts, 1, "no retry for a permanent failure");
        assert.match(dead?.lastError ?? "", /refused for good/);
        await waitFor(() => record.counts().has(other as bigint), { what: "the other key's job" });
        if (ordering === "none") {
          await waitFor(() => record.counts().get(flaky as bigint) === 2 && record.counts().has(after as bigint), {
            what: "the retried job and the last one",
          });
        } else {
          // Its key stays blocked behind the dead letter (deadLetterBlocksKey), the other runs.
          await new Promise((resolve) => setTimeout(resolve, 300));
          assert.equal(record.counts().has(flaky as bigint), false);
        }
        assert.equal(record.counts().get(refused as bigint), 1);
      });
    });
  }

  it("purges dead letters only when told which, or all", async () => {
    const { schema } = await db.freshSchema("outcomes");
    await db.pool.query(
      `INSERT INTO ${schema}.dead_letter (id, consumer, payload, attempts, last_error, created_at, failed_at, dead_at)
       VALUES (nextval('${schema}.job_id_seq'), 'purge-a', '1', 5, 'x', now(), now(), now() - interval '2 days'),
              (nextval('${schema}.job_id_seq'), 'purge-a', '2', 5, 'x', now(), now(), now()),
              (nextval('${schema}.job_id_seq'), 'purge-b', '3', 5, 'x', now(), now(), now())`,
    );
    await assert.rejects(purgeDeadLetters(db.pool, { schema }), { code: "INVALID_OPTION" });
    const dayAgo = new Date(Date.now() - 86_400_000);
    assert.equal(await purgeDeadLetters(db.pool, { schema, consumer: "purge-a", deadBefore: dayAgo }), 1);
    assert.equal((await listDeadLetters(db.pool, { schema, consumer: "purge-a" })).length, 1);
    assert.equal(await purgeDeadLetters(db.pool, { schema, all: true }), 2);
  });
});

describe("scheduled jobs", () => {
  it("are delivered not before runAt, and soon after", async () => {
    const { schema, client } = await db.freshSchema("outcomes");
    const runAt = new Date(Date.now() + 700);
    const id = await client.enqueue("later", { runAt });
    const seen = new Map<bigint, number>();
    const record = recorder(async (jobs) => {
      for (const job of jobs) seen.set(job.id, Date.now());
    });
    await withConsumer(schema, record.handler, { promoteInterval: 50 }, async (consumer) => {
      await waitFor(() => consumer.isLeader, { what: "leadership" });
      // Lateness counts from when a leader was there to deliver it (a loaded machine may take
      // longer than 700 ms to start one).
      const due = Math.max(runAt.getTime(), Date.now());
      const at = await waitFor(() => seen.get(id), { what: "scheduled job" });
      assert.ok(at >= runAt.getTime(), `delivered ${runAt.getTime() - at} ms early`);
      assert.ok(at - due < 1000, `delivered ${at - due} ms after it was due and a leader ran`);
    });
  });
});

describe("stop and faults", () => {
  it("stop() mid-batch lets the batch finish and commits it", async (t) => {
    const { schema, client } = await db.freshSchema("outcomes");
    await client.enqueueMany(Array.from({ length: 20 }, (_, i) => i));
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const record = recorder(() => gate.then(() => undefined));
    const consumer = new Consumer(db.pool, record.handler, {
      schema,
      name: "stop-mid-batch",
      batchSize: 20,
      pollInterval: 5,
    });
    t.after(() => consumer.stop());
    await consumer.start();
    await waitFor(() => record.deliveries.length === 20, { what: "batch in handler" });
    const stopping = consumer.stop();
    setTimeout(release, 100);
    await stopping;
    const { rows } = await db.pool.query(
      `SELECT position_id, window_snapshot, snapshot::text FROM ${schema}.consumers WHERE name = 'stop-mid-batch'`,
    );
    // The batch's outcome was committed: a restarted consumer gets nothing again.
    const again = recorder();
    const restarted = new Consumer(db.pool, again.handler, { schema, name: "stop-mid-batch", pollInterval: 5 });
    t.after(() => restarted.stop());
    await restarted.start();
    await waitFor(() => restarted.isLeader, { what: "restarted leader" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await restarted.stop();
    assert.equal(again.deliveries.length, 0, `redelivered after a clean stop: ${JSON.stringify(rows)}`);
  });

  it("stop() gives up a batch that outlives shutdownTimeout, which is then delivered again", async (t) => {
    const { schema, client } = await db.freshSchema("outcomes");
    const id = await client.enqueue("stuck");
    const stuck = recorder(() => new Promise<undefined>(() => {}));
    const consumer = new Consumer(db.pool, stuck.handler, {
      schema,
      name: "stop-stuck",
      pollInterval: 5,
      shutdownTimeout: 100,
    });
    t.after(() => consumer.stop());
    await consumer.start();
    await waitFor(() => stuck.deliveries.length === 1, { what: "stuck batch" });
    const started = Date.now();
    await consumer.stop();
    // shutdownTimeout is 100 ms; a stop() that waited for the handler would never return.
    assert.ok(Date.now() - started < 10_000);
    const again = recorder();
    const restarted = new Consumer(db.pool, again.handler, { schema, name: "stop-stuck", pollInterval: 5 });
    await restarted.start();
    try {
      await waitFor(() => again.deliveries.some((job) => job.id === id), { what: "redelivery" });
      assert.equal(again.deliveries[0]?.attempt, 1, "an abandoned batch does not use up an attempt");
    } finally {
      await restarted.stop();
    }
  });

  it("recovers from its connections being terminated mid-run and loses nothing", async () => {
    const { schema, client } = await db.freshSchema("outcomes");
    const pool = db.newPool({ application_name: "poutbox-consumer-under-test" });
    pool.on("error", () => {});
    const record = recorder(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
    });
    const consumer = new Consumer(pool, record.handler, {
      schema,
      name: "terminated",
      pollInterval: 5,
      batchSize: 10,
      reconnectDelay: 10,
    });
    const errors: Error[] = [];
    consumer.on("error", (error) => errors.push(error));
    await consumer.start();
    try {
      const ids: bigint[] = [];
      for (let round = 0; round < 5; round++) {
        ids.push(...(await client.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ round, i })))));
        await db.pool.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'poutbox-consumer-under-test'",
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await waitFor(() => ids.every((id) => record.counts().has(id)), { what: "every job after terminations" });
      await waitFor(() => errors.length > 0, { what: "the terminations to be reported" });
    } finally {
      await consumer.stop();
      await pool.end();
    }
  });
});
