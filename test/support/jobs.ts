import type pg from "pg";
import type { Client } from "../../src/index.js";

/** Enqueues `count` jobs `{ i }` in one transaction on `pool`, committed or rolled back; their ids. */
export async function enqueueTransaction(
  pool: pg.Pool,
  client: Client,
  count: number,
  commit = true,
): Promise<bigint[]> {
  const tx = await pool.connect();
  try {
    await tx.query("BEGIN");
    const ids = await client.enqueueMany(
      Array.from({ length: count }, (_, i) => ({ i })),
      { tx },
    );
    await tx.query(commit ? "COMMIT" : "ROLLBACK");
    return ids;
  } catch (error) {
    await tx.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    tx.release();
  }
}

/** How many ids of `expected` are not in `seen`. */
export function missing(seen: Iterable<bigint>, expected: readonly bigint[]): number {
  const set = new Set(seen);
  return expected.filter((id) => !set.has(id)).length;
}

/** Every id of `expected` is in `seen`. */
export function coversAll(seen: Iterable<bigint>, expected: readonly bigint[]): boolean {
  return missing(seen, expected) === 0;
}
