import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type pg from "pg";
import { Client, Consumer, migrate } from "../src/index.js";
import { pageQuery } from "../src/sources/polling-queries.js";
import { type PlanNode, scans } from "./support/plan-scans.js";
import { recorder } from "./support/recorder.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase((created) => migrate(created.pool));

const historyRows = 1_000_000;
const bigPartitions = ["immediate_history_1", "immediate_history_2"];

async function xidOf(session: pg.PoolClient): Promise<string> {
  const { rows } = await session.query("SELECT pg_current_xact_id()::text AS xid");
  return rows[0].xid;
}

describe("polling cost", () => {
  it("reads a page in time proportional to new rows, not to a million rows of history", async (t) => {
    const started = performance.now();
    // Partitions first: rows already in the default partition would forbid creating them.
    const { rows: clock } = await db.pool.query("SELECT now()::text AS now");
    const now = `'${clock[0].now}'::timestamptz`;
    const partitions: [string, string, string][] = [
      ["immediate_history_1", `${now} - interval '3 days'`, `${now} - interval '2 days'`],
      ["immediate_history_2", `${now} - interval '2 days'`, `${now} - interval '1 day'`],
      ["immediate_recent", `${now} - interval '1 day'`, `${now} + interval '1 day'`],
    ];
    for (const [name, from, to] of partitions) {
      await db.pool.query(
        `CREATE TABLE poutbox.${name} PARTITION OF poutbox.immediate FOR VALUES FROM (${from}) TO (${to})`,
      );
    }

    // History: one transaction per big partition, half the rows each, 100 ms apart.
    const half = historyRows / 2;
    for (const days of [3, 2]) {
      await db.pool.query(
        `INSERT INTO poutbox.immediate (payload, created_at)
           SELECT '{}', ${now} - interval '${days} days' + g * interval '100 milliseconds'
           FROM generate_series(1, ${half}) AS g`,
      );
    }
    const { rows: sizes } = await db.pool.query(
      "SELECT tableoid::regclass::text AS partition, count(*)::int AS n FROM poutbox.immediate GROUP BY 1 ORDER BY 1",
    );
    assert.deepEqual(
      sizes.map((row) => [row.partition, row.n]),
      bigPartitions.map((name) => [`poutbox.${name}`, half]),
    );
    const loaded = performance.now();
    t.diagnostic(`${historyRows} history rows inserted in ${((loaded - started) / 1000).toFixed(1)} s`);

    const client = new Client(db.pool);
    const sessionPool = db.newPool({ max: 2 });
    const open: pg.PoolClient[] = [];
    const record = recorder();
    const consumer = new Consumer(db.pool, record.handler, { name: "default" });
    try {
      // Two holes of the progress snapshot: one commits before the page query, one stays open.
      const committedHole = await sessionPool.connect();
      open.push(committedHole);
      await committedHole.query("BEGIN");
      const committedHoleId = await client.enqueue({ phase: "hole, committed" }, { tx: committedHole });
      const openHole = await sessionPool.connect();
      open.push(openHole);
      await openHole.query("BEGIN");
      const openHoleId = await client.enqueue({ phase: "hole, open" }, { tx: openHole });

      // A snapshot's xmax is one past the latest completed transaction, so the two stay
      // below it, listed as in progress, only once a later transaction has completed.
      await db.pool.query("SELECT pg_current_xact_id()");
      // The consumer's progress passes the history: every history row is done.
      const { rows: progress } = await db.pool.query(
        `INSERT INTO poutbox.consumers (name, mode, snapshot) VALUES ('default', 'polling', pg_current_snapshot())
         RETURNING snapshot::text AS snapshot`,
      );
      const prev: string = progress[0].snapshot;
      const holes = await db.pool.query(
        "SELECT count(*)::int AS n FROM pg_snapshot_xip($1::pg_snapshot) AS x WHERE x = ANY($2::xid8[])",
        [prev, [await xidOf(committedHole), await xidOf(openHole)]],
      );
      assert.equal(holes.rows[0].n, 2, `both open transactions are holes of ${prev}`);
      await committedHole.query("COMMIT");
      const newIds = [
        committedHoleId,
        ...(await client.enqueueMany([1, 2, 3, 4, 5].map((i) => ({ phase: "new", i })))),
      ];
      await db.pool.query("ANALYZE poutbox.immediate");
      const analyzed = performance.now();
      t.diagnostic(`ANALYZE took ${((analyzed - loaded) / 1000).toFixed(1)} s; progress snapshot ${prev}`);

      const sql = pageQuery('"poutbox"').text;
      const parameters = [prev, null, "0", "0", 100, "default", null, null, 16 * 1024 * 1024];
      const { rows: page } = await db.pool.query(sql, parameters);
      assert.deepEqual(
        page.map((row) => BigInt(row.id)),
        newIds,
        "the page holds exactly the jobs committed after the progress snapshot",
      );

      // The consumer runs the page query as a named statement, so after a few polls the server
      // may keep a generic plan, with the parameters unknown at planning: check both plans.
      const explainer = await db.pool.connect();
      try {
        await explainer.query(`PREPARE page AS ${sql}`);
        // Without a subscription, and with one by name and by pattern: the same scans.
        const subscriptions = { every: "NULL, NULL", name: "'{order.created}', '{}'", pattern: "'{}', '{order.%}'" };
        for (const [mode, topics] of ["force_custom_plan", "force_generic_plan"].flatMap((each) =>
          Object.entries(subscriptions).map(([label, values]) => [`${each}, ${label} topic`, values] as const),
        )) {
          await explainer.query(`SET plan_cache_mode = ${mode.split(",")[0]}`);
          // EXECUTE takes no bind parameters; the snapshot text is digits, colons and commas.
          assert.match(prev, /^[0-9:,]+$/);
          const { rows: explained } = await explainer.query(
            `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE page('${prev}', NULL, '0', '0', 100, 'default', ${topics}, 16777216)`,
          );
          const plan = explained[0]["QUERY PLAN"][0] as {
            Plan: PlanNode;
            "Planning Time": number;
            "Execution Time": number;
          };
          const found = scans(plan.Plan);
          const read = found.reduce((sum, scan) => sum + scan.read, 0);
          const pages = found.reduce((sum, scan) => sum + scan.pages, 0);
          t.diagnostic(
            `page query, ${mode}: execution ${plan["Execution Time"].toFixed(2)} ms, planning ` +
              `${plan["Planning Time"].toFixed(2)} ms, ${read} rows read and ${pages} pages touched by ${found.length} scan nodes`,
          );
          for (const scan of found) {
            t.diagnostic(
              `  ${scan.node} on ${scan.relation}${scan.index ? ` using ${scan.index}` : ""}: ` +
                `${scan.read} rows, ${scan.loops} loops, ${scan.pages} pages`,
            );
          }
          assert.ok(found.length > 0, `${mode}: the plan reads the outbox`);
          assert.ok(read < 10_000, `${mode}: the page query read ${read} rows for ${newIds.length} new jobs`);
          const seqScans = found.filter((scan) => scan.node === "Seq Scan" && bigPartitions.includes(scan.relation));
          assert.deepEqual(seqScans, [], `${mode}: no sequential scan over the history partitions`);
          for (const partition of bigPartitions) {
            assert.ok(
              found.some((scan) => scan.relation === partition),
              `${mode}: the plan reaches ${partition} through its index (no created_at pruning that could lose an old job)`,
            );
          }
          // Rows returned and rows filtered out do not show an index range walked without a
          // match: a scan that starts at the wrong key (before pg_snapshot_xmax(prev)) reads every
          // index page of a history partition, about 1,900 here, and still reports 0 rows.
          for (const scan of found.filter((each) => bigPartitions.includes(each.relation))) {
            assert.ok(scan.pages <= 50, `${mode}: ${scan.node} on ${scan.relation} touched ${scan.pages} pages`);
          }
        }
      } finally {
        explainer.release(true);
      }

      // The same through a running consumer: only the new jobs, then the open hole once it commits.
      await consumer.start();
      await waitFor(() => record.deliveries.length >= newIds.length, { timeout: 30_000, what: "the new jobs" });
      await openHole.query("COMMIT");
      await waitFor(() => record.counts().has(openHoleId), { timeout: 30_000, what: "the job of the open hole" });
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(record.ids(), [...newIds, openHoleId]);
      t.diagnostic(`whole test ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } finally {
      await consumer.stop();
      for (const session of open) session.release(true);
      await sessionPool.end();
    }
  });
  it("reads about a page's worth of a backlog, subscribed or not, in custom and generic plans", async (t) => {
    // A consumer far behind: 100,000 jobs over 10 topics after its progress snapshot. Each page
    // must walk the index in order and stop at its limit. A plan that fetches the whole backlog
    // and sorts it (a bitmap scan under a top-N sort) reads 100,000 rows for every page; the
    // planner picks one when it cannot see where the window starts and guesses fewer matching
    // rows than the limit, as a subscription to one topic in ten makes it guess.
    const schema = "poutbox_backlog";
    await migrate(db.pool, { schema });
    const { rows: progress } = await db.pool.query("SELECT pg_current_snapshot()::text AS snapshot");
    const prev: string = progress[0].snapshot;
    const backlog = 100_000;
    const limit = 1000;
    await db.pool.query(`
      DO $fill$
      BEGIN
        FOR t IN 0 .. ${backlog / 1000 - 1} LOOP
          INSERT INTO ${schema}.immediate (payload, topic)
          SELECT json_build_object('i', i), 't' || (i % 10) FROM generate_series(t * 1000 + 1, (t + 1) * 1000) i;
          COMMIT;
        END LOOP;
      END
      $fill$`);
    await db.pool.query(`ANALYZE ${schema}.immediate`);
    // The first page of a window takes it (NULL); the next ones are given it.
    const { rows: after } = await db.pool.query("SELECT pg_current_snapshot()::text AS snapshot");
    const windows = ["NULL", `'${after[0].snapshot}'`];
    const explainer = await db.pool.connect();
    try {
      await explainer.query(`PREPARE backlog_page AS ${pageQuery(`"${schema}"`).text}`);
      for (const snapshot of [prev, after[0].snapshot]) assert.match(snapshot, /^[0-9:,]+$/);
      const subscriptions = [
        { label: "every topic", topics: "NULL, NULL", share: 1 },
        { label: "one topic in ten by name", topics: "'{t3}', '{}'", share: 0.1 },
        { label: "one topic in ten by pattern", topics: "'{}', '{t3%}'", share: 0.1 },
      ];
      for (const mode of ["force_custom_plan", "force_generic_plan"]) {
        await explainer.query(`SET plan_cache_mode = ${mode}`);
        for (const [{ label: topicsLabel, topics, share }, window] of subscriptions.flatMap((each) =>
          windows.map((window) => [each, window] as const),
        )) {
          const label = `${topicsLabel}, window ${window === "NULL" ? "taken" : "given"}`;
          const { rows: explained } = await explainer.query(
            `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE backlog_page('${prev}', ${window}, '0', '0', ${limit}, 'default', ${topics}, 16777216)`,
          );
          const plan = explained[0]["QUERY PLAN"][0] as { Plan: PlanNode; "Execution Time": number };
          const found = scans(plan.Plan);
          const read = found.reduce((sum, scan) => sum + scan.read, 0);
          t.diagnostic(
            `${mode}, ${label}: ${plan.Plan["Actual Rows"]} rows returned, ${read} read, ` +
              `${plan["Execution Time"].toFixed(1)} ms (${found.map((scan) => scan.node).join(", ")})`,
          );
          assert.equal(plan.Plan["Actual Rows"], limit, `${mode}, ${label}: a full page`);
          // In order, a page reads its limit divided by its topics' share of the rows.
          const expected = limit / share;
          assert.ok(read <= 2 * expected, `${mode}, ${label}: read ${read} rows of the backlog for a page of ${limit}`);
        }
      }
    } finally {
      explainer.release(true);
    }
  });
});
