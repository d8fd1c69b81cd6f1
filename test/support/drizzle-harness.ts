import { TransactionRollbackError } from "drizzle-orm";
import { type PgDatabase, type PgQueryResultHKT, pgTable, serial, text } from "drizzle-orm/pg-core";
import { fromDrizzle } from "../../src/adapters/drizzle.js";
import type { AdapterHarness } from "./adapter-suite.js";

/** The adapter suite's business table, as Drizzle sees it. */
export const orders = pgTable("orders", {
  id: serial("id").primaryKey(),
  note: text("note").notNull(),
});

/**
 * The adapter suite's harness for a Drizzle database on either driver: the same Drizzle calls
 * run on node-postgres and postgres.js, so only making the database and ending it differ.
 */
export function drizzleHarness(database: PgDatabase<PgQueryResultHKT>, close: () => Promise<void>): AdapterHarness {
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
        // Drizzle's rollback() throws this to end the transaction; the suite expects no error.
        if (!(error instanceof TransactionRollbackError)) throw error;
      }
      return result as Awaited<ReturnType<typeof work>>;
    },
    close,
  };
}
