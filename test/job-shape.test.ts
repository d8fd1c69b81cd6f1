// A handler gets the same job in both modes: headers always an object, the first enqueue time
// kept across retries and promotion, beside the time of the delivery's own row.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Consumer, type ConsumerMode, type Job, listDeadLetters } from "../src/index.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
const modes: ConsumerMode[] = ["polling", "replication"];

/** A table's times for one job, in epoch milliseconds as the server has them. */
async function storedMs(schema: string, table: string, column: string, id: bigint): Promise<number[]> {
  const { rows } = await db.pool.query(
    `SELECT floor(extract(epoch FROM ${column}) * 1000)::int8::text AS ms FROM ${schema}.${table} WHERE id = $1 ORDER BY 1`,
    [String(id)],
  );
  return rows.map((row) => Number(row.ms));
}

for (const mode of modes) {
  describe(`the job a handler gets (${mode})`, mode === "replication" ? needs("logical-replication") : {}, () => {
    it("has headers as an object whatever the row holds, and its enqueue time on every delivery", async () => {
      const { schema, client } = await db.freshSchema("shape");
      const record = recorder(async (jobs) =>
        jobs.filter((job) => job.payload === "flaky").map((job) => ({ job, error: `attempt ${job.attempt}` })),
      );
      const consumer = new Consumer(db.pool, record.handler, {
        schema,
        mode,
        name: "shape",
        pollInterval: 5,
        promoteInterval: 20,
        backoff: { base: 50, jitter: 0 },
        maxAttempts: 3,
        maintenance: false,
      });
      await consumer.start();
      try {
        await waitFor(() => consumer.isLeader, { what: "leadership" });
        // Rows written by other means than enqueue: SQL NULL, JSON null, an array.
        const { rows } = await db.pool.query(
          `INSERT INTO ${schema}.immediate (payload, headers)
           VALUES ('"sql null"', NULL), ('"json null"', 'null'), ('"array"', '["a"]'), ('"object"', '{"k": "v"}')
           RETURNING id::text`,
        );
        const [flaky] = await client.enqueueMany(["flaky"], { headers: { trace: "t-1" } });
        const scheduled = await client.enqueue("scheduled", { runAt: new Date(Date.now() + 300) });
        await waitFor(() => record.deliveries.filter((job) => job.payload === "flaky").length === 3, {
          what: "three attempts of the flaky job",
        });
        await waitFor(() => record.counts().has(scheduled), { what: "the scheduled job" });

        const byPayload = (payload: string) => record.deliveries.find((job) => job.payload === payload) as Job;
        for (const payload of ["sql null", "json null", "array"]) {
          assert.deepEqual(byPayload(payload).headers, {}, payload);
        }
        assert.deepEqual(byPayload("object").headers, { k: "v" });
        assert.equal(rows.length, 4);

        const attempts = record.deliveries.filter((job) => job.id === flaky);
        await waitFor(async () => (await listDeadLetters(db.pool, { schema })).length === 1, {
          what: "the dead letter",
        });
        const [enqueued] = await storedMs(schema, "dead_letter", "enqueued_at", flaky as bigint);
        assert.deepEqual(
          attempts.map((job) => job.attempt),
          [1, 2, 3],
        );
        for (const job of attempts) {
          assert.equal(job.enqueuedAt.getTime(), attempts[0]?.createdAt.getTime(), `attempt ${job.attempt}`);
          assert.deepEqual(job.headers, { trace: "t-1" });
        }
        assert.ok((attempts[2]?.createdAt.getTime() ?? 0) > (attempts[0]?.createdAt.getTime() ?? 0));
        assert.equal(enqueued, attempts[0]?.enqueuedAt.getTime(), "the dead letter keeps it too");
        const [dead] = await listDeadLetters(db.pool, { schema });
        assert.equal(dead?.enqueuedAt.getTime(), attempts[0]?.enqueuedAt.getTime());

        const promoted = byPayload("scheduled");
        const [immediateRow] = await storedMs(schema, "immediate", "created_at", scheduled);
        assert.equal(promoted.createdAt.getTime(), immediateRow, "createdAt: when it was moved into immediate");
        assert.ok(promoted.enqueuedAt.getTime() < promoted.createdAt.getTime() - 200, "enqueuedAt: the enqueue");
      } finally {
        await consumer.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "shape");
      }
    });
  });
}
