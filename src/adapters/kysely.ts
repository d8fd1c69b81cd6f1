/**
 * Enqueue inside a Kysely transaction.
 *
 * @module poutbox/kysely
 */
import { CompiledQuery } from "kysely";
import type { Queryable, TransactionAware } from "../database/queryable.js";
import { requireMethod } from "./connection-check.js";

/** The subset of a Kysely instance or transaction that Poutbox uses. */
export interface KyselyExecutor {
  executeQuery(query: CompiledQuery<unknown>): Promise<{ readonly rows: readonly unknown[] }>;
  readonly isTransaction: boolean;
  /** Set on a controlled transaction (`db.startTransaction()`) once it has ended. */
  readonly isCommitted?: boolean;
  readonly isRolledBack?: boolean;
}

/**
 * Runs Poutbox's statements through Kysely (any PostgreSQL dialect): the `Kysely` instance as
 * a client's `db`, or a transaction (`db.transaction().execute(...)` or
 * `db.startTransaction()`) as `tx`.
 *
 * @example
 * ```ts
 * import { fromKysely } from "poutbox/kysely";
 * await db.transaction().execute(async (trx) => {
 *   await trx.insertInto("orders").values({ id: orderId }).execute();
 *   await outbox.enqueue({ orderId }, { tx: fromKysely(trx) });
 * });
 * ```
 */
export function fromKysely(db: KyselyExecutor): Queryable & TransactionAware {
  requireMethod(db, "executeQuery", "a Kysely instance or transaction");
  return {
    async query(text, values) {
      const result = await db.executeQuery(CompiledQuery.raw(text, values ?? []));
      return { rows: [...result.rows] };
    },
    getTransactionStatus: () => (db.isTransaction && !db.isCommitted && !db.isRolledBack ? "T" : "I"),
  };
}
