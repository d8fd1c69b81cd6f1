import type pg from "pg";
import { defaultsToSerializable } from "./isolation.js";
import { isNodePostgres, isNodePostgresPool } from "./node-postgres.js";
import { ownTypes } from "./own-types.js";
import type { Queryable } from "./queryable.js";
import { sqlStates } from "./sql-state.js";
import { withConnection } from "./with-connection.js";

/**
 * One of the library's statements with the shape of the rows it returns, so that the code
 * that runs it needs no cast: `queryRows(db, statement)` gives rows of that shape. `Row`
 * exists for the type checker only.
 */
export interface Sql<Row> {
  readonly text: string;
  /**
   * Prepared under this name on `pg` connections: parsed once per connection, and planned once
   * when the server settles on a generic plan. For statements run at every batch, whose text
   * (a dozen CTEs) costs more to parse and plan than to execute.
   */
  readonly name?: string;
  /** Never set: it carries the row type. */
  readonly row?: Row;
}

/** Declares a statement and its row shape, as `*-queries.ts` files do. */
export function sql<Row = Record<string, never>>(text: string): Sql<Row> {
  return { text };
}

/**
 * Runs one of the library's statements and returns its rows. On a `pg` connection the rows
 * are parsed by `ownTypes`, whatever parsers the application configured; other drivers parse
 * by their own rules, so callers convert what they read (`Number(...)`, `String(...)`).
 * A statement with a `name` is prepared on `pg` connections (parsed once per connection).
 *
 * On a `pg` Pool each statement is a transaction of its own. A database or role may make every
 * transaction SERIALIZABLE (`default_transaction_isolation`), and then a statement can fail
 * with a serialization failure or a deadlock that an immediate retry of the same statement
 * resolves: nothing of it was written. So on a Pool those are retried a few times here, rather
 * than ending a consumer's term and delivering its batches again. Under a SERIALIZABLE
 * default, a statement on a Pool runs on a connection checked out for it at READ COMMITTED
 * (see isolation.ts): our reads must not make the application's transactions fail.
 */
export async function queryRows<Row>(db: Queryable, statement: string | Sql<Row>, values?: unknown[]): Promise<Row[]> {
  const { text, name } = typeof statement === "string" ? { text: statement, name: undefined } : statement;
  if (!isNodePostgres(db)) {
    const { rows } = await db.query(text, values);
    return rows as Row[];
  }
  // Annotated: as a bare alias of the type guard, it would narrow db to a Pool below.
  const autocommit: boolean = isNodePostgresPool(db);
  const config = { text, values, name, types: ownTypes };
  for (let attempt = 1; ; attempt++) {
    try {
      // Inside the try: the first ask, on a connection the server just ended, is retried too.
      const alone = autocommit && (await defaultsToSerializable(db as pg.Pool));
      const { rows } = alone
        ? await withConnection(db as pg.Pool, (connection) => (connection as pg.PoolClient).query(config))
        : await db.query(config);
      return rows as Row[];
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (!autocommit || attempt >= maxAttempts || !retryable.has(code as string)) throw error;
      await new Promise((resolve) => setTimeout(resolve, attempt * 5 * Math.random()));
    }
  }
}

/** The first row of a statement that always returns one. */
export async function queryRow<Row>(db: Queryable, statement: string | Sql<Row>, values?: unknown[]): Promise<Row> {
  const [row] = await queryRows<Row>(db, statement, values);
  if (row === undefined) throw new Error("poutbox: a statement that returns one row returned none");
  return row;
}

// A pool may also hand out a connection the server has just ended for its idle_session_timeout
// (its FATAL not yet read): the statement never reached the server, and another connection
// runs it.
const retryable = new Set<string>([
  sqlStates.serializationFailure,
  sqlStates.deadlockDetected,
  sqlStates.idleSessionTimeout,
]);
const maxAttempts = 5;
