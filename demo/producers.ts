import type pg from "pg";
import type { Client } from "../src/index.js";
import { shopSchema } from "./database.js";

/** What the demo puts in each job: enough to find the order again and to tell runs apart. */
export interface OrderJob {
  readonly run: string;
  readonly order: string;
  readonly email: string;
  readonly total: number;
}

export interface ProducerOptions {
  readonly run: string;
  /** Orders to attempt in all; 0 for no limit. */
  readonly orders: number;
  readonly producers: number;
  /** Orders per second at most, all producers together; 0 for no limit. */
  readonly rate: number;
  readonly rollbackRate: number;
  readonly signal: AbortSignal;
}

/** Running totals, read by the progress display. */
export class ProducerCounts {
  attempted = 0;
  committed = 0;
  rolledBack = 0;
}

/**
 * Producers, each on a connection of its own: an order row and its job in one transaction,
 * committed, or rolled back on purpose for a share of them. Stop when the count is reached or
 * the signal fires (a transaction under way is finished first, so every order is either
 * committed or rolled back, never left open).
 */
export async function produceOrders(
  pool: pg.Pool,
  outbox: Client<OrderJob>,
  options: ProducerOptions,
  counts: ProducerCounts,
): Promise<void> {
  const started = Date.now();
  const next = (): number | undefined => {
    if (options.signal.aborted) return undefined;
    if (options.orders > 0 && counts.attempted >= options.orders) return undefined;
    return counts.attempted++;
  };
  const producer = async () => {
    const tx = await pool.connect();
    try {
      for (let n = next(); n !== undefined; n = next()) {
        if (options.rate > 0) await pace(started + (n * 1000) / options.rate, options.signal);
        await placeOrder(tx, outbox, options, n, counts);
      }
    } finally {
      tx.release();
    }
  };
  await Promise.all(Array.from({ length: options.producers }, producer));
}

async function placeOrder(
  tx: pg.PoolClient,
  outbox: Client<OrderJob>,
  options: ProducerOptions,
  n: number,
  counts: ProducerCounts,
): Promise<void> {
  const email = `customer${n}@example.com`;
  const total = 100 + ((n * 7919) % 90_000);
  await tx.query("BEGIN");
  try {
    const { rows } = await tx.query(
      `INSERT INTO ${shopSchema}.orders (run, email, total) VALUES ($1, $2, $3) RETURNING id::text AS id`,
      [options.run, email, total],
    );
    await outbox.enqueue({ run: options.run, order: rows[0].id, email, total }, { tx, topic: "order.created" });
    if (Math.random() < options.rollbackRate) {
      // As if the request failed after the job was enqueued: the order and its job vanish together.
      await tx.query("ROLLBACK");
      counts.rolledBack++;
    } else {
      await tx.query("COMMIT");
      counts.committed++;
    }
  } catch (error) {
    await tx.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/** Waits until `at` (ms since the epoch), or until the signal fires. */
function pace(at: number, signal: AbortSignal): Promise<void> {
  const wait = at - Date.now();
  if (wait <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, wait);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
