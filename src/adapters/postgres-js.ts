/**
 * Enqueue inside a postgres.js transaction (`sql.begin`).
 *
 * @module poutbox/postgres-js
 */
import type { Queryable, TransactionAware } from "../database/queryable.js";
import { requireMethod } from "./connection-check.js";

/** The subset of a postgres.js `sql` (the root one, or a transaction's) that Poutbox uses. */
export interface PostgresJsSql {
  unsafe(query: string, parameters?: unknown[]): PromiseLike<readonly unknown[]>;
}

/**
 * Runs Poutbox's statements through postgres.js: the root `sql` as a client's `db`, or the
 * `sql` a `sql.begin(...)` callback receives as `tx`. Values travel as bind parameters.
 *
 * @example
 * ```ts
 * import { fromPostgresJs } from "poutbox/postgres-js";
 * const outbox = new Client(fromPostgresJs(sql));
 * await sql.begin(async (tx) => {
 *   await tx`INSERT INTO orders (id) VALUES (${orderId})`;
 *   await outbox.enqueue({ orderId }, { tx: fromPostgresJs(tx) });
 * });
 * ```
 */
export function fromPostgresJs(sql: PostgresJsSql): Queryable & Partial<TransactionAware> {
  requireMethod(sql, "unsafe", "a postgres.js sql");
  const adapted: Queryable & Partial<TransactionAware> = {
    async query(text, values) {
      return { rows: [...(await sql.unsafe(text, values ?? []))] };
    },
  };
  // A transaction's sql has savepoint(); only the root sql, which sends each statement to
  // any pooled connection, has begin(). A reserved connection says neither: left unchecked.
  if (typeof (sql as { savepoint?: unknown }).savepoint === "function") adapted.getTransactionStatus = () => "T";
  else if (typeof (sql as { begin?: unknown }).begin === "function") adapted.getTransactionStatus = () => "I";
  return adapted;
}
