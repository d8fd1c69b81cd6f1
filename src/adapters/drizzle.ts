/**
 * Enqueue inside a Drizzle transaction (node-postgres or postgres.js driver).
 *
 * @module poutbox/drizzle
 */
import { type SQL, sql } from "drizzle-orm";
import type { Queryable, TransactionAware } from "../database/queryable.js";
import { requireMethod } from "./connection-check.js";
import { splitAtPlaceholders } from "./numbered-parameters.js";

/** The subset of a Drizzle PostgreSQL database or transaction that Poutbox uses. */
export interface DrizzleDatabase {
  execute(query: SQL): PromiseLike<unknown>;
}

/**
 * Runs Poutbox's statements through Drizzle, on its node-postgres or postgres.js driver: the
 * database as a client's `db`, or the `tx` a `db.transaction(...)` callback receives.
 * Values travel as bind parameters (`sql.param`), never spliced into the text.
 *
 * @example
 * ```ts
 * import { fromDrizzle } from "poutbox/drizzle";
 * await db.transaction(async (tx) => {
 *   await tx.insert(orders).values({ id: orderId });
 *   await outbox.enqueue({ orderId }, { tx: fromDrizzle(tx) });
 * });
 * ```
 */
export function fromDrizzle(db: DrizzleDatabase): Queryable & TransactionAware {
  requireMethod(db, "execute", "a Drizzle database or transaction");
  // Only a transaction has rollback(); the database sends each statement to any pooled connection.
  const inTransaction = typeof (db as { rollback?: unknown }).rollback === "function";
  return {
    async query(text, values) {
      const { parts, values: ordered } = splitAtPlaceholders(text, values);
      const chunks: SQL[] = [sql.raw(parts[0] ?? "")];
      ordered.forEach((value, index) => {
        chunks.push(sql`${sql.param(value)}`, sql.raw(parts[index + 1] ?? ""));
      });
      const result = await db.execute(sql.join(chunks));
      // node-postgres gives a result with rows; postgres.js gives the rows themselves.
      return { rows: Array.isArray(result) ? [...result] : [...((result as { rows?: unknown[] }).rows ?? [])] };
    },
    getTransactionStatus: () => (inTransaction ? "T" : "I"),
  };
}
