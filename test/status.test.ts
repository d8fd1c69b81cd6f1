import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Consumer, countDeadLetters, removeConsumer, SchemaMissingError, status } from "../src/index.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots, replicationConsumer } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

function pollingConsumer(schema: string, handler: ReturnType<typeof recorder>["handler"], name = "mailer") {
  return new Consumer(db.pool, handler, {
    schema,
    name,
    pollInterval: 5,
    promoteInterval: 20,
    maxAttempts: 1,
    backoff: { base: 20, jitter: 0 },
  });
}

describe("status()", () => {
  it("describes a schema no consumer has used: counts, no consumers, the partitions", async () => {
    const { schema, client } = await db.freshSchema("status_new");
    await client.enqueueMany([1, 2, 3]);
    await client.enqueue(4, { runAt: new Date(Date.now() + 3_600_000) });
    const found = await status(db.pool, { schema });
    assert.equal(found.schema, schema);
    assert.ok(found.version >= 3);
    assert.ok(found.at instanceof Date);
    assert.deepEqual(found.tables, {
      immediate: { rows: 3, estimated: false },
      scheduled: { rows: 1, due: 0 },
      failed: { rows: 0, due: 0 },
      deadLetter: { rows: 0 },
    });
    assert.deepEqual(found.consumers, []);
    const fallback = found.partitions.find((each) => each.isDefault);
    assert.ok(fallback, "the default partition");
    assert.equal(fallback.from, null);
    assert.equal(fallback.to, null);
    assert.equal(typeof fallback.bytes, "number");
    // Never analysed: PostgreSQL 14 and newer say so (reltuples -1); 13 says 0.
    const { rows } = await db.pool.query("SELECT current_setting('server_version_num')::int >= 140000 AS says");
    assert.equal(fallback.estimatedRows, rows[0].says ? null : 0);
    await db.pool.query(`ANALYZE ${schema}.immediate`);
    const analysed = await status(db.pool, { schema });
    assert.equal(analysed.partitions.find((each) => each.isDefault)?.estimatedRows, 3);
  });

  it("shows a consumer's leader while it runs, and what it has left once it stopped", async () => {
    const { schema, client } = await db.freshSchema("status_polling");
    const [doomed] = await client.enqueueMany(["dies", "lives"]);
    const record = recorder(async (jobs) =>
      jobs.filter((job) => job.payload === "dies").map((job) => ({ job, error: new Error("no such mailbox") })),
    );
    const consumer = pollingConsumer(schema, record.handler);
    await consumer.start();
    try {
      await waitFor(async () => (await countDeadLetters(db.pool, { schema })) === 1, { what: "a dead letter" });
      const running = await waitFor(
        async () => {
          const found = await status(db.pool, { schema });
          return found.consumers[0]?.pendingJobs === 0 ? found : undefined;
        },
        { what: "nothing pending" },
      );
      const [mailer] = running.consumers;
      assert.equal(mailer?.name, "mailer");
      assert.equal(mailer?.mode, "polling");
      assert.ok(mailer?.leader, "a leader while it runs");
      assert.equal(typeof mailer.leader.pid, "number");
      assert.equal(mailer.leader.id, mailer.lastLeaderId);
      assert.equal(mailer.deadLetters, 1);
      assert.equal(mailer.pendingJobs, 0);
      assert.equal(mailer.lagMs, 0, "nothing pending, no lag");
      assert.equal(running.tables.deadLetter.rows, 1);
      assert.equal(mailer.slot, null);
      // A running polling consumer is refused too: removing its row would restart it from the first job.
      await assert.rejects(removeConsumer(db.pool, { schema, consumer: "mailer" }), { code: "CONSUMER_ACTIVE" });
    } finally {
      await consumer.stop();
    }
    await client.enqueueMany(["a", "b", "c"]);
    const stopped = await status(db.pool, { schema });
    const [after] = stopped.consumers;
    assert.equal(after?.leader, null);
    assert.ok(after?.lastLeaderId);
    assert.equal(after.pendingJobs, 3);
    assert.ok(after.oldestPendingAt instanceof Date);
    assert.equal(after.lagMs, stopped.at.getTime() - after.oldestPendingAt.getTime());
    assert.ok(after.lagMs >= 0);
    assert.ok(after.heartbeatAt instanceof Date);
    assert.match(after.snapshot ?? "", /^\d+:\d+:/);
    assert.equal(record.deliveries.filter((job) => job.id === doomed).length, 1);
  });

  it("shows a replication consumer's acknowledged position and slot", needs("logical-replication"), async () => {
    const { schema, client } = await db.freshSchema("status_replication");
    const record = recorder();
    const consumer = replicationConsumer(db.pool, schema, record.handler, { name: "stream" });
    await consumer.start();
    try {
      await client.enqueueMany([1, 2]);
      await waitFor(() => record.deliveries.length === 2, { what: "two deliveries" });
      const found = await waitFor(
        async () => {
          const each = (await status(db.pool, { schema })).consumers[0];
          return each?.ackedLsn !== null && each?.slot?.active ? each : undefined;
        },
        { what: "an acknowledged position" },
      );
      assert.equal(found.mode, "replication");
      assert.ok(found.leader);
      assert.equal(typeof found.ackedLsn, "bigint");
      assert.equal(typeof found.ackLagBytes, "bigint");
      assert.equal(typeof found.slot?.retainedBytes, "bigint");
      assert.match(found.slot?.name ?? "", /^poutbox_status_replication/);
    } finally {
      await consumer.stop();
      await dropSlots(db.pool, schema, "stream");
    }
  });

  it("refuses a schema that was never migrated", async () => {
    await assert.rejects(status(db.pool, { schema: "status_nowhere" }), SchemaMissingError);
    await assert.rejects(status(db.pool, { schema: "bad name" }), { code: "INVALID_OPTION" });
  });
});
