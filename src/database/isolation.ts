import type pg from "pg";

/**
 * How the library's own transactions begin: READ COMMITTED, named, whatever the session's
 * `default_transaction_isolation`. Every statement of ours takes the snapshot it needs itself
 * (or names REPEATABLE READ where one snapshot must span statements), so a stricter default
 * adds nothing but failures: under SERIALIZABLE the consumer's reads of the outbox take
 * predicate locks, become the pivot between the application's transactions, and get those
 * transactions cancelled with serialization failures they did nothing to cause.
 */
export const beginReadCommitted = "BEGIN ISOLATION LEVEL READ COMMITTED";

// Per pool, whether its sessions default to SERIALIZABLE, learned by the first statement of
// ours that runs on it. REPEATABLE READ takes no predicate locks: a statement of ours that
// runs alone under it can only fail where a concurrent update conflicts, and is retried.
const serializableByPool = new WeakMap<pg.Pool, Promise<boolean>>();

/**
 * Whether `pool`'s sessions make every transaction SERIALIZABLE (a role's or database's
 * `default_transaction_isolation`). Asked once per pool; an error is not remembered.
 */
export function defaultsToSerializable(pool: pg.Pool): Promise<boolean> {
  let known = serializableByPool.get(pool);
  if (!known) {
    known = pool
      .query("SELECT pg_catalog.current_setting('default_transaction_isolation') AS level")
      .then(({ rows }) => (rows[0] as { level: string }).level === "serializable");
    serializableByPool.set(pool, known);
    known.catch(() => serializableByPool.delete(pool));
  }
  return known;
}

/**
 * Makes a connection just checked out of a SERIALIZABLE-by-default pool run our statements,
 * alone or in a transaction, at READ COMMITTED, and returns the connection's own default as it
 * was (`previous`): `restoreDefault` sets exactly that back before the connection goes back.
 * Not RESET: that would give the role's or server's value, not one the application set on the
 * connection itself (a pool's `connect` hook running SET, say). The subquery is kept apart
 * (OFFSET 0) so that the old value is read before set_config changes it.
 */
export const sessionReadCommitted = `SELECT before.previous,
       pg_catalog.set_config('default_transaction_isolation', 'read committed', false) AS now
  FROM (SELECT pg_catalog.current_setting('default_transaction_isolation') AS previous OFFSET 0) AS before`;
/** $1: the `previous` that sessionReadCommitted returned. */
export const restoreDefault = "SELECT pg_catalog.set_config('default_transaction_isolation', $1, false)";
