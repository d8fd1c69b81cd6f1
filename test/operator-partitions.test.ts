// Rows an operator moves between partitions of immediate are delivered once per consumer, in
// both modes; a table attached with rows in it is reported, never dropped, and its rows are
// delivered once it is imported.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  adoptPartition,
  Consumer,
  type ConsumerMode,
  importPartition,
  listPartitions,
  Maintenance,
} from "../src/index.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
const modes: ConsumerMode[] = ["polling", "replication"];

function consumerOn(schema: string, mode: ConsumerMode, record: ReturnType<typeof recorder>) {
  return new Consumer(db.pool, record.handler, {
    schema,
    mode,
    name: "operator",
    pollInterval: 5,
    maintenance: false,
  });
}

/** Waits until the consumer's stored progress shows every row now in immediate as done. */
async function progressPastEverything(schema: string): Promise<void> {
  await waitFor(
    async () => {
      const { rows } = await db.pool.query(
        `SELECT count(*)::int AS n FROM ${schema}.immediate i, ${schema}.consumers c
         WHERE c.name = 'operator' AND NOT pg_visible_in_snapshot(i.transaction_id, c.snapshot)`,
      );
      return rows[0].n === 0;
    },
    { what: "the consumer's progress past every row" },
  );
}

for (const mode of modes) {
  describe(
    `rows moved or attached by an operator (${mode})`,
    mode === "replication" ? needs("logical-replication") : {},
    () => {
      it("delivers nothing again when rows move out of the default partition or across partitions", async () => {
        const { schema, client } = await db.freshSchema("moved");
        const record = recorder();
        const consumer = consumerOn(schema, mode, record);
        await consumer.start();
        try {
          const first = await client.enqueueMany(Array.from({ length: 5 }, (_, i) => ({ i })));
          await waitFor(() => first.every((id) => record.counts().has(id)), { what: "the first jobs" });
          // The operator's way to give rows of the default partition a range of their own: the
          // new partition takes them with every column, transaction_id included.
          await db.pool.query(`
          BEGIN;
          ALTER TABLE ${schema}.immediate DETACH PARTITION ${schema}.immediate_default;
          CREATE TABLE ${schema}.moved_here (LIKE ${schema}.immediate INCLUDING DEFAULTS);
          ALTER TABLE ${schema}.immediate ATTACH PARTITION ${schema}.moved_here
            FOR VALUES FROM ('2000-01-01') TO ('2100-01-01');
          INSERT INTO ${schema}.immediate SELECT * FROM ${schema}.immediate_default;
          TRUNCATE ${schema}.immediate_default;
          ALTER TABLE ${schema}.immediate ATTACH PARTITION ${schema}.immediate_default DEFAULT;
          COMMIT;`);
          // An UPDATE that moves a row into another partition.
          await db.pool.query(`UPDATE ${schema}.immediate SET created_at = '2200-01-01' WHERE id = $1`, [
            String(first[0]),
          ]);
          const later = await client.enqueueMany(["after 1", "after 2"]);
          await waitFor(() => later.every((id) => record.counts().has(id)), { what: "the jobs after the moves" });
          await progressPastEverything(schema);
          assert.deepEqual(
            [...record.counts().entries()].filter(([, n]) => n > 1),
            [],
            "no job delivered twice",
          );
          // Maintenance did not make the partition and it holds rows (the 4 moved there and the 2
          // enqueued since): it says so, and adopting it (the rows are jobs moved there) delivers
          // nothing again.
          const report = await new Maintenance(db.pool, { schema }).runOnce();
          assert.deepEqual(report.attached, [{ name: "moved_here", rows: 6 }]);
          assert.equal(
            (await listPartitions(db.pool, { schema })).find((each) => each.name === "moved_here")?.managed,
            false,
          );
          assert.deepEqual(await adoptPartition(db.pool, { schema, partition: "moved_here" }), {
            partition: "moved_here",
            rows: 6,
          });
          assert.deepEqual((await new Maintenance(db.pool, { schema }).runOnce()).attached, []);
          const last = await client.enqueue("last");
          await waitFor(() => record.counts().has(last), { what: "a job after adopting" });
          assert.ok([...record.counts().values()].every((n) => n === 1));
        } finally {
          await consumer.stop();
          if (mode === "replication") await dropSlots(db.pool, schema, "operator");
        }
      });

      it("reports a table attached with rows in it, never drops it, and delivers its rows once imported", async () => {
        const { schema, client } = await db.freshSchema("attached");
        const record = recorder();
        const consumer = consumerOn(schema, mode, record);
        await consumer.start();
        try {
          // Jobs written into a table of their own, which the consumer's progress then passes.
          await db.pool.query(`CREATE TABLE ${schema}.prefilled (LIKE ${schema}.immediate INCLUDING DEFAULTS)`);
          const { rows } = await db.pool.query(
            `INSERT INTO ${schema}.prefilled (payload, topic, created_at)
           SELECT json_build_object('n', n), 'prefilled', '2001-01-01'::timestamptz + n * interval '1 minute'
           FROM generate_series(1, 3) AS n RETURNING id::text`,
          );
          const prefilled = rows.map((row) => BigInt(row.id));
          const marker = await client.enqueue("marker");
          await waitFor(() => record.counts().has(marker), { what: "the marker job" });
          await progressPastEverything(schema);
          await db.pool.query(
            `ALTER TABLE ${schema}.immediate ATTACH PARTITION ${schema}.prefilled FOR VALUES FROM ('2001-01-01') TO ('2001-01-02')`,
          );
          const maintenance = new Maintenance(db.pool, { schema });
          const report = await maintenance.runOnce();
          assert.deepEqual(report.attached, [{ name: "prefilled", rows: 3 }]);
          assert.ok(
            report.skipped.some((each) => each.name === "prefilled" && each.reason === "attached"),
            "its range has ended and every consumer is past its rows, yet it is kept",
          );
          assert.ok((await listPartitions(db.pool, { schema })).some((each) => each.name === "prefilled"));

          assert.deepEqual(await importPartition(db.pool, { schema, partition: "prefilled" }), {
            partition: "prefilled",
            rows: 3,
          });
          await waitFor(() => prefilled.every((id) => record.counts().has(id)), { what: "the imported jobs" });
          assert.ok(
            [...record.counts().values()].every((n) => n === 1),
            "each delivered once",
          );
          assert.deepEqual(
            record.deliveries.filter((job) => job.topic === "prefilled").map((job) => job.payload),
            [{ n: 1 }, { n: 2 }, { n: 3 }],
          );
        } finally {
          await consumer.stop();
          if (mode === "replication") await dropSlots(db.pool, schema, "operator");
        }
      });
    },
  );
}
