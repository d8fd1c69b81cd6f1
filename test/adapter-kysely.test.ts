import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Generated, Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { fromKysely } from "../src/adapters/kysely.js";
import { Client, InvalidOptionError, TransactionStateError } from "../src/index.js";
import { adapterSuite, Rollback } from "./support/adapter-suite.js";

interface Database {
  orders: { id: Generated<number>; note: string };
}

let kysely: Kysely<Database>;

const db = adapterSuite("Kysely", async (test) => {
  kysely = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: test.url, max: 2 }) }),
  });
  return {
    db: fromKysely(kysely),
    async inTransaction(end, note, work) {
      let result: Awaited<ReturnType<typeof work>> | undefined;
      try {
        await kysely.transaction().execute(async (trx) => {
          await trx.insertInto("orders").values({ note }).execute();
          result = await work(fromKysely(trx));
          if (end === "rollback") throw new Rollback();
        });
      } catch (error) {
        if (!(error instanceof Rollback)) throw error;
      }
      return result as Awaited<ReturnType<typeof work>>;
    },
    close: () => kysely.destroy(),
  };
});

describe("Kysely adapter", () => {
  it("enqueues in a controlled transaction and refuses it once committed", async (t) => {
    const { schema } = await db.freshSchema("controlled");
    const outbox = new Client(fromKysely(kysely), { schema });
    const trx = await kysely.startTransaction().execute();
    t.after(() => (trx.isCommitted || trx.isRolledBack ? undefined : trx.rollback().execute()));
    const id = await outbox.enqueue({ controlled: true }, { tx: fromKysely(trx) });
    await trx.commit().execute();
    await assert.rejects(outbox.enqueue({ late: true }, { tx: fromKysely(trx) }), TransactionStateError);
    const { rows } = await db.pool.query(`SELECT id::text FROM ${schema}.immediate`);
    assert.deepEqual(
      rows.map((row) => BigInt(row.id)),
      [id],
    );
  });

  it("refuses something that is not Kysely", () => {
    assert.throws(() => fromKysely({} as never), InvalidOptionError);
  });
});
