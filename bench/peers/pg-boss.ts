// pg-boss, driven through the subset of its API the benchmark needs. Its module is imported
// by a computed name, so that type-checking the repository does not need bench/peers installed.
import pg from "pg";
import { type Peer, peerQueue } from "./peer.js";

interface PgBossJob {
  readonly id: string;
}

interface PgBossInstance {
  on(event: "error", listener: (error: Error) => void): void;
  start(): Promise<unknown>;
  stop(options: { graceful: boolean; timeout: number }): Promise<void>;
  createQueue(name: string): Promise<void>;
  send(
    name: string,
    data: object,
    options: { db: { executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> } },
  ): Promise<string | null>;
  insert(name: string, jobs: { data: object }[]): Promise<unknown>;
  deleteAllJobs(name: string): Promise<unknown>;
  work(
    name: string,
    options: { batchSize: number; pollingIntervalSeconds: number; burstWhenBatchFull: boolean },
    handler: (jobs: PgBossJob[]) => Promise<void>,
  ): Promise<string>;
}

type PgBossClass = new (options: { connectionString: string; max?: number; schema?: string }) => PgBossInstance;

export const pgBossSchema = "pgboss_bench";

/**
 * The settings of pg-boss's documentation for throughput: batch fetching (the handler gets an
 * array), and fetching again at once while batches come back full (burstWhenBatchFull)
 * instead of waiting out the polling interval, whose floor is 0.5 s.
 */
export const pgBossWorkOptions = { batchSize: 1000, pollingIntervalSeconds: 0.5, burstWhenBatchFull: true };

export async function startPgBoss(url: string, max = 10): Promise<PgBossInstance> {
  const specifier = "pg-boss";
  const { PgBoss } = (await import(specifier)) as { PgBoss: PgBossClass };
  const boss = new PgBoss({ connectionString: url, max, schema: pgBossSchema });
  boss.on("error", () => {}); // maintenance errors while the schema is dropped at the end
  await boss.start();
  await boss.createQueue(peerQueue);
  return boss;
}

export async function openPgBoss(url: string): Promise<Peer> {
  const boss = await startPgBoss(url);
  return {
    name: "pg-boss",
    async enqueueInTransaction(tx: pg.PoolClient, payload: object) {
      // pg-boss writes on the caller's connection when given a `db`: its transactional enqueue.
      await boss.send(peerQueue, payload, { db: { executeSql: (text, values) => tx.query(text, values) } });
    },
    async enqueueMany(payloads) {
      await boss.insert(
        peerQueue,
        payloads.map((data) => ({ data })),
      );
    },
    async clear() {
      await boss.deleteAllJobs(peerQueue);
    },
    async close() {
      await boss.stop({ graceful: false, timeout: 1000 });
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      await pool.query(`DROP SCHEMA IF EXISTS ${pgBossSchema} CASCADE`);
      await pool.end();
    },
  };
}
