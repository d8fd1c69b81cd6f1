import type pg from "pg";
import type { Client } from "../../src/index.js";
import { inTransaction } from "./in-transaction.js";

/** Enqueues `count` jobs `{ i }` in one transaction on `pool`, committed or rolled back; their ids. */
export async function enqueueTransaction(
  pool: pg.Pool,
  client: Client,
  count: number,
  commit = true,
): Promise<bigint[]> {
  return inTransaction(pool, commit ? "COMMIT" : "ROLLBACK", (tx) =>
    client.enqueueMany(
      Array.from({ length: count }, (_, i) => ({ i })),
      { tx },
    ),
  );
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

/** `transactions` committed transactions of `count` jobs each, one after the other; all their ids. */
export async function enqueueTransactions(
  pool: pg.Pool,
  client: Client,
  transactions: number,
  count: number,
): Promise<bigint[]> {
  const ids: bigint[] = [];
  for (let i = 0; i < transactions; i++) ids.push(...(await enqueueTransaction(pool, client, count)));
  return ids;
}
