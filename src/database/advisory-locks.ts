import { queryRow, queryRows, sql } from "./query-rows.js";
import type { Queryable } from "./queryable.js";

// Every advisory lock of the library is keyed by a text (see schema/server-names.ts) that the
// server hashes to 64 bits with hashtextextended. Results are read through the library's own
// types: an application's bool parser may give 't' or 'f'.

const tryLock = sql<{ taken: boolean }>("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS taken");
const unlock = sql<{ unlocked: boolean }>("SELECT pg_advisory_unlock(hashtextextended($1, 0)) AS unlocked");
const transactionLock = sql("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))");

// pg_locks shows a 64-bit advisory key as two 32-bit halves (classid high, objid low, objsubid 1).
const holderFind = sql<{ pid: number }>(
  `SELECT l.pid FROM hashtextextended($1, 0) AS k(key)
   JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid = ((k.key >> 32) & 4294967295)::oid AND l.objid = (k.key & 4294967295)::oid
   LIMIT 1`,
);

/** Takes the session-level lock unless another session holds it; true when taken. */
export async function tryAdvisoryLock(db: Queryable, key: string): Promise<boolean> {
  const { taken } = await queryRow(db, tryLock, [key]);
  return taken === true;
}

/** Gives a session-level lock back. */
export async function advisoryUnlock(db: Queryable, key: string): Promise<void> {
  await db.query(unlock.text, [key]);
}

/** Waits for the lock and holds it to the end of the current transaction. */
export async function advisoryTransactionLock(db: Queryable, key: string): Promise<void> {
  await db.query(transactionLock.text, [key]);
}

/** The backend pid of the session holding the lock in this database, or null. */
export async function advisoryLockHolder(db: Queryable, key: string): Promise<number | null> {
  const [row] = await queryRows(db, holderFind, [key]);
  return row ? Number(row.pid) : null;
}
