/**
 * The subset of a PostgreSQL driver that Poutbox needs: run one parameterised statement and
 * get its rows. A `pg` Pool, Client and PoolClient satisfy it as they are; adapters make
 * other drivers fit. Parameters are `$1, $2...` and values are strings, numbers, booleans
 * or null: nothing driver-specific (arrays, dates, JSON objects) crosses this seam.
 */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** A connection that may report whether it is inside a transaction (`pg` does, since 8.16). */
export interface TransactionAware {
  /** `I` idle, `T` in a transaction, `E` in a failed transaction, null before the first query. */
  getTransactionStatus(): "I" | "T" | "E" | null;
}

/**
 * A connection whose library reports database errors in its own shape (Prisma does), and can
 * tell the SQLSTATE of one. Poutbox otherwise reads `code` on the error or along its `cause`
 * chain (Drizzle wraps the driver's error in its own).
 */
export interface SqlStateAware {
  sqlState(error: unknown): string | undefined;
}

/** A connection checked out of a pool. */
export interface PooledConnection extends Queryable {
  release(destroy?: boolean | Error): void;
}

/** Something that hands out dedicated connections, such as a `pg` Pool. */
export interface ConnectionSource {
  connect(): Promise<PooledConnection>;
}
