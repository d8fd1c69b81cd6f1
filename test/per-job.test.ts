// A handler made by perJob, in both modes and without ordering (ordering by key with perJob is
// covered by ordering-keys and ordering-property): each job starts as soon as one of the
// `concurrency` slots is free, a slow job holds up only its own slot, a job that throws or runs
// past handlerTimeout fails alone, and stop() lets the jobs in progress finish.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import {
  type ConsumerMode,
  defineTopics,
  type Handler,
  InvalidOptionError,
  type Job,
  listDeadLetters,
  perJob,
} from "../src/index.js";
import { needs } from "./support/needs.js";
import { quickConsumer } from "./support/quick-consumer.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
const modes: ConsumerMode[] = ["polling", "replication"];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const mode of modes) {
  describe(`perJob handler (${mode})`, mode === "replication" ? needs("logical-replication") : {}, () => {
    it("runs up to `concurrency` jobs at once; a slow job holds up only the batches after the two in hand", async () => {
      const { schema, client } = await db.freshSchema(`per_job_flow_${mode}`);
      let running = 0;
      let most = 0;
      const done: number[] = [];
      // Job 0 is held until the checks below are made, not for a fixed time: a timer could run
      // out between the wait for the 19 jobs and the checks on a loaded machine.
      let releaseSlow: () => void = () => {};
      const slow = new Promise<void>((resolve) => {
        releaseSlow = resolve;
      });
      const handler = perJob<{ n: number }>(
        async (job) => {
          running++;
          most = Math.max(most, running);
          // Job 0 is slow: with a batch handler, its batch (and the next) would wait for it.
          await (job.payload.n === 0 ? slow : sleep(5));
          running--;
          done.push(job.payload.n);
        },
        { concurrency: 4 },
      );
      const consumer = quickConsumer(db.pool, handler, { schema, mode, batchSize: 10 });
      await consumer.start();
      try {
        await client.enqueueMany(Array.from({ length: 60 }, (_, n) => ({ n })));
        // Its batch's other 9 jobs and the next batch's 10 go on; a third batch waits for the
        // first to be committed (at most two batches handled and not committed: the bound on
        // what a crash delivers again).
        await waitFor(() => done.length === 19, { what: "the two batches in hand but the slow job" });
        await sleep(200);
        assert.equal(done.length, 19);
        assert.ok(!done.includes(0), "the slow job is still running");
        releaseSlow();
        await waitFor(() => done.length === 60, { what: "every job" });
        assert.equal(most, 4);
        assert.deepEqual(
          [...done].sort((a, b) => a - b),
          Array.from({ length: 60 }, (_, n) => n),
        );
      } finally {
        releaseSlow();
        await consumer.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "default");
      }
    });

    it("fails a job that throws or runs past handlerTimeout on its own, and retries it", async () => {
      const { schema, client } = await db.freshSchema(`per_job_fail_${mode}`);
      const attempts = new Map<string, number[]>();
      const handler = perJob<{ label: string }>(
        async (job, { signal }) => {
          const seen = attempts.get(job.payload.label) ?? [];
          seen.push(job.attempt);
          attempts.set(job.payload.label, seen);
          if (job.attempt > 1) return;
          if (job.payload.label === "throws") throw new Error("refused by the mail server");
          if (job.payload.label === "hangs") {
            await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
          }
        },
        { concurrency: 3 },
      );
      const consumer = quickConsumer(db.pool, handler, { schema, mode, handlerTimeout: 300, maxAttempts: 3 });
      await consumer.start();
      try {
        await client.enqueueMany([{ label: "throws" }, { label: "hangs" }, { label: "fine" }]);
        await waitFor(() => attempts.get("throws")?.length === 2 && attempts.get("hangs")?.length === 2, {
          what: "both failed jobs retried",
        });
        assert.deepEqual(attempts.get("throws"), [1, 2]);
        assert.deepEqual(attempts.get("hangs"), [1, 2]);
        assert.deepEqual(attempts.get("fine"), [1]);
        assert.deepEqual(await listDeadLetters(db.pool, { schema }), []);
      } finally {
        await consumer.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "default");
      }
    });

    it("lets the jobs in progress finish on stop(), and a new consumer delivers the rest", async () => {
      const { schema, client } = await db.freshSchema(`per_job_stop_${mode}`);
      const finished = new Set<number>();
      let started = 0;
      const handler = perJob<{ n: number }>(
        async (job) => {
          started++;
          await sleep(100);
          finished.add(job.payload.n);
        },
        { concurrency: 5 },
      );
      const first = quickConsumer(db.pool, handler, { schema, mode, batchSize: 20 });
      await first.start();
      await client.enqueueMany(Array.from({ length: 40 }, (_, n) => ({ n })));
      await waitFor(() => started >= 5, { what: "jobs in progress" });
      await first.stop();
      // Every job that started was let finish: none was cut off by the stop.
      assert.equal(finished.size, started);
      const second = quickConsumer(db.pool, handler, { schema, mode, batchSize: 20 });
      await second.start();
      try {
        await waitFor(() => finished.size === 40, { what: "the rest, after the restart" });
      } finally {
        await second.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "default");
      }
    });
  });
}

describe("perJob handler: shutdown and schemas", () => {
  it("gives up a job still running when the shutdown grace is over, and delivers it again", async () => {
    const { schema, client } = await db.freshSchema("per_job_abandon");
    const attempts: number[] = [];
    let aborted = false;
    const handler = perJob(async (job, { signal }) => {
      attempts.push(job.attempt);
      if (attempts.length > 1) return;
      // The first delivery hangs until its signal fires.
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      aborted = true;
    });
    const first = quickConsumer(db.pool, handler, { schema, shutdownTimeout: 100 });
    await first.start();
    await client.enqueue({ n: 1 });
    await waitFor(() => attempts.length === 1, { what: "the first delivery" });
    await first.stop();
    assert.ok(aborted, "its signal fired when the grace period ended");
    const second = quickConsumer(db.pool, handler, { schema });
    await second.start();
    try {
      await waitFor(() => attempts.length === 2, { what: "the abandoned job, delivered again" });
      // Given up without an outcome: delivered again as the same attempt, not as a retry.
      assert.deepEqual(attempts, [1, 1]);
    } finally {
      await second.stop();
    }
  });

  it("sends a job its topic's schema refuses to dead letter without running the work", async () => {
    const { schema, client } = await db.freshSchema("per_job_schema");
    const topics = defineTopics({ "mail.send": z.object({ to: z.string() }) });
    const seen: string[] = [];
    const handler = perJob<typeof topics>(async (job) => {
      seen.push(job.payload.to);
    });
    const consumer = quickConsumer(db.pool, handler as Handler, { schema, topics });
    await consumer.start();
    try {
      await client.enqueue({ to: "a@example.com" }, { topic: "mail.send" });
      await client.enqueue({ to: 42 }, { topic: "mail.send" });
      await waitFor(async () => seen.length === 1 && (await listDeadLetters(db.pool, { schema })).length === 1, {
        what: "one delivered, one dead",
      });
      const [dead] = await listDeadLetters(db.pool, { schema });
      assert.deepEqual(dead?.payload, { to: 42 });
      assert.deepEqual(seen, ["a@example.com"]);
    } finally {
      await consumer.stop();
    }
  });
});

describe("perJob: options and use as a plain handler", () => {
  it("refuses a concurrency that is not a positive integer, and work that is not a function", () => {
    for (const concurrency of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => perJob(async () => {}, { concurrency }),
        (error: InvalidOptionError) => error instanceof InvalidOptionError && error.option === "concurrency",
      );
    }
    assert.throws(() => perJob("send" as unknown as () => Promise<void>), InvalidOptionError);
  });

  it("handles a whole batch when called as a batch handler, and reports the jobs that threw", async () => {
    const handler = perJob<{ n: number }>(
      async (job) => {
        if (job.payload.n === 2) throw new Error("two");
      },
      { concurrency: 2 },
    );
    const jobs = [1, 2, 3].map((n) => ({ id: BigInt(n), payload: { n } }) as unknown as Job<{ n: number }>);
    const failures = await handler(jobs, { signal: new AbortController().signal });
    assert.deepEqual(
      (failures ?? []).map((failure) => (failure.job as Job).id),
      [2n],
    );
  });
});
