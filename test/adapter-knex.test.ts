import assert from "node:assert/strict";
import { describe, it } from "node:test";
import knexFactory, { type Knex } from "knex";
import { fromKnex } from "../src/adapters/knex.js";
import { Client, InvalidOptionError, TransactionStateError } from "../src/index.js";
import { adapterSuite, Rollback } from "./support/adapter-suite.js";

let knex: Knex;

const db = adapterSuite("Knex", async (test) => {
  knex = knexFactory({ client: "pg", connection: test.url, pool: { min: 0, max: 2 } });
  return {
    db: fromKnex(knex),
    async inTransaction(end, note, work) {
      let result: Awaited<ReturnType<typeof work>> | undefined;
      try {
        await knex.transaction(async (trx) => {
          await trx("orders").insert({ note });
          result = await work(fromKnex(trx));
          if (end === "rollback") throw new Rollback();
        });
      } catch (error) {
        if (!(error instanceof Rollback)) throw error;
      }
      return result as Awaited<ReturnType<typeof work>>;
    },
    close: () => knex.destroy(),
  };
});

describe("Knex adapter", () => {
  it("enqueues in a transaction object and refuses it once committed", async (t) => {
    const { schema } = await db.freshSchema("trx");
    const outbox = new Client(fromKnex(knex), { schema });
    const trx = await knex.transaction();
    t.after(() => (trx.isCompleted() ? undefined : trx.rollback()));
    const ids = await outbox.enqueueMany([{ a: "what?" }, { b: "$1 ?? ?" }], { tx: fromKnex(trx) });
    await trx.commit();
    await assert.rejects(outbox.enqueue({ late: true }, { tx: fromKnex(trx) }), TransactionStateError);
    const { rows } = await db.pool.query(`SELECT payload FROM ${schema}.immediate ORDER BY id`);
    assert.equal(ids.length, 2);
    // Question marks and dollar signs in values are data, never placeholders.
    assert.deepEqual(
      rows.map((row) => row.payload),
      [{ a: "what?" }, { b: "$1 ?? ?" }],
    );
  });

  it("refuses something that is not Knex", () => {
    assert.throws(() => fromKnex({} as never), InvalidOptionError);
  });
});
