import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Client, Consumer, InvalidOptionError, migrate, SchemaMissingError } from "../src/index.js";
import { recorder } from "./support/recorder.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase((created) => migrate(created.pool));

describe("Consumer (polling)", () => {
  it("delivers committed jobs, never rolled-back ones, in commit order", async () => {
    const client = new Client(db.pool);
    const record = recorder();
    const consumer = new Consumer(db.pool, record.handler, { name: "basics", batchSize: 7 });
    await consumer.start();
    try {
      const committed: bigint[] = [];
      for (let i = 0; i < 30; i++) {
        const tx = await db.pool.connect();
        await tx.query("BEGIN");
        const id = await client.enqueue({ i }, { tx });
        const keep = i % 3 !== 0;
        await tx.query(keep ? "COMMIT" : "ROLLBACK");
        tx.release();
        if (keep) committed.push(id);
      }
      await waitFor(() => record.deliveries.length >= committed.length, { what: "all committed jobs" });
      assert.deepEqual(record.ids(), committed);
      assert.ok(record.batches.every((batch) => batch.length <= 7));
      assert.equal(record.deliveries[0]?.attempt, 1);
    } finally {
      await consumer.stop();
    }
  });

  it("rejects bad options and a missing schema with typed errors", async () => {
    const noop = async () => {};
    assert.throws(
      () => new Consumer(db.pool, noop, { batchSize: 0 }),
      (e: unknown) => e instanceof InvalidOptionError && e.option === "batchSize",
    );
    assert.throws(
      () => new Consumer(db.pool, noop, { backoff: { jitter: 2 } }),
      (e: unknown) => e instanceof InvalidOptionError && e.option === "backoff.jitter",
    );
    assert.throws(() => new Consumer(db.pool, noop, { schema: "a;b" }), InvalidOptionError);
    assert.throws(() => new Consumer(db.pool, "nope" as never), InvalidOptionError);
    const tiny = db.newPool({ max: 1 });
    assert.throws(
      () => new Consumer(tiny, noop),
      (e: unknown) => e instanceof InvalidOptionError && e.option === "pool",
    );
    await tiny.end();
    const consumer = new Consumer(db.pool, noop, { schema: "not_there" });
    await assert.rejects(consumer.start(), SchemaMissingError);
    await consumer.stop();
  });

  it("with listen: true, wakes on NOTIFY from a notify: true client instead of waiting for the poll", async () => {
    await migrate(db.pool, { schema: "listening" });
    const client = new Client(db.pool, { schema: "listening", notify: true });
    const record = recorder();
    // A poll interval far longer than the test: only the notification can bring the job in time.
    const consumer = new Consumer(db.pool, record.handler, {
      schema: "listening",
      listen: true,
      pollInterval: 600_000,
    });
    await consumer.start();
    try {
      await waitFor(() => consumer.isLeader, { what: "leadership" });
      // The LISTEN connection opens with the first idle wait; a NOTIFY before it is lost.
      await waitFor(
        async () => {
          const { rows } = await db.pool.query(
            `SELECT 1 FROM pg_stat_activity
              WHERE datname = current_database() AND state = 'idle' AND query = 'LISTEN "poutbox.listening"'`,
          );
          return rows.length > 0;
        },
        { what: "the LISTEN session" },
      );
      const tx = await db.pool.connect();
      await tx.query("BEGIN");
      const [id] = await client.enqueueMany([{ woke: true }], { tx });
      await tx.query("COMMIT");
      tx.release();
      await waitFor(() => record.deliveries.some((job) => job.id === id), { timeout: 15_000, what: "notified job" });
      const single = await client.enqueue({ woke: "again" });
      await waitFor(() => record.deliveries.some((job) => job.id === single), { timeout: 15_000, what: "second job" });
    } finally {
      await consumer.stop();
    }
  });

  it("stop() is safe before start() and twice", async () => {
    const consumer = new Consumer(db.pool, async () => {});
    await consumer.stop();
    await consumer.stop();
  });
});
