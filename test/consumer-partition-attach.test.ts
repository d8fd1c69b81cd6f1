import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Consumer } from "../src/index.js";
import { attachPartition } from "./support/partitions.js";
import { recorder } from "./support/recorder.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

const hour = 3_600_000;

/** Inserts one job whose created_at is `at` (so it lands in the partition covering it); its id. */
async function jobAt(schema: string, at: number): Promise<bigint> {
  const { rows } = await db.pool.query(
    `INSERT INTO "${schema}".immediate (payload, created_at) VALUES ('{}', to_timestamp($1::float8 / 1000)) RETURNING id::text`,
    [at],
  );
  return BigInt(rows[0].id);
}

/** Whether a poll (the page query, known by its window_snapshot column) waits for a lock on `table`. */
async function pollWaitsFor(schema: string, table: string): Promise<boolean> {
  const { rows } = await db.pool.query(
    `SELECT EXISTS (
       SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.relation = $1::regclass AND NOT l.granted AND a.query LIKE '%window_snapshot%') AS waiting`,
    [`"${schema}".${table}`],
  );
  return rows[0].waiting === true;
}

describe("Consumer (polling) and partitions attached while it polls", () => {
  // PostgreSQL lists a partitioned table's partitions while it plans a statement and takes the
  // statement's snapshot after planning. A poll held up in planning (here by a lock on one
  // partition, as VACUUM FULL or CLUSTER would hold it) while a partition is attached and
  // filled, then let go, plans without the new partition yet sees its rows' transaction as
  // committed. Taken as read, that window would carry the consumer past the rows for good.
  it("delivers the jobs of a partition attached and filled while a poll was being planned", async (t) => {
    const { schema } = await db.freshSchema("attach");
    const now = Date.now();
    const held = await attachPartition(db.pool, schema, now - hour, 2 * hour);
    const record = recorder();
    const consumer = new Consumer(db.pool, record.handler, {
      schema,
      name: "attach",
      pollInterval: 10,
      maintenance: false,
    });
    const locker = await db.pool.connect();
    t.after(async () => {
      // The lock first: a consumer stopping waits for its statements, which wait for the lock.
      await locker.query("ROLLBACK").catch(() => {});
      locker.release();
      await consumer.stop();
    });
    await consumer.start();
    const before = await jobAt(schema, now);
    await waitFor(() => record.counts().has(before), { what: "the job written before the attach" });

    await locker.query("BEGIN");
    await locker.query(`LOCK TABLE "${schema}".${held} IN ACCESS EXCLUSIVE MODE`);
    await waitFor(() => pollWaitsFor(schema, held), { what: "a poll waiting on the locked partition" });
    await attachPartition(db.pool, schema, now + hour, hour);
    const attached = await jobAt(schema, now + 90 * 60_000);
    await locker.query("COMMIT");
    const after = await jobAt(schema, now);

    await waitFor(() => record.counts().has(attached) && record.counts().has(after), {
      what: "the job of the attached partition, and one written after it",
      timeout: 10_000,
    });
    assert.deepEqual(
      [...record.counts()].filter(([, times]) => times !== 1),
      [],
    );
  });
});
