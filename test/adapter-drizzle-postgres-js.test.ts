import { TransactionRollbackError } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { fromDrizzle } from "../src/adapters/drizzle.js";
import { adapterSuite } from "./support/adapter-suite.js";
import { orders } from "./support/drizzle-orders.js";

adapterSuite("Drizzle (postgres.js)", async (test) => {
  const sql = postgres(test.url, { max: 2, onnotice: () => {} });
  const database = drizzle({ client: sql });
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
    close: () => sql.end(),
  };
});
