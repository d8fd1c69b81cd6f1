import { isNodePostgres } from "./node-postgres.js";
import { ownTypes } from "./own-types.js";
import type { Queryable } from "./queryable.js";

/**
 * Runs one of the library's statements and returns its rows. On a `pg` connection the rows
 * are parsed by `ownTypes`, whatever parsers the application configured; other drivers parse
 * by their own rules, so callers convert what they read (`Number(...)`, `String(...)`).
 * `name` prepares the statement on `pg` connections (parsed once per connection).
 */
export async function queryRows<Row>(db: Queryable, text: string, values?: unknown[], name?: string): Promise<Row[]> {
  if (isNodePostgres(db)) {
    const { rows } = await db.query({ text, values, name, types: ownTypes });
    return rows as Row[];
  }
  const { rows } = await db.query(text, values);
  return rows as Row[];
}

/** The first row of a statement that always returns one. */
export async function queryRow<Row>(db: Queryable, text: string, values?: unknown[]): Promise<Row> {
  const [row] = await queryRows<Row>(db, text, values);
  if (row === undefined) throw new Error("poutbox: a statement that returns one row returned none");
  return row;
}
