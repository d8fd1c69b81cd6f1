import type pg from "pg";

/**
 * Checks a connection out of `pool` with `onError` already listening for its `error` event.
 *
 * Attaching the listener after `await pool.connect()` is too late: pg hands out a new
 * connection from inside the parse loop, on the startup's ReadyForQuery, and a server message
 * that arrived in the same network read (the FATAL of a terminated backend, say) is emitted
 * before the awaiting code runs again; an `error` event with no listener ends the process.
 * The callback form of connect() runs in that same turn, so the listener is there in time.
 */
export function connectListening(pool: pg.Pool, onError: (error: Error) => void): Promise<pg.PoolClient> {
  return new Promise((resolve, reject) => {
    pool.connect((error, client) => {
      if (error || !client) {
        reject(error ?? new Error("the pool returned no connection"));
        return;
      }
      client.on("error", onError);
      resolve(client);
    });
  });
}
