import pg from "pg";
import { Maintenance } from "../../../src/index.js";
import { attachPartition } from "../../support/partitions.js";
import { withDatabase } from "../../support/test-database.js";
import { waitFor } from "../../support/wait-for.js";
import type { Run, Scenario } from "../run.js";
import { batchesSeen, leading, peakRssMb, sleep } from "./steps.js";

/**
 * 9. Long transactions: one in another database, one idle in transaction holding a job, a
 * prepared transaction holding a job. Other jobs keep flowing; theirs arrive once they end.
 */
export const longTransactions: Scenario = {
  name: "long-transactions",
  modes: ["polling", "replication"],
  async run(run) {
    const consumer = run.consumer("a");
    await leading(consumer);
    // Streaming first: creating a replication slot waits for every open transaction to end
    // (a limit of PostgreSQL's, see docs/guarantees.md), so the slot must exist already.
    await run.produce({ transactions: 20 });
    await run.drain();
    const gid = `fault_${run.schema}`;
    const other = new pg.Client({ connectionString: withDatabase(run.suite.url, "postgres") });
    const idle = new pg.Client({ connectionString: run.suite.url });
    const prepared = new pg.Client({ connectionString: run.suite.url });
    await Promise.all([other.connect(), idle.connect(), prepared.connect()]);
    try {
      await other.query("BEGIN");
      await other.query("SELECT pg_current_xact_id()");
      const held = async (client: pg.Client) => {
        await client.query("BEGIN");
        const { rows } = await client.query(
          `INSERT INTO "${run.schema}".immediate (payload) VALUES ('{}') RETURNING id::text`,
        );
        await client.query(`INSERT INTO "${run.schema}".orders (job_id) VALUES ($1)`, [rows[0].id]);
        return BigInt(rows[0].id);
      };
      const idleJob = await held(idle);
      const preparedJob = await held(prepared);
      await prepared.query(`PREPARE TRANSACTION '${gid}'`);
      run.ledger.record([idleJob, preparedJob], "unknown");
      // Everything else committed meanwhile must be delivered while all three stay open.
      await run.produce({ transactions: 300, pause: 1 });
      const flowing = run.ledger.committed();
      const started = Date.now();
      await waitFor(
        () => {
          const seen = new Set(run.handled());
          return [...flowing].every((id) => seen.has(id));
        },
        { timeout: 30_000, what: "jobs committed around the open transactions" },
      );
      const behind = Date.now() - started;
      await other.query("COMMIT");
      await idle.query("COMMIT");
      await prepared.query(`COMMIT PREPARED '${gid}'`);
      run.fault();
      return {
        bound: 0,
        notes: `the other jobs were all delivered ${behind} ms after the last commit, around 3 open transactions`,
      };
    } finally {
      await Promise.all([other.end(), idle.end(), prepared.end()]);
      // A prepared transaction outlives its session; left behind, it would hold back every
      // later scenario (and block the creation of replication slots).
      await run.pool.query(`ROLLBACK PREPARED '${gid}'`).catch(() => {});
    }
  },
};

/**
 * 11. Maintenance racing the consumer: 1-minute partitions with no retention while the
 * consumer is stopped; a transaction open across a partition boundary; partitions dropped
 * while producers run (longest enqueue reported).
 */
export const maintenanceRace: Scenario = {
  name: "maintenance-race",
  modes: ["polling", "replication"],
  async run(run) {
    const maintenance = new Maintenance(run.pool, {
      schema: run.schema,
      partitionInterval: 60_000,
      lookAhead: 120_000,
    });
    // Consumers without maintenance of their own: this scenario runs it, with 1-minute partitions.
    const first = run.consumer("a", { flags: ["--maintenance", "off"] });
    await leading(first);
    await run.produce({ transactions: 50 });
    await run.drain();
    first.signal("SIGTERM");
    await first.closed;
    // While the consumer is down: old partitions, full of jobs it has not seen.
    const base = Math.floor(Date.now() / 60_000) * 60_000;
    for (let minutes = 10; minutes > 5; minutes--) await oldJobs(run, base - minutes * 60_000, 40);
    // A transaction that began before the boundary (now() four minutes old) writes and stays open.
    const open = new pg.Client({ connectionString: run.suite.url });
    await open.connect();
    await open.query("BEGIN");
    const openJob = await oldJob(open, run, base - 4 * 60_000 + 30_000);
    const whileDown = await maintenance.runOnce();
    const droppedWhileDown = whileDown.dropped.filter((range) => range.from.getTime() < base - 4 * 60_000).length;
    const latencies: number[] = [];
    const producing = run.produce({ transactions: 1500, concurrency: 3, latencies });
    const second = run.consumer("b", { flags: ["--maintenance", "off"] });
    run.fault();
    await batchesSeen(second, 2);
    // Drop what the consumer has passed, again and again, while producers run.
    const rounds: number[] = [];
    const racing = (async () => {
      for (let i = 0; i < 30; i++) {
        const report = await maintenance.runOnce();
        rounds.push(report.dropped.length);
        await sleep(100);
      }
    })();
    await sleep(1000);
    await open.query("COMMIT");
    run.ledger.record([openJob], "committed");
    await producing;
    await racing;
    await open.end();
    return {
      bound: 0,
      notes: `partitions dropped while the consumer was down: ${droppedWhileDown}; dropped while producing: ${rounds.reduce((a, b) => a + b, 0)}; longest enqueue ${Math.round(Math.max(...latencies))} ms`,
      failed: droppedWhileDown > 0,
    };
  },
};

async function oldJobs(run: Run, from: number, count: number): Promise<void> {
  await attachPartition(run.pool, run.schema, from);
  const { rows } = await run.pool.query(
    `WITH jobs AS (
       INSERT INTO "${run.schema}".immediate (payload, created_at)
       SELECT '{}', to_timestamp($1::float8 / 1000) FROM generate_series(1, $2) RETURNING id)
     INSERT INTO "${run.schema}".orders (job_id) SELECT id FROM jobs RETURNING job_id::text`,
    [from + 30_000, count],
  );
  run.ledger.record(
    rows.map((row) => BigInt(row.job_id)),
    "committed",
  );
}

async function oldJob(client: pg.Client, run: Run, at: number): Promise<bigint> {
  const { rows } = await client.query(
    `INSERT INTO "${run.schema}".immediate (payload, created_at) VALUES ('{}', to_timestamp($1::float8 / 1000)) RETURNING id::text`,
    [at],
  );
  await client.query(`INSERT INTO "${run.schema}".orders (job_id) VALUES ($1)`, [rows[0].id]);
  return BigInt(rows[0].id);
}

/** 12. A 100,000-job transaction, with logical_decoding_work_mem at its minimum (64 kB). */
export const hugeTransaction: Scenario = {
  name: "huge-transaction",
  modes: ["polling", "replication"],
  async run(run) {
    await run.pool.query("ALTER SYSTEM SET logical_decoding_work_mem = '64kB'");
    await run.pool.query("SELECT pg_reload_conf()");
    try {
      const consumer = run.consumer("a", { batchSize: 1000 });
      await leading(consumer);
      await run.produce({ transactions: 1, size: 100_000, rollbackEvery: 0, concurrency: 1 });
      await run.drain(180_000);
      return { bound: 0, notes: `peak RSS ${peakRssMb(consumer)} MB` };
    } finally {
      await run.pool.query("ALTER SYSTEM RESET logical_decoding_work_mem");
      await run.pool.query("SELECT pg_reload_conf()");
    }
  },
};

/** 12. 1,000 payloads of 1 MB each (incompressible): the consumer's memory stays bounded. */
export const hugePayloads: Scenario = {
  name: "huge-payloads",
  modes: ["polling", "replication"],
  async run(run) {
    const consumer = run.consumer("a", { batchSize: 100 });
    await leading(consumer);
    await run.produce({ transactions: 1000, payloadBytes: 1_000_000, random: true, rollbackEvery: 0, concurrency: 2 });
    await run.drain(180_000);
    return { bound: 0, notes: `peak RSS ${peakRssMb(consumer)} MB` };
  },
};
