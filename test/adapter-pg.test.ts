import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { fromPg } from "../src/adapters/pg.js";
import { Client, InvalidOptionError, TransactionStateError } from "../src/index.js";
import { adapterSuite } from "./support/adapter-suite.js";
import { inTransaction } from "./support/in-transaction.js";

const db = adapterSuite("pg (Pool and PoolClient)", async (test) => {
  const pool = test.newPool({ max: 2 });
  return {
    db: fromPg(pool),
    refusal: InvalidOptionError,
    inTransaction: (end, note, work) =>
      inTransaction(pool, end === "commit" ? "COMMIT" : "ROLLBACK", async (tx) => {
        await tx.query("INSERT INTO orders (note) VALUES ($1)", [note]);
        return work(fromPg(tx));
      }),
    // The harness ends the pools it made.
    close: async () => {},
  };
});

describe("pg adapter with a Client", () => {
  it("enqueues on a pg Client inside BEGIN, and refuses it after COMMIT", async () => {
    const { schema } = await db.freshSchema("client");
    const connection = new pg.Client({ connectionString: db.url });
    await connection.connect();
    try {
      const outbox = new Client(fromPg(connection), { schema });
      await connection.query("BEGIN");
      const kept = await outbox.enqueue({ kept: true }, { tx: fromPg(connection) });
      await connection.query("COMMIT");
      await connection.query("BEGIN");
      const dropped = await outbox.enqueueMany([{ dropped: true }], { tx: fromPg(connection) });
      await connection.query("ROLLBACK");
      await assert.rejects(outbox.enqueue({ late: true }, { tx: fromPg(connection) }), TransactionStateError);
      const { rows } = await db.pool.query(`SELECT id::text FROM ${schema}.immediate ORDER BY id`);
      assert.deepEqual(
        rows.map((row) => BigInt(row.id)),
        [kept],
      );
      assert.equal(dropped.length, 1);
    } finally {
      await connection.end();
    }
  });

  it("refuses something that is not a pg connection", () => {
    assert.throws(
      () => fromPg({} as pg.Pool),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "db",
    );
  });
});
