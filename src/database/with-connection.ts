import type pg from "pg";
import { connectListening } from "./connect.js";
import { defaultsToSerializable, restoreDefault, sessionReadCommitted } from "./isolation.js";
import { isNodePostgresPool } from "./node-postgres.js";
import type { ConnectionSource, PooledConnection } from "./queryable.js";

/**
 * Checks a connection out of `pool`, runs `work` on it and gives it back.
 *
 * While it is out, an `error` event on it (the server ended the session, the network broke)
 * is listened for, from the moment it is handed over (see connectListening), so that it cannot
 * end the process; the failure reaches `work` through its queries. A connection that failed,
 * or saw an error, may be inside a transaction, hold a session lock or be dead: it is closed
 * instead of going back to the caller's pool.
 *
 * On a pool whose sessions default to SERIALIZABLE, the connection runs at READ COMMITTED
 * while it is out (see isolation.ts), and gets its own default back before it goes back.
 */
export async function withConnection<T>(
  pool: ConnectionSource,
  work: (connection: PooledConnection) => Promise<T>,
): Promise<T> {
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken ??= error;
  };
  const serializable = isNodePostgresPool(pool) && (await defaultsToSerializable(pool));
  const connection = isNodePostgresPool(pool) ? await connectListening(pool, onError) : await pool.connect();
  try {
    const previous = serializable ? await ownDefault(connection) : undefined;
    const result = await work(connection);
    if (previous !== undefined) await connection.query(restoreDefault, [previous]);
    return result;
  } catch (error) {
    broken ??= error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    // A connection that broke keeps the listener: it may still report its end.
    if (!broken) (connection as Partial<pg.PoolClient>).off?.("error", onError);
    connection.release(broken);
  }
}

/** Sets the connection to READ COMMITTED; returns the default it had. */
async function ownDefault(connection: PooledConnection): Promise<string> {
  const { rows } = await connection.query(sessionReadCommitted);
  return (rows[0] as { previous: string }).previous;
}
