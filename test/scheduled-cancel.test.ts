// Cancelling scheduled jobs (Client.cancelScheduled): a cancelled job is never delivered, a
// cancellation in a transaction lives or dies with it, and a job already due is not cancelled.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Consumer, InvalidOptionError, TransactionStateError } from "../src/index.js";
import { inTransaction } from "./support/in-transaction.js";
import { recorder } from "./support/recorder.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

describe("Client.cancelScheduled", () => {
  it("deletes scheduled jobs before they are due: they are never delivered, the others are", async () => {
    const { schema, client } = await db.freshSchema("cancel");
    const runAt = new Date(Date.now() + 400);
    const [kept, cancelled, alsoCancelled] = await client.enqueueMany(["kept", "cancelled", "also cancelled"], {
      runAt,
    });
    const unknown = 999_999_999n;
    assert.deepEqual(
      await client.cancelScheduled([alsoCancelled as bigint, unknown, cancelled as bigint]),
      [alsoCancelled, cancelled],
      "the ids cancelled, in the order given; an unknown id is not among them",
    );

    const record = recorder();
    const consumer = new Consumer(db.pool, record.handler, { schema, pollInterval: 5, promoteInterval: 20 });
    await consumer.start();
    try {
      await waitFor(() => record.counts().has(kept as bigint), { what: "the job that was not cancelled" });
      // Past the time the cancelled ones were due, plus a few promoter rounds.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, runAt.getTime() - Date.now()) + 200));
      assert.deepEqual(record.ids(), [kept]);
    } finally {
      await consumer.stop();
    }
    assert.deepEqual(await client.cancelScheduled([kept as bigint]), [], "a job already due is not cancelled");
  });

  it("in a transaction: rolled back, the job stays scheduled; committed, it is gone", async () => {
    const { schema, client } = await db.freshSchema("cancel_tx");
    const [id] = await client.enqueueMany(["reminder"], { runAt: new Date(Date.now() + 3_600_000) });
    const job = id as bigint;
    const scheduled = async () =>
      (await db.pool.query(`SELECT count(*)::int AS n FROM ${schema}.scheduled WHERE id = $1`, [job])).rows[0].n;

    await inTransaction(db.pool, "ROLLBACK", async (tx) => {
      assert.deepEqual(await client.cancelScheduled([job], { tx }), [job]);
    });
    assert.equal(await scheduled(), 1, "rolled back with the transaction");

    await inTransaction(db.pool, "COMMIT", async (tx) => {
      assert.deepEqual(await client.cancelScheduled([job], { tx }), [job]);
    });
    assert.equal(await scheduled(), 0, "committed with the transaction");
  });

  it("refuses ids that are not bigints, and a tx that is not in a transaction, before touching the database", async () => {
    const { client } = await db.freshSchema("cancel_bad");
    await assert.rejects(
      client.cancelScheduled([1 as never]),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "ids",
    );
    await assert.rejects(
      client.cancelScheduled("1" as never),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "ids",
    );
    await assert.rejects(
      client.cancelScheduled([1n], { tx: db.pool }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "tx",
    );
    const idle = await db.pool.connect();
    try {
      await assert.rejects(client.cancelScheduled([1n], { tx: idle }), TransactionStateError);
    } finally {
      idle.release();
    }
    assert.deepEqual(await client.cancelScheduled([]), []);
  });
});
