import { queryRows } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";

/** The advisory-lock key text of one consumer name's leadership; hashed by the server. */
export function leaderLockKey(schema: string, consumer: string): string {
  return `poutbox.leader.${schema}.${consumer}`;
}

/**
 * The backend pid of the session holding a consumer's leader lock in this database, or null
 * when no process leads it. pg_locks shows a 64-bit advisory key as two 32-bit halves
 * (classid high, objid low, objsubid 1).
 */
export async function leaderLockHolder(db: Queryable, schema: string, consumer: string): Promise<number | null> {
  const [row] = await queryRows<{ pid: number }>(
    db,
    `SELECT l.pid FROM hashtextextended($1, 0) AS k(key)
     JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = ((k.key >> 32) & 4294967295)::oid AND l.objid = (k.key & 4294967295)::oid
     LIMIT 1`,
    [leaderLockKey(schema, consumer)],
  );
  return row ? Number(row.pid) : null;
}
