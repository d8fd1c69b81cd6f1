/**
 * Enqueue inside a TypeORM transaction: its EntityManager, or a QueryRunner after
 * `startTransaction()`.
 *
 * @module poutbox/typeorm
 */
import type { Queryable, TransactionAware } from "../database/queryable.js";
import { requireMethod } from "./connection-check.js";

/** The subset of a TypeORM QueryRunner that Poutbox uses. */
export interface TypeOrmQueryRunner {
  // biome-ignore lint/suspicious/noExplicitAny: TypeORM declares its parameters and result as any.
  query(query: string, parameters?: any[], useStructuredResult?: boolean): Promise<any>;
  readonly isTransactionActive: boolean;
}

/** The subset of a TypeORM EntityManager or DataSource that Poutbox uses. */
export interface TypeOrmQueryable {
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  query(query: string, parameters?: any[]): Promise<any>;
  /** An EntityManager's own runner: set on the manager a `transaction(...)` callback receives. */
  readonly queryRunner?: TypeOrmQueryRunner;
}

/**
 * Runs Poutbox's statements through TypeORM (the `postgres` driver): a DataSource as a
 * client's `db`, or as `tx` the EntityManager a `dataSource.transaction(...)` callback
 * receives, or a QueryRunner after `startTransaction()`.
 *
 * @example
 * ```ts
 * import { fromTypeOrm } from "poutbox/typeorm";
 * await dataSource.transaction(async (manager) => {
 *   await manager.insert(Order, { id: orderId });
 *   await outbox.enqueue({ orderId }, { tx: fromTypeOrm(manager) });
 * });
 * ```
 */
export function fromTypeOrm(source: TypeOrmQueryRunner | TypeOrmQueryable): Queryable & TransactionAware {
  requireMethod(source, "query", "a TypeORM DataSource, EntityManager or QueryRunner");
  const runner = "isTransactionActive" in source ? source : source.queryRunner;
  if (!runner) {
    // A DataSource, or a manager outside a transaction: each statement on any pooled connection.
    return {
      async query(text, values) {
        return { rows: [...((await source.query(text, values)) as unknown[])] };
      },
      getTransactionStatus: () => "I",
    };
  }
  return {
    async query(text, values) {
      // The structured result always carries the rows, whatever the statement's command.
      const result = (await runner.query(text, values, true)) as { records?: unknown[] };
      return { rows: [...(result.records ?? [])] };
    },
    getTransactionStatus: () => (runner.isTransactionActive ? "T" : "I"),
  };
}
