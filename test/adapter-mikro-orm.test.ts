import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EntitySchema, MikroORM } from "@mikro-orm/postgresql";
import { fromMikroOrm } from "../src/adapters/mikro-orm.js";
import { InvalidOptionError } from "../src/index.js";
import { adapterSuite, Rollback } from "./support/adapter-suite.js";

interface Order {
  id: number;
  note: string;
}

const Orders = new EntitySchema<Order>({
  name: "Order",
  tableName: "orders",
  properties: { id: { type: "number", primary: true }, note: { type: "string" } },
});

adapterSuite("MikroORM", async (test) => {
  const orm = await MikroORM.init({
    clientUrl: test.url,
    entities: [Orders],
    pool: { min: 0, max: 2 },
    discovery: { warnWhenNoEntities: false },
  });
  return {
    db: fromMikroOrm(orm.em.fork()),
    async inTransaction(end, note, work) {
      let result: Awaited<ReturnType<typeof work>> | undefined;
      try {
        await orm.em.fork().transactional(async (em) => {
          em.create(Orders, { note });
          await em.flush();
          result = await work(fromMikroOrm(em));
          if (end === "rollback") throw new Rollback();
        });
      } catch (error) {
        if (!(error instanceof Rollback)) throw error;
      }
      return result as Awaited<ReturnType<typeof work>>;
    },
    close: () => orm.close(true),
  };
});

describe("MikroORM adapter", () => {
  it("refuses something that is not a MikroORM SQL EntityManager", () => {
    assert.throws(() => fromMikroOrm({} as never), InvalidOptionError);
  });
});
