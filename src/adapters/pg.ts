/**
 * node-postgres (`pg`): a Pool, Client or PoolClient is accepted as it is; `fromPg` checks
 * one and returns it unchanged, for code that passes every library through an adapter.
 *
 * @module poutbox/pg
 */
import type { Queryable } from "../database/queryable.js";
import { requireMethod } from "./connection-check.js";

/**
 * A `pg` Pool, Client or PoolClient already is a {@link Queryable}, and a Client or
 * PoolClient reports its transaction status itself, so this returns it unchanged. It exists
 * so that every driver is used the same way; passing the `pg` object directly is the same.
 *
 * @example
 * ```ts
 * import { fromPg } from "poutbox/pg";
 * const outbox = new Client(fromPg(pool));
 * const tx = await pool.connect();
 * await tx.query("BEGIN");
 * await outbox.enqueue({ orderId }, { tx: fromPg(tx) });
 * await tx.query("COMMIT");
 * tx.release();
 * ```
 */
export function fromPg<Connection extends Queryable>(db: Connection): Connection {
  requireMethod(db, "query", "a pg Pool, Client or PoolClient");
  return db;
}
