import { randomBytes } from "node:crypto";
import pg from "pg";
import { Client } from "../../src/index.js";
import type { Ledger } from "./ledger.js";

export interface ProduceOptions {
  /** Transactions to attempt. */
  readonly transactions: number;
  /** Jobs per transaction. Default 1. */
  readonly size?: number;
  /** Every n-th transaction rolls back on purpose (0: none). Default 10. */
  readonly rollbackEvery?: number;
  /** Producers at once. Default 2. */
  readonly concurrency?: number;
  /** Pause between a producer's transactions, ms. Default 0. */
  readonly pause?: number;
  /** Bytes of filler in each payload. Default 0. */
  readonly payloadBytes?: number;
  /** Roll back to a savepoint holding an extra job, in every transaction. */
  readonly savepoint?: boolean;
  /** Random (incompressible) filler instead of a repeated character. */
  readonly random?: boolean;
  /**
   * Give the jobs ordering keys: each producer its own `keys` keys (`p<producer>.k<i>`), in
   * turn, so that a key's jobs commit in the order they were enqueued. Default 0: no keys.
   */
  readonly keys?: number;
  /** Receives each transaction's duration, ms, from BEGIN to the end of COMMIT. */
  readonly latencies?: number[];
  readonly signal?: AbortSignal;
}

/**
 * Producers that write an order row and its job in one transaction, as an application
 * does, and log each outcome. Errors (a server restarting, a cut connection) are part of
 * the scenario: a transaction that failed before COMMIT was sent is rolled back; one whose
 * COMMIT got no answer is unknown until the ledger looks for its order row. Resolves when
 * every transaction was attempted.
 */
export async function produce(url: string, schema: string, ledger: Ledger, options: ProduceOptions): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: options.concurrency ?? 2, connectionTimeoutMillis: 5000 });
  pool.on("error", () => {});
  const client = new Client(pool, { schema });
  const filler = "x".repeat(options.payloadBytes ?? 0);
  let next = 0;
  const worker = async (_: unknown, producer: number) => {
    const seqs = new Map<string, number>();
    let own = 0;
    while (!options.signal?.aborted) {
      const n = next++;
      if (n >= options.transactions) return;
      const key = options.keys ? `p${producer}.k${own++ % options.keys}` : undefined;
      const keyed = key === undefined ? undefined : { key, seqs };
      await transaction(pool, client, schema, ledger, n, filler, options, keyed);
      if (options.pause) await new Promise((resolve) => setTimeout(resolve, options.pause));
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 2 }, worker));
  } finally {
    await pool.end();
  }
}

async function transaction(
  pool: pg.Pool,
  client: Client,
  schema: string,
  ledger: Ledger,
  n: number,
  filler: string,
  options: ProduceOptions,
  keyed?: { readonly key: string; readonly seqs: Map<string, number> },
): Promise<void> {
  let tx: pg.PoolClient;
  try {
    tx = await pool.connect();
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return;
  }
  let ids: bigint[] = [];
  let commitSent = false;
  let broken = false;
  const cut = () => {
    broken = true;
  };
  tx.on("error", cut);
  try {
    await tx.query("BEGIN");
    const started = performance.now();
    const payloads = Array.from({ length: options.size ?? 1 }, (_, i) => ({
      n,
      i,
      filler: options.random ? randomBytes(Math.ceil(filler.length * 0.75)).toString("base64") : filler,
    }));
    // A key's places are taken in enqueue order; those of a transaction that rolls back are
    // never delivered, so gaps do not matter.
    const first = keyed ? (keyed.seqs.get(keyed.key) ?? 0) : 0;
    if (keyed) keyed.seqs.set(keyed.key, first + payloads.length);
    const keyedPayloads = keyed
      ? payloads.map((payload, i) => ({ ...payload, key: keyed.key, seq: first + i }))
      : payloads;
    ids = await client.enqueueMany(keyedPayloads, keyed ? { tx, key: keyed.key } : { tx });
    if (keyed) {
      for (const [i, id] of ids.entries()) ledger.keys.set(id, { key: keyed.key, seq: first + i });
    }
    if (options.savepoint) {
      await tx.query("SAVEPOINT extra");
      const discarded = await client.enqueue({ n, discarded: true }, { tx });
      await tx.query("ROLLBACK TO SAVEPOINT extra");
      ledger.record([discarded], "rolled back");
    }
    await tx.query(`INSERT INTO "${schema}".orders (job_id) SELECT unnest($1::bigint[])`, [ids.map(String)]);
    const every = options.rollbackEvery ?? 10;
    if (every > 0 && n % every === every - 1) {
      await tx.query("ROLLBACK");
      ledger.record(ids, "rolled back");
      return;
    }
    commitSent = true;
    await tx.query("COMMIT");
    ledger.record(ids, "committed");
    options.latencies?.push(performance.now() - started);
  } catch {
    broken = true;
    ledger.record(ids, commitSent ? "unknown" : "rolled back");
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    tx.off("error", cut);
    tx.release(broken);
  }
}
