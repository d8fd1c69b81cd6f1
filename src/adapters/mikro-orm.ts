/**
 * Enqueue inside a MikroORM transaction (`em.transactional`).
 *
 * @module poutbox/mikro-orm
 */
import type { Queryable, TransactionAware } from "../database/queryable.js";
import { requireMethod } from "./connection-check.js";
import { type KnexRunner, knexQuery } from "./knex-raw.js";

/** The subset of a MikroORM 6 SQL EntityManager (`@mikro-orm/postgresql`) that Poutbox uses. */
export interface MikroOrmEntityManager {
  getKnex(): KnexRunner;
  // biome-ignore lint/suspicious/noExplicitAny: MikroORM types its transaction context as any driver object.
  getTransactionContext<Context = any>(): Context | undefined;
  isInTransaction(): boolean;
}

/**
 * Runs Poutbox's statements through MikroORM 6 with the PostgreSQL driver: the fork an
 * `em.transactional(...)` callback receives (or an `em` after `em.begin()`) as `tx`, or any
 * EntityManager as a client's `db`. Statements go through the Knex transaction MikroORM
 * holds, with bind parameters (MikroORM's own `execute` would inline the values).
 *
 * @example
 * ```ts
 * import { fromMikroOrm } from "poutbox/mikro-orm";
 * await orm.em.transactional(async (em) => {
 *   em.persist(em.create(Order, { email }));
 *   await em.flush();
 *   await outbox.enqueue({ email }, { tx: fromMikroOrm(em) });
 * });
 * ```
 */
export function fromMikroOrm(em: MikroOrmEntityManager): Queryable & TransactionAware {
  requireMethod(em, "getKnex", "a MikroORM 6 SQL EntityManager");
  return {
    // Read the context at each call: the same fork may begin and end transactions.
    query: (text, values) => knexQuery(em.getTransactionContext<KnexRunner>() ?? em.getKnex(), text, values),
    getTransactionStatus: () => (em.isInTransaction() ? "T" : "I"),
  };
}
