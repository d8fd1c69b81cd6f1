import type pg from "pg";

/**
 * Runs `work` inside BEGIN on a connection of its own from `pool`, then commits or rolls back.
 * A step that fails rolls back too, so the connection goes back to the pool outside a transaction.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  end: "COMMIT" | "ROLLBACK",
  work: (tx: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const tx = await pool.connect();
  try {
    await tx.query("BEGIN");
    const result = await work(tx);
    await tx.query(end);
    return result;
  } catch (error) {
    await tx.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    tx.release();
  }
}
