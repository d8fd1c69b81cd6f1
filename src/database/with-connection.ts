import type { ConnectionSource, PooledConnection } from "./queryable.js";

/**
 * Checks a connection out of `pool`, runs `work` on it and gives it back. After an error the
 * connection may be inside a transaction or holding a session lock, so it is closed instead
 * of going back to the caller's pool.
 */
export async function withConnection<T>(
  pool: ConnectionSource,
  work: (connection: PooledConnection) => Promise<T>,
): Promise<T> {
  const connection = await pool.connect();
  let broken: Error | undefined;
  try {
    return await work(connection);
  } catch (error) {
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    connection.release(broken);
  }
}
