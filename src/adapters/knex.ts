/**
 * Enqueue inside a Knex transaction.
 *
 * @module poutbox/knex
 */
import type { Queryable, TransactionAware } from "../database/queryable.js";
import { requireMethod } from "./connection-check.js";
import { type KnexRunner, knexQuery } from "./knex-raw.js";

export type { KnexRunner } from "./knex-raw.js";

/**
 * Runs Poutbox's statements through Knex (the `pg` client): the Knex instance as a client's
 * `db`, or a transaction (`knex.transaction(async (trx) => ...)` or
 * `await knex.transaction()`) as `tx`. Values travel as bind parameters.
 *
 * @example
 * ```ts
 * import { fromKnex } from "poutbox/knex";
 * await knex.transaction(async (trx) => {
 *   await trx("orders").insert({ id: orderId });
 *   await outbox.enqueue({ orderId }, { tx: fromKnex(trx) });
 * });
 * ```
 */
export function fromKnex(knex: KnexRunner): Queryable & TransactionAware {
  requireMethod(knex, "raw", "a Knex instance or transaction");
  const trx = knex as { isTransaction?: boolean; isCompleted?: () => boolean };
  return {
    query: (text, values) => knexQuery(knex, text, values),
    getTransactionStatus: () => (trx.isTransaction === true && trx.isCompleted?.() !== true ? "T" : "I"),
  };
}
