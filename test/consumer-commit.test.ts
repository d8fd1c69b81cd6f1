// The commit statements of a consumer, run directly: progress and failures are written
// together or not at all, and never when a failed job's row cannot be found (a replication
// consumer can receive a transaction a moment before its rows are visible to other sessions).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { consumerQueries } from "../src/consumer/consumer-queries.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();

interface Setup {
  schema: string;
  queries: ReturnType<typeof consumerQueries>;
  epoch: string;
  job: { id: string; xid: string };
}

async function setUp(): Promise<Setup> {
  const { schema, client } = await db.freshSchema("commit");
  const queries = consumerQueries(schema);
  const { rows: claimed } = await db.pool.query(queries.consumerClaim.text, ["c", randomUUID(), "polling", null]);
  const id = await client.enqueue({ poison: true });
  const { rows } = await db.pool.query(`SELECT transaction_id::text AS xid FROM ${schema}.immediate WHERE id = $1`, [
    String(id),
  ]);
  return { schema, queries, epoch: claimed[0].epoch, job: { id: String(id), xid: rows[0].xid } };
}

function failures(job: { id: string; xid: string }, dead = false): string {
  return JSON.stringify([{ id: job.id, xid: job.xid, attempt: 1, error: "bad", delay_ms: 0, dead }]);
}

async function stored(schema: string) {
  const { rows } = await db.pool.query(
    `SELECT (SELECT snapshot::text FROM ${schema}.consumers) AS snapshot,
            (SELECT acked_lsn::text FROM ${schema}.consumers) AS acked,
            (SELECT count(*)::int FROM ${schema}.failed) AS failed,
            (SELECT count(*)::int FROM ${schema}.dead_letter) AS dead`,
  );
  return rows[0] as { snapshot: string; acked: string | null; failed: number; dead: number };
}

describe("consumer commit statements", () => {
  it("polling: writes nothing when a failed job's row is not found, and says how many were missing", async () => {
    const { schema, queries, epoch, job } = await setUp();
    const before = await stored(schema);
    const progress = ["c", epoch, "5:5:", null, "0", "0"];
    const wrongXid = { id: job.id, xid: String(BigInt(job.xid) + 1000n) };
    const { rows: refused } = await db.pool.query(queries.consumerCommit.text, [...progress, failures(wrongXid), "[]"]);
    assert.deepEqual(refused[0], { written: 0, missing: 1, leading: true });
    assert.deepEqual(await stored(schema), before, "neither progress nor failures written");

    const { rows: written } = await db.pool.query(queries.consumerCommit.text, [...progress, failures(job), "[]"]);
    assert.deepEqual(written[0], { written: 1, missing: 0, leading: true });
    assert.deepEqual(await stored(schema), { ...before, snapshot: "5:5:", failed: 1 });
  });

  it("replication: the same, for a dead letter", async () => {
    const { schema, queries, epoch, job } = await setUp();
    const before = await stored(schema);
    const progress = ["c", epoch, "0/1000", null, 0, null];
    const unknownId = { id: String(BigInt(job.id) + 1000n), xid: job.xid };
    const { rows: refused } = await db.pool.query(queries.consumerCommitReplication.text, [
      ...progress,
      failures(unknownId, true),
      "[]",
    ]);
    assert.deepEqual(refused[0], { written: 0, missing: 1, leading: true });
    assert.deepEqual(await stored(schema), before);

    const { rows: written } = await db.pool.query(queries.consumerCommitReplication.text, [
      ...progress,
      failures(job, true),
      "[]",
    ]);
    assert.deepEqual(written[0], { written: 1, missing: 0, leading: true });
    assert.deepEqual(await stored(schema), { ...before, acked: "0/1000", dead: 1 });
  });

  it("reports a moved epoch as not leading, rows missing or not, and writes nothing", async () => {
    const { schema, queries, epoch, job } = await setUp();
    const before = await stored(schema);
    const stale = String(BigInt(epoch) - 1n);
    const { rows } = await db.pool.query(queries.consumerCommit.text, [
      "c",
      stale,
      "5:5:",
      null,
      "0",
      "0",
      failures(job),
      "[]",
    ]);
    assert.deepEqual(rows[0], { written: 0, missing: 0, leading: false });
    const wrongXid = { id: job.id, xid: String(BigInt(job.xid) + 1000n) };
    const { rows: both } = await db.pool.query(queries.consumerCommit.text, [
      "c",
      stale,
      "5:5:",
      null,
      "0",
      "0",
      failures(wrongXid),
      "[]",
    ]);
    assert.deepEqual(both[0], { written: 0, missing: 1, leading: false });
    assert.deepEqual(await stored(schema), before);
  });

  it("a batch without failures: both modes' advance statements move progress for the leader only", async () => {
    const { schema, queries, epoch } = await setUp();
    const before = await stored(schema);
    const stale = String(BigInt(epoch) - 1n);
    const polling = (at: string) => ["c", at, "5:5:", null, "0", "0"];
    const replication = (at: string) => ["c", at, "0/2000", null, 0, null];
    for (const [statement, values] of [
      [queries.consumerAdvance, polling],
      [queries.consumerAdvanceReplication, replication],
    ] as const) {
      const { rows } = await db.pool.query(statement.text, values(stale));
      assert.deepEqual(rows[0], { written: 0, missing: 0, leading: false });
    }
    assert.deepEqual(await stored(schema), before, "a moved epoch writes nothing");
    const { rows: moved } = await db.pool.query(queries.consumerAdvance.text, polling(epoch));
    assert.deepEqual(moved[0], { written: 1, missing: 0, leading: true });
    const { rows: acked } = await db.pool.query(queries.consumerAdvanceReplication.text, replication(epoch));
    assert.deepEqual(acked[0], { written: 1, missing: 0, leading: true });
    assert.deepEqual(await stored(schema), { ...before, snapshot: "5:5:", acked: "0/2000" });
  });
});
