// The promoter's statement reads the rows it moves, not the tables it moves them from: each
// round takes 1,000 due rows, and a backlog of due scheduled jobs or retries must not make every
// round read the whole backlog (which made draining it take time quadratic in its size).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { consumerQueries } from "../src/consumer/consumer-queries.js";
import { quoteSchemaName } from "../src/schema/schema-name.js";
import { type PlanNode, scans } from "./support/plan-scans.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();

const backlog = 20_000;
const perRound = 1000;

describe("the promoter", () => {
  it("reads about the rows it moves from a backlog of due scheduled jobs and retries, in both plans", async (t) => {
    const { schema, client } = await db.freshSchema("promoter_cost");
    const quoted = quoteSchemaName(schema);
    const due = new Date(Date.now() - 60_000);
    for (let done = 0; done < backlog; done += 1000) {
      await client.enqueueMany(
        Array.from({ length: 1000 }, (_, index) => ({ n: done + index })),
        { runAt: due },
      );
    }
    // As many retries due, for one consumer without ordering keys, copied from the scheduled rows.
    await db.pool.query(`
      INSERT INTO ${quoted}.failed (id, consumer, topic, payload, headers, attempt, last_error, created_at, next_retry_at)
      SELECT id, 'mailer', topic, payload, headers, 1, 'failed once', created_at, now() - interval '1 minute'
      FROM ${quoted}.scheduled`);
    await db.pool.query(`ANALYZE ${quoted}.scheduled, ${quoted}.failed`);

    const promote = consumerQueries(quoted).jobsPromote.text;
    const session = await db.pool.connect();
    try {
      await session.query(`PREPARE promote AS ${promote}`);
      for (const mode of ["force_custom_plan", "force_generic_plan"]) {
        await session.query(`SET plan_cache_mode = ${mode}`);
        // Rolled back: each plan moves the same rows out of the same backlog.
        await session.query("BEGIN");
        const { rows } = await session.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE promote(${perRound})`);
        await session.query("ROLLBACK");
        const plan = rows[0]["QUERY PLAN"][0] as { Plan: PlanNode };
        const read = scans(plan.Plan).filter((scan) => ["scheduled", "failed"].includes(scan.relation));
        for (const scan of read) {
          t.diagnostic(
            `${mode}: ${scan.node} on ${scan.relation}${scan.index ? ` using ${scan.index}` : ""}: ${scan.read} rows`,
          );
        }
        const total = read.reduce((sum, scan) => sum + scan.read, 0);
        // 1,000 of each table found by its due index and 1,000 of each taken by address: 4,000.
        assert.ok(total <= 5 * perRound, `${mode}: a round read ${total} rows of a backlog of ${2 * backlog}`);
      }
      // And it moves them: a round without EXPLAIN takes 1,000 of each.
      await session.query("RESET plan_cache_mode");
      const { rows } = await session.query(`EXECUTE promote(${perRound})`);
      assert.equal(rows[0].moved, 2 * perRound);
    } finally {
      session.release(true);
    }
    const { rows: left } = await db.pool.query(
      `SELECT (SELECT count(*) FROM ${quoted}.scheduled)::int AS scheduled, (SELECT count(*) FROM ${quoted}.failed)::int AS failed,
              (SELECT count(*) FROM ${quoted}.immediate)::int AS immediate`,
    );
    assert.deepEqual(left[0], { scheduled: backlog - perRound, failed: backlog - perRound, immediate: 2 * perRound });
  });
});
