import pg from "pg";
import { Client } from "../../src/index.js";
import { payload } from "../database.js";
import { connections, inBatches, inTransactions } from "../scenarios/enqueue.js";
import type { Drained, EnqueueTask } from "./task.js";
import { peakRssMb } from "./task.js";

/**
 * Enqueues as enqueue_single or enqueue_bulk do, in a process of its own, so that an SDK can be
 * registered in it (or not) for this run alone. Seconds of enqueueing: the pool's connections
 * are made before the timing starts, by both shapes alike.
 */
export async function enqueueInChild(task: EnqueueTask): Promise<Drained> {
  const pool = new pg.Pool({ connectionString: task.url, max: connections });
  // Open every connection before the timing, as the main process's pool has them already.
  const warm = await Promise.all(Array.from({ length: connections }, () => pool.connect()));
  for (const connection of warm) connection.release();
  const client = new Client(pool, { schema: task.schema });
  const seconds =
    task.shape === "single"
      ? await inTransactions(pool, task.schema, task.n, (tx, index) =>
          client.enqueue(payload(index), { tx }).then(() => {}),
        )
      : await inBatches(task.n, (batch) => client.enqueueMany(batch).then(() => {}));
  await pool.end();
  return { seconds, peakRssMb: peakRssMb() };
}
