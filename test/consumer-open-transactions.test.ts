import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import type pg from "pg";
import { Client, Consumer, type LongTransaction, migrate } from "../src/index.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

// Only the first test writes jobs to the default schema; the partition and restart tests use
// schemas of their own, so each consumer sees exactly its test's jobs and partitions can be
// laid out with no rows of other tests in the default partition. side_effects gives a
// transaction an xid without writing a job.
const db = useTestDatabase(async (created) => {
  await migrate(created.pool);
  await created.pool.query("CREATE TABLE public.side_effects (note text NOT NULL)");
});

// How long a job committed behind an open transaction may take to reach the handler. A
// consumer that waited for the open transaction would never get there.
const deliveryBound = 30_000;

async function canPrepare(): Promise<boolean> {
  const { rows } = await db.pool.query("SHOW max_prepared_transactions");
  return Number(rows[0].max_prepared_transactions) > 0;
}

/** BEGIN on a connection of its own; the caller keeps it until it commits or gives it up. */
async function begin(pool: pg.Pool): Promise<pg.PoolClient> {
  const session = await pool.connect();
  await session.query("BEGIN");
  return session;
}

async function currentXid(session: pg.PoolClient): Promise<bigint> {
  const { rows } = await session.query("SELECT pg_current_xact_id()::text AS xid");
  return BigInt(rows[0].xid);
}

/** Ends sessions whose transactions were not committed (release(true) closes them: rollback). */
function dropSessions(sessions: pg.PoolClient[]): void {
  for (const session of sessions.splice(0)) session.release(true);
}

/** Prepared transactions outlive their session and would stop DROP DATABASE: roll back leftovers. */
async function rollbackPrepared(pool: pg.Pool, gids: readonly string[]): Promise<void> {
  const { rows } = await pool.query("SELECT gid FROM pg_prepared_xacts WHERE gid = ANY($1::text[])", [gids]);
  for (const { gid } of rows) await pool.query(`ROLLBACK PREPARED '${gid}'`);
}

/** Where the stored progress of `name` stands relative to transaction `xid`. */
async function progressAgainst(schema: string, name: string, xid: bigint) {
  const { rows } = await db.pool.query(
    `SELECT pg_visible_in_snapshot($2::xid8, snapshot) AS visible,
            pg_snapshot_xmax(snapshot) > $2::xid8 AS passed,
            snapshot::text AS snapshot
       FROM ${schema}.consumers WHERE name = $1`,
    [name, String(xid)],
  );
  return rows[0] as { visible: boolean; passed: boolean; snapshot: string } | undefined;
}

function delivered(record: ReturnType<typeof recorder>, ids: readonly bigint[]): boolean {
  const counts = record.counts();
  return ids.every((id) => counts.has(id));
}

describe("Consumer (polling) and open transactions", () => {
  it("keeps delivering past open and prepared transactions, then delivers their jobs once they commit", async (t) => {
    const prepare = await canPrepare();
    if (!prepare) t.skip("max_prepared_transactions is 0 on this server: the prepared transaction part is not run");
    const client = new Client(db.pool);
    const record = recorder();
    const consumer = new Consumer(db.pool, record.handler, { name: "open-transactions" });
    const sessionPool = db.newPool({ max: 4 });
    const open: pg.PoolClient[] = [];
    const gid = `poutbox-open-${randomUUID()}`;
    await consumer.start();
    try {
      const expected: bigint[] = [await client.enqueue({ phase: "before" })];
      await waitFor(() => delivered(record, expected), { timeout: deliveryBound, what: "the first job" });

      // A: open, holds an xid, wrote no job.
      const a = await begin(sessionPool);
      open.push(a);
      await a.query("INSERT INTO public.side_effects (note) VALUES ('a')");
      const xidA = await currentXid(a);
      // B: open, wrote a job, and one more in a subtransaction it rolls back.
      const b = await begin(sessionPool);
      open.push(b);
      const idB = await client.enqueue({ phase: "open" }, { tx: b });
      await b.query("SAVEPOINT s");
      const idBRolledBack = await client.enqueue({ phase: "open, rolled back to savepoint" }, { tx: b });
      await b.query("ROLLBACK TO SAVEPOINT s");
      const xidB = await currentXid(b);
      // C: prepared, wrote a job; its session is free again, the transaction lives on.
      let idC: bigint | undefined;
      let xidC: bigint | undefined;
      if (prepare) {
        const c = await begin(sessionPool);
        try {
          idC = await client.enqueue({ phase: "prepared" }, { tx: c });
          xidC = await currentXid(c);
          await c.query(`PREPARE TRANSACTION '${gid}'`);
        } finally {
          c.release();
        }
      }
      const holes = [xidA, xidB, ...(xidC === undefined ? [] : [xidC])];

      const latencies: number[] = [];
      for (let round = 0; round < 5; round++) {
        const ids = await client.enqueueMany([
          { phase: "after", round, i: 0 },
          { phase: "after", round, i: 1 },
        ]);
        const started = performance.now();
        await waitFor(() => delivered(record, ids), {
          timeout: deliveryBound,
          what: `jobs of round ${round}, committed behind open transactions`,
        });
        latencies.push(performance.now() - started);
        expected.push(...ids);
      }
      t.diagnostic(`delivery behind open transactions: ${latencies.map((ms) => ms.toFixed(0)).join(", ")} ms`);

      // The stored progress moved past the open transactions, keeping them as holes.
      await waitFor(
        async () => {
          for (const xid of holes) {
            const progress = await progressAgainst("poutbox", "open-transactions", xid);
            if (!progress?.passed || progress.visible) return false;
          }
          return true;
        },
        { timeout: deliveryBound, what: "stored progress past the open transactions" },
      );
      const counts = record.counts();
      assert.equal(counts.has(idB), false, "a job of an open transaction was delivered");
      if (idC !== undefined) assert.equal(counts.has(idC), false, "a job of a prepared transaction was delivered");

      await a.query("COMMIT");
      await b.query("COMMIT");
      for (const session of open.splice(0)) session.release();
      if (prepare) await db.pool.query(`COMMIT PREPARED '${gid}'`);
      const late = [idB, ...(idC === undefined ? [] : [idC])];
      await waitFor(() => delivered(record, late), {
        timeout: deliveryBound,
        what: "the jobs of the transactions committed late",
      });
      expected.push(...late);

      const last = await client.enqueue({ phase: "last" });
      expected.push(last);
      await waitFor(() => delivered(record, [last]), { timeout: deliveryBound, what: "the last job" });
      // Give a duplicate the chance to show up.
      await new Promise((resolve) => setTimeout(resolve, 300));

      assert.deepEqual(
        [...record.counts()].filter(([, times]) => times !== 1),
        [],
        "every job is delivered exactly once",
      );
      assert.deepEqual(
        record
          .ids()
          .map(String)
          .sort((x, y) => Number(BigInt(x) - BigInt(y))),
        expected.map(String).sort((x, y) => Number(BigInt(x) - BigInt(y))),
      );
      assert.equal(record.counts().has(idBRolledBack), false);
    } finally {
      await consumer.stop();
      dropSessions(open);
      await rollbackPrepared(db.pool, [gid]);
      await sessionPool.end();
    }
  });

  it("delivers the job of a transaction open across polls and partitions, however old its created_at", async (t) => {
    const schema = "poutbox_partitions";
    await migrate(db.pool, { schema });
    // Two partitions around now, created before any row exists (rows in the default
    // partition would forbid a partition covering them): jobs of an old transaction go to the
    // first, jobs committed later (created_at set explicitly) to the second.
    const { rows: clock } = await db.pool.query("SELECT now()::text AS now");
    const start = `'${clock[0].now}'::timestamptz`;
    await db.pool.query(
      `CREATE TABLE ${schema}.immediate_old PARTITION OF ${schema}.immediate
         FOR VALUES FROM (${start} - interval '1 day') TO (${start} + interval '1 hour')`,
    );
    await db.pool.query(
      `CREATE TABLE ${schema}.immediate_new PARTITION OF ${schema}.immediate
         FOR VALUES FROM (${start} + interval '1 hour') TO (${start} + interval '1 day')`,
    );

    const client = new Client(db.pool, { schema });
    const record = recorder();
    const consumer = new Consumer(db.pool, record.handler, { schema, name: "partitions", batchSize: 3 });
    const sessionPool = db.newPool({ max: 2 });
    const open: pg.PoolClient[] = [];
    try {
      // The old transaction: its job's created_at is the transaction start (now()), and a
      // second job carries a created_at two hours back, as a transaction open that long
      // would have. A one-hour look-back on created_at would never read the second.
      const old = await begin(sessionPool);
      open.push(old);
      const oldIds = [
        await client.enqueue({ phase: "old, created_at = transaction start" }, { tx: old }),
        BigInt(
          (
            await old.query(
              `INSERT INTO ${schema}.immediate (payload, created_at) VALUES ('{"phase":"old, two hours back"}', now() - interval '2 hours') RETURNING id::text`,
            )
          ).rows[0].id,
        ),
      ];
      const oldXid = await currentXid(old);

      await consumer.start();
      const later: bigint[] = [];
      for (let round = 0; round < 6; round++) {
        const { rows } = await db.pool.query(
          `INSERT INTO ${schema}.immediate (payload, created_at)
             SELECT json_build_object('phase', 'later', 'round', $1::int, 'i', i), now() + interval '2 hours'
             FROM generate_series(1, 4) AS i RETURNING id::text`,
          [round],
        );
        const ids = rows.map((row) => BigInt(row.id));
        later.push(...ids);
        await waitFor(() => delivered(record, ids), {
          timeout: deliveryBound,
          what: `later jobs of round ${round}, behind the old transaction`,
        });
        // Several polls (pollInterval 10 ms) between rounds.
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const { rows: placed } = await db.pool.query(
        `SELECT id::text, tableoid::regclass::text AS partition FROM ${schema}.immediate WHERE id = ANY($1::bigint[])`,
        [[...oldIds, ...later].map(String)],
      );
      const partitionOf = new Map(placed.map((row) => [BigInt(row.id), row.partition as string]));
      for (const id of later) assert.equal(partitionOf.get(id), `${schema}.immediate_new`);
      // The old transaction's rows are not visible here yet: check their partition from inside.
      const { rows: oldPlaced } = await old.query(
        `SELECT DISTINCT tableoid::regclass::text AS partition FROM ${schema}.immediate WHERE id = ANY($1::bigint[])`,
        [oldIds.map(String)],
      );
      assert.deepEqual(
        oldPlaced.map((row) => row.partition),
        [`${schema}.immediate_old`],
      );

      const progress = await waitFor(
        async () => {
          const found = await progressAgainst(schema, "partitions", oldXid);
          return found?.passed ? found : undefined;
        },
        { timeout: deliveryBound, what: "stored progress past the old transaction" },
      );
      assert.equal(progress.visible, false, "the old transaction is kept as a hole");
      t.diagnostic(`progress while the old transaction is open: ${progress.snapshot} (old xid ${oldXid})`);
      assert.equal(
        oldIds.some((id) => record.counts().has(id)),
        false,
      );

      await old.query("COMMIT");
      open.splice(0).forEach((session) => {
        session.release();
      });
      await waitFor(() => delivered(record, oldIds), {
        timeout: deliveryBound,
        what: "the old transaction's jobs after its commit",
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(
        [...record.counts()].filter(([, times]) => times !== 1),
        [],
      );
      assert.equal(record.deliveries.length, later.length + oldIds.length);
    } finally {
      await consumer.stop();
      dropSessions(open);
      await sessionPool.end();
    }
  });

  it("keeps an open transaction as a hole across a restart of the consumer", async () => {
    const schema = "poutbox_restart";
    await migrate(db.pool, { schema });
    const client = new Client(db.pool, { schema });
    const record = recorder();
    const first = new Consumer(db.pool, record.handler, { schema, name: "restart" });
    const second = new Consumer(db.pool, record.handler, { schema, name: "restart" });
    const sessionPool = db.newPool({ max: 1 });
    const open: pg.PoolClient[] = [];
    try {
      const tx = await begin(sessionPool);
      open.push(tx);
      const held = await client.enqueue({ phase: "held" }, { tx });
      await first.start();
      const passed = await client.enqueue({ phase: "passed" });
      await waitFor(() => delivered(record, [passed]), { timeout: deliveryBound, what: "the job behind the hole" });
      await first.stop();

      await tx.query("COMMIT");
      open.splice(0)[0]?.release();
      await second.start();
      const after = await client.enqueue({ phase: "after restart" });
      await waitFor(() => delivered(record, [held, after]), {
        timeout: deliveryBound,
        what: "the held job, after a restart",
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(record.ids(), [passed, held, after]);
    } finally {
      await first.stop();
      await second.stop();
      dropSessions(open);
      await sessionPool.end();
    }
  });

  it("reports a transaction open longer than longTransactionThreshold, with its pid", async () => {
    const threshold = 200;
    const consumer = new Consumer(db.pool, async () => {}, {
      name: "long-transactions",
      longTransactionThreshold: threshold,
    });
    const reports: LongTransaction[] = [];
    consumer.on("longTransaction", (transaction) => reports.push(transaction));
    const sessionPool = db.newPool({ max: 1 });
    const open: pg.PoolClient[] = [];
    await consumer.start();
    try {
      // Before the INSERT: the consumer can see the transaction (and start counting) from then.
      const opened = Date.now();
      const idle = await begin(sessionPool);
      open.push(idle);
      await idle.query("INSERT INTO public.side_effects (note) VALUES ('idle in transaction')");
      const { rows } = await idle.query("SELECT pg_backend_pid() AS pid, pg_current_xact_id()::text AS xid");
      const pid = Number(rows[0].pid);
      const xid = BigInt(rows[0].xid);

      const report = await waitFor(() => reports.find((each) => each.pid === pid), {
        timeout: 30_000,
        what: "a longTransaction event naming the idle session",
      });
      assert.ok(Date.now() - opened >= threshold, "reported before the threshold passed");
      assert.equal(report.transactionId, xid);
      assert.ok(report.ageMs >= threshold, `ageMs ${report.ageMs} below the threshold ${threshold}`);
      assert.equal(report.state, "idle in transaction");
      assert.equal(report.database, db.name);
      assert.equal(report.preparedGid, null);
    } finally {
      await consumer.stop();
      dropSessions(open);
      await sessionPool.end();
    }
  });

  it("reports a long-open prepared transaction by its gid", needs("prepared-transactions"), async (t) => {
    if (!(await canPrepare())) {
      t.skip("max_prepared_transactions is 0 on this server");
      return;
    }
    const threshold = 200;
    const consumer = new Consumer(db.pool, async () => {}, {
      name: "long-prepared",
      longTransactionThreshold: threshold,
    });
    const reports: LongTransaction[] = [];
    consumer.on("longTransaction", (transaction) => reports.push(transaction));
    const gid = `poutbox-long-${randomUUID()}`;
    const session = await db.pool.connect();
    let xid: bigint;
    try {
      await session.query("BEGIN");
      await session.query("INSERT INTO public.side_effects (note) VALUES ('prepared')");
      xid = await currentXid(session);
      await session.query(`PREPARE TRANSACTION '${gid}'`);
    } finally {
      session.release();
    }
    try {
      // Started after PREPARE, the consumer first sees the transaction once it is prepared.
      await consumer.start();
      const report = await waitFor(() => reports.find((each) => each.preparedGid === gid), {
        timeout: 30_000,
        what: "a longTransaction event naming the prepared transaction",
      });
      assert.equal(report.transactionId, xid);
      assert.equal(report.pid, null);
      assert.equal(report.state, "prepared");
      assert.equal(report.database, db.name);
      // A prepared transaction's age counts from PREPARE (pg_prepared_xacts.prepared).
      assert.ok(report.ageMs >= threshold, `ageMs ${report.ageMs} below the threshold ${threshold}`);
    } finally {
      await consumer.stop();
      await rollbackPrepared(db.pool, [gid]);
    }
  });
});
