import pg from "pg";
import { Client } from "../../src/index.js";
import { payload } from "../database.js";
import { connections, inBatches, inTransactions } from "../scenarios/enqueue.js";
import type { Drained, EnqueueTask } from "./task.js";
import { peakRssMb } from "./task.js";

/** Untimed work each child does first: transactions (single) or calls of 1,000 (many). */
const warmUp = { single: 5000, many: 20 } as const;

/**
 * Enqueues as enqueue_single or enqueue_bulk do, in a process of its own, so that an SDK can be
 * registered in it (or not) for this run alone. Seconds of enqueueing: the pool's connections
 * are made, and `warmUp` enqueues run, before the timing starts, by both sides alike. A fresh
 * process runs its first few thousand calls before the JIT has compiled the code they take,
 * and with an SDK there is much more of that code (spans, attributes, the exporter's queue):
 * untimed, the first 5,000 transactions with an SDK ran at 0.6 of the rate of the later ones,
 * which a timed run of 20,000 counted but a service that runs for days does not.
 */
export async function enqueueInChild(task: EnqueueTask): Promise<Drained> {
  const pool = new pg.Pool({ connectionString: task.url, max: connections });
  // Open every connection before the timing, as the main process's pool has them already.
  const warm = await Promise.all(Array.from({ length: connections }, () => pool.connect()));
  for (const connection of warm) connection.release();
  const client = new Client(pool, { schema: task.schema });
  const run = (n: number) =>
    task.shape === "single"
      ? inTransactions(pool, task.schema, n, (tx, index) => client.enqueue(payload(index), { tx }).then(() => {}))
      : inBatches(n, (batch) => client.enqueueMany(batch).then(() => {}));
  await run(task.shape === "single" ? warmUp.single : warmUp.many * 1000);
  const seconds = await run(task.n);
  await pool.end();
  return { seconds, peakRssMb: peakRssMb() };
}
