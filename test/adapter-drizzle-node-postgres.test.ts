import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TransactionRollbackError } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { fromDrizzle } from "../src/adapters/drizzle.js";
import { InvalidOptionError } from "../src/index.js";
import { adapterSuite } from "./support/adapter-suite.js";
import { orders } from "./support/drizzle-orders.js";

adapterSuite("Drizzle (node-postgres)", async (test) => {
  const pool = new pg.Pool({ connectionString: test.url, max: 2 });
  const database = drizzle({ client: pool });
  return {
    db: fromDrizzle(database),
    async inTransaction(end, note, work) {
      let result: Awaited<ReturnType<typeof work>> | undefined;
      try {
        await database.transaction(async (tx) => {
          await tx.insert(orders).values({ note });
          result = await work(fromDrizzle(tx));
          if (end === "rollback") tx.rollback();
        });
      } catch (error) {
        if (!(error instanceof TransactionRollbackError)) throw error;
      }
      return result as Awaited<ReturnType<typeof work>>;
    },
    close: () => pool.end(),
  };
});

describe("Drizzle adapter", () => {
  it("refuses something that is not a Drizzle database", () => {
    assert.throws(() => fromDrizzle({} as never), InvalidOptionError);
  });
});
