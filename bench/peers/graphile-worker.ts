// graphile-worker, driven through the subset of its API the benchmark needs. Its module is
// imported by a computed name, so that type-checking the repository does not need
// bench/peers installed.
import pg from "pg";
import { type Peer, peerQueue } from "./peer.js";

interface WorkerUtils {
  addJobs(specs: { identifier: string; payload: object }[]): Promise<unknown>;
  release(): Promise<void>;
}

export interface GraphileWorker {
  runMigrations(options: object): Promise<void>;
  makeWorkerUtils(options: object): Promise<WorkerUtils>;
  run(options: object): Promise<{ stop(): Promise<void>; promise: Promise<void> }>;
  Logger: new (factory: () => (level: string, message: string) => void) => object;
}

export const graphileSchema = "graphile_worker_bench";

export async function importGraphileWorker(): Promise<GraphileWorker> {
  const specifier = "graphile-worker";
  return (await import(specifier)) as GraphileWorker;
}

/** A logger that says nothing: its per-job debug lines would cost time in the measurement. */
export function silentLogger(worker: GraphileWorker): object {
  return new worker.Logger(() => () => {});
}

/**
 * The configuration of graphile-worker's own performance page: 24 concurrent jobs, a pool of
 * 25, a local queue of 500 fetched jobs, and job completions and failures batched.
 */
export function graphileRunOptions(worker: GraphileWorker, url: string): object {
  return {
    connectionString: url,
    schema: graphileSchema,
    concurrency: 24,
    maxPoolSize: 25,
    noHandleSignals: true,
    logger: silentLogger(worker),
    preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
  };
}

export async function openGraphileWorker(url: string): Promise<Peer> {
  const worker = await importGraphileWorker();
  const options = { connectionString: url, schema: graphileSchema, logger: silentLogger(worker) };
  await worker.runMigrations(options);
  const utils = await worker.makeWorkerUtils(options);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  return {
    name: "graphile-worker",
    async enqueueInTransaction(tx: pg.PoolClient, payload: object) {
      // add_job in SQL is graphile-worker's documented way to enqueue inside a transaction.
      await tx.query(`SELECT ${graphileSchema}.add_job($1, $2::json)`, [peerQueue, JSON.stringify(payload)]);
    },
    async enqueueMany(payloads) {
      await utils.addJobs(payloads.map((payload) => ({ identifier: peerQueue, payload })));
    },
    async clear() {
      await pool.query(`DELETE FROM ${graphileSchema}._private_jobs`);
    },
    async close() {
      await utils.release();
      await pool.query(`DROP SCHEMA IF EXISTS ${graphileSchema} CASCADE`);
      await pool.end();
    },
  };
}
