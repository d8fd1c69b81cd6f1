import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DataSource, EntitySchema } from "typeorm";
import { fromTypeOrm } from "../src/adapters/typeorm.js";
import { Client, InvalidOptionError, TransactionStateError } from "../src/index.js";
import { adapterSuite, Rollback } from "./support/adapter-suite.js";

interface Order {
  id: number;
  note: string;
}

const Orders = new EntitySchema<Order>({
  name: "Order",
  tableName: "orders",
  columns: { id: { type: Number, primary: true, generated: true }, note: { type: String } },
});

let dataSource: DataSource;

const db = adapterSuite("TypeORM (EntityManager)", async (test) => {
  dataSource = new DataSource({ type: "postgres", url: test.url, entities: [Orders], extra: { max: 2 } });
  await dataSource.initialize();
  return {
    db: fromTypeOrm(dataSource),
    async inTransaction(end, note, work) {
      let result: Awaited<ReturnType<typeof work>> | undefined;
      try {
        await dataSource.transaction(async (manager) => {
          await manager.insert(Orders, { note });
          result = await work(fromTypeOrm(manager));
          if (end === "rollback") throw new Rollback();
        });
      } catch (error) {
        if (!(error instanceof Rollback)) throw error;
      }
      return result as Awaited<ReturnType<typeof work>>;
    },
    close: () => dataSource.destroy(),
  };
});

describe("TypeORM adapter with a QueryRunner", () => {
  it("enqueues inside startTransaction(), keeps nothing after rollbackTransaction(), then refuses it", async () => {
    const { schema } = await db.freshSchema("runner");
    const outbox = new Client(fromTypeOrm(dataSource), { schema });
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const kept = await outbox.enqueue({ kept: true }, { tx: fromTypeOrm(runner) });
      await runner.commitTransaction();
      await runner.startTransaction();
      await outbox.enqueueMany([{ dropped: true }], { tx: fromTypeOrm(runner) });
      await runner.rollbackTransaction();
      await assert.rejects(outbox.enqueue({ late: true }, { tx: fromTypeOrm(runner) }), TransactionStateError);
      await assert.rejects(
        outbox.enqueue({ late: true }, { tx: fromTypeOrm(dataSource.manager) }),
        TransactionStateError,
      );
      const { rows } = await db.pool.query(`SELECT id::text FROM ${schema}.immediate`);
      assert.deepEqual(
        rows.map((row) => BigInt(row.id)),
        [kept],
      );
    } finally {
      await runner.release();
    }
  });

  it("refuses something that is not TypeORM", () => {
    assert.throws(() => fromTypeOrm({} as never), InvalidOptionError);
  });
});
