// Idempotency keys at enqueue: while the job a key names is pending, another enqueue with the
// key returns that job's id and writes nothing; once every consumer has passed the job (or it
// was cancelled, or dead-lettered), the key names the next job enqueued with it. Both modes,
// concurrent producers, scheduled jobs, retries, the SQL function and enqueueMany.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Client, type ConsumerMode, InvalidOptionError, Maintenance, requeueDeadLetters } from "../src/index.js";
import { inTransaction } from "./support/in-transaction.js";
import { needs } from "./support/needs.js";
import { quickConsumer } from "./support/quick-consumer.js";
import { recorder } from "./support/recorder.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

async function rows(schema: string, table: string): Promise<number> {
  return (await db.pool.query(`SELECT count(*)::int AS n FROM ${schema}.${table}`)).rows[0].n;
}

/** Enqueues with `idempotencyKey` until the key names a job other than `first`; returns it. */
async function nextJob(client: Client, idempotencyKey: string, first: bigint): Promise<bigint> {
  let id = first;
  await waitFor(
    async () => {
      id = await client.enqueue({ again: true }, { idempotencyKey });
      return id !== first;
    },
    { interval: 50, what: `the key ${idempotencyKey} to be released` },
  );
  return id;
}

describe("idempotency keys", () => {
  it("a duplicate while the job is pending returns its id and writes nothing, not even a transaction id", async () => {
    const { schema, client } = await db.freshSchema("idem");
    const first = await client.enqueue({ order: 1 }, { idempotencyKey: "request-1", topic: "order.created" });
    assert.equal(await client.enqueue({ order: 1, retried: true }, { idempotencyKey: "request-1" }), first);
    await inTransaction(db.pool, "COMMIT", async (tx) => {
      assert.equal(await client.enqueue({ order: 1 }, { tx, idempotencyKey: "request-1" }), first);
      const { rows: xid } = await tx.query("SELECT pg_current_xact_id_if_assigned() AS xid");
      assert.equal(xid[0].xid, null, "the duplicate wrote nothing: its transaction has no id");
    });
    const other = await client.enqueue({ order: 2 }, { idempotencyKey: "request-2" });
    assert.notEqual(other, first);
    const plain = await client.enqueue({ order: 3 });
    assert.equal(await rows(schema, "immediate"), 3, "one row per distinct key, plus the job without one");
    assert.deepEqual(
      (await db.pool.query(`SELECT payload, topic FROM ${schema}.immediate WHERE id = $1`, [first])).rows,
      [{ payload: { order: 1 }, topic: "order.created" }],
      "the first enqueue's job is the one kept",
    );
    assert.ok(plain > other, "ids still come from one sequence");
    const viaSql = await db.pool.query(
      `SELECT ${schema}.enqueue('{"order": 1}'::json, idempotency_key => 'request-1') AS id`,
    );
    assert.equal(BigInt(viaSql.rows[0].id), first, "the SQL function holds the same keys");
  });

  it("two transactions with one key: the second waits for the first, then returns its job (or writes its own after a rollback)", async () => {
    const { schema, client } = await db.freshSchema("idem_race");
    for (const end of ["COMMIT", "ROLLBACK"] as const) {
      const key = `race-${end}`;
      const first = await db.pool.connect();
      try {
        await first.query("BEGIN");
        const firstId = await client.enqueue({ from: "first" }, { tx: first, idempotencyKey: key });
        let secondSettled = false;
        const second = client.enqueue({ from: "second" }, { idempotencyKey: key }).finally(() => {
          secondSettled = true;
        });
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(secondSettled, false, "the second enqueue waits on the first transaction's key");
        await first.query(end);
        const secondId = await second;
        if (end === "COMMIT") assert.equal(secondId, firstId);
        else assert.notEqual(secondId, firstId);
      } finally {
        first.release();
      }
    }
    assert.equal(await rows(schema, "immediate"), 2, "one job per key");
  });

  it("at REPEATABLE READ, a key another transaction took since the snapshot is a serialization failure", async () => {
    const { client } = await db.freshSchema("idem_rr");
    const tx = await db.pool.connect();
    try {
      await tx.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      await tx.query("SELECT 1");
      await client.enqueue({}, { idempotencyKey: "taken-meanwhile" });
      await assert.rejects(client.enqueue({}, { tx, idempotencyKey: "taken-meanwhile" }), { code: "40001" });
      await tx.query("ROLLBACK");
    } finally {
      tx.release();
    }
  });

  it("without tx, on a pool whose sessions default to SERIALIZABLE, the client runs a failed statement again", async () => {
    const { client: first, schema } = await db.freshSchema("idem_serializable");
    const pool = db.newPool({ options: "-c default_transaction_isolation=serializable" });
    const client = new Client(pool, { schema });
    const tx = await db.pool.connect();
    try {
      await tx.query("BEGIN");
      const held = await first.enqueue({ from: "held" }, { tx, idempotencyKey: "busy" });
      // Waits on the key the transaction holds; then finds it taken after its snapshot.
      const waiting = client.enqueue({ from: "waiting" }, { idempotencyKey: "busy" });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await tx.query("COMMIT");
      assert.equal(await waiting, held);
      assert.equal(await rows(schema, "immediate"), 1);
    } finally {
      tx.release();
      await pool.end();
    }
  });

  for (const mode of ["polling", "replication"] as ConsumerMode[]) {
    it(
      `${mode}: the key is held until every consumer has passed the job`,
      mode === "replication" ? needs("logical-replication") : {},
      async () => {
        const { schema, client } = await db.freshSchema(`idem_${mode}`);
        const fast = recorder();
        const slow = recorder();
        const slowConsumer = () => quickConsumer(db.pool, slow.handler, { schema, name: "slow", mode });
        const consumers = [quickConsumer(db.pool, fast.handler, { schema, name: "fast", mode }), slowConsumer()];
        try {
          // Both registered, then "slow" stopped: it has not passed what comes next.
          for (const consumer of consumers) await consumer.start();
          await consumers[1]?.stop();
          consumers[1] = slowConsumer();
          const first = await client.enqueue({ n: 1 }, { idempotencyKey: "k" });
          await waitFor(() => fast.counts().has(first), { what: "the job at the running consumer" });
          // Long enough for "fast" to record its progress past the job.
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          assert.equal(await client.enqueue({ n: 2 }, { idempotencyKey: "k" }), first, "still pending for slow");
          await consumers[1]?.start();
          await waitFor(() => slow.counts().has(first), { what: "the job at the second consumer" });
          const next = await nextJob(client, "k", first);
          await waitFor(() => fast.counts().has(next) && slow.counts().has(next), { what: "the next job at both" });
          assert.equal(fast.counts().get(first), 1);
        } finally {
          for (const consumer of consumers) await consumer.stop();
          if (mode === "replication") await dropSlots(db.pool, schema, "fast", "slow");
        }
      },
    );
  }

  it("concurrent producers beside a consumer: a key takes a new job only once its last one was delivered", async () => {
    const { schema, client } = await db.freshSchema("idem_concurrent");
    const record = recorder();
    const consumer = quickConsumer(db.pool, record.handler, { schema });
    await consumer.start();
    const latest = new Map<string, bigint>();
    const seen = new Set<bigint>();
    try {
      await Promise.all(
        Array.from({ length: 6 }, async (_, producer) => {
          for (let round = 0; round < 60; round++) {
            const key = `k${(producer * 7 + round) % 5}`;
            const id = await client.enqueue({ producer, round }, { idempotencyKey: key });
            seen.add(id);
            const known = latest.get(key);
            if (known === undefined || id > known) {
              // A newer job for the key: the one it replaced was delivered before the enqueue
              // could take the key over.
              if (known !== undefined) assert.ok(record.counts().has(known), `job ${known} of ${key} was delivered`);
              latest.set(key, id);
            }
          }
        }),
      );
      const stored = await rows(schema, "immediate");
      assert.equal(stored, seen.size, "one row per id returned: a duplicate wrote nothing");
      assert.ok(stored < 6 * 60, `duplicates were found (${stored} jobs for 360 enqueues)`);
      await waitFor(() => [...latest.values()].every((id) => record.counts().has(id)), { what: "the last jobs" });
    } finally {
      await consumer.stop();
    }
  });

  it("a scheduled job holds its key until it is delivered; cancelling it releases the key", async () => {
    const { schema, client } = await db.freshSchema("idem_scheduled");
    const record = recorder();
    const consumer = quickConsumer(db.pool, record.handler, { schema });
    await consumer.start();
    try {
      const later = await client.enqueue(
        { at: "later" },
        { idempotencyKey: "reminder", runAt: new Date(Date.now() + 3_600_000) },
      );
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.equal(await client.enqueue({}, { idempotencyKey: "reminder" }), later, "pending while scheduled");
      assert.deepEqual(await client.cancelScheduled([later]), [later]);
      const replacement = await nextJob(client, "reminder", later);

      const soon = await client.enqueue({ at: "soon" }, { idempotencyKey: "soon", runAt: new Date(Date.now() + 300) });
      await waitFor(() => record.counts().has(soon), { what: "the scheduled job, promoted and delivered" });
      assert.notEqual(await nextJob(client, "soon", soon), soon);
      await waitFor(() => record.counts().has(replacement), { what: "the job that took the key over" });
    } finally {
      await consumer.stop();
    }
  });

  it("a scheduled job come due is pending again until every consumer has passed the promoter's move", async () => {
    const { schema, client } = await db.freshSchema("idem_promoted");
    const running = recorder();
    const idle = recorder();
    const idleConsumer = () => quickConsumer(db.pool, idle.handler, { schema, name: "idle" });
    const consumers = [quickConsumer(db.pool, running.handler, { schema, name: "running" }), idleConsumer()];
    try {
      const due = await client.enqueue(
        { at: "later" },
        { idempotencyKey: "soon", runAt: new Date(Date.now() + 3_600_000) },
      );
      // Both pass the enqueue's transaction (idle progress is recorded about once a second),
      // then "idle" stops: only the promoter's move is ahead of it.
      for (const consumer of consumers) await consumer.start();
      await waitFor(
        async () =>
          (
            await db.pool.query(
              `SELECT bool_and(pg_visible_in_snapshot(k.transaction_id, c.snapshot)) AS passed
               FROM ${schema}.consumers c, ${schema}.idempotency_keys k`,
            )
          ).rows[0].passed,
        { interval: 100, what: "both consumers' progress past the enqueue" },
      );
      await consumers[1]?.stop();
      consumers[1] = idleConsumer();
      await db.pool.query(`UPDATE ${schema}.scheduled SET run_at = now()`);
      await waitFor(() => running.counts().has(due), { what: "the job, promoted and delivered" });
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      assert.equal(await client.enqueue({}, { idempotencyKey: "soon" }), due, "pending: idle has not passed the move");
      await consumers[1]?.start();
      await waitFor(() => idle.counts().has(due), { what: "the job at the idle consumer" });
      assert.notEqual(await nextJob(client, "soon", due), due);
    } finally {
      for (const consumer of consumers) await consumer.stop();
    }
  });

  it("a job failing and retried holds its key through its retries; dead-lettered, it lets it go", async () => {
    const { schema, client } = await db.freshSchema("idem_retry");
    let failing = true;
    // The requeued delivery waits for this gate, so the check that its key is held runs while
    // the job is surely pending (a fast consumer could otherwise be through it first).
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    // The last try waits until the key was seen held between retries: in a stall between the
    // first retry and that check, it would otherwise dead-letter the job and free the key.
    let releaseLastTry = () => {};
    const lastTry = new Promise<void>((resolve) => (releaseLastTry = resolve));
    const record = recorder(async (jobs) => {
      if (failing) {
        if (jobs.some((job) => job.attempt === 3)) await lastTry;
        throw new Error("the mail server is down");
      }
      await gate;
    });
    const consumer = quickConsumer(db.pool, record.handler, {
      schema,
      maxAttempts: 3,
      backoff: { base: 300, jitter: 0 },
    });
    await consumer.start();
    try {
      const first = await client.enqueue({ mail: 1 }, { idempotencyKey: "mail" });
      await waitFor(() => record.counts().get(first) === 2, { what: "the first retry" });
      assert.equal(await client.enqueue({}, { idempotencyKey: "mail" }), first, "pending between retries");
      releaseLastTry();
      await waitFor(async () => (await rows(schema, "dead_letter")) === 1, { what: "the dead letter" });
      // Requeued, the job is pending again: its key is held until it is through.
      failing = false;
      assert.equal(await requeueDeadLetters(db.pool, { schema, ids: [first] }), 1);
      assert.equal(await client.enqueue({}, { idempotencyKey: "mail" }), first, "pending again once requeued");
      openGate();
      await waitFor(() => record.counts().get(first) === 4, { what: "the requeued delivery" });
      const next = await nextJob(client, "mail", first);
      await waitFor(() => record.counts().has(next), { what: "the job that took the key over" });
    } finally {
      releaseLastTry();
      openGate();
      await consumer.stop();
    }
  });

  it("enqueueMany takes a key per payload: duplicates in the call and pending jobs keep their ids", async () => {
    const { schema, client } = await db.freshSchema("idem_many");
    const pending = await client.enqueue({ n: 0 }, { idempotencyKey: "a" });
    const ids = await client.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }], {
      idempotencyKeys: ["a", "b", null, "b"],
      topic: "t",
    });
    assert.equal(ids[0], pending, "a pending job's key");
    assert.equal(ids[3], ids[1], "the same key twice in one call names one job");
    assert.equal(new Set(ids).size, 3);
    assert.equal(await rows(schema, "immediate"), 3);
    const stored = await db.pool.query(`SELECT payload, topic FROM ${schema}.immediate WHERE id = $1`, [ids[1]]);
    assert.deepEqual(
      stored.rows,
      [{ payload: { n: 2 }, topic: "t" }],
      "the first payload with the key is the one kept",
    );
    const scheduled = await client.enqueueMany([{ n: 5 }], {
      idempotencyKeys: ["c"],
      runAt: new Date(Date.now() + 60_000),
    });
    assert.equal(await rows(schema, "scheduled"), 1);
    assert.deepEqual(await client.enqueueMany([{ n: 6 }], { idempotencyKeys: ["c"] }), scheduled);
  });

  it("maintenance deletes the keys of jobs no longer pending, and keeps the others", async () => {
    const { schema, client } = await db.freshSchema("idem_maintenance");
    const record = recorder();
    const consumer = quickConsumer(db.pool, record.handler, { schema });
    await consumer.start();
    try {
      const done = await client.enqueue({}, { idempotencyKey: "done" });
      await client.enqueue({}, { idempotencyKey: "scheduled", runAt: new Date(Date.now() + 3_600_000) });
      await waitFor(() => record.counts().has(done), { what: "delivery" });
      const maintenance = new Maintenance(db.pool, { schema });
      await waitFor(async () => (await maintenance.runOnce()).idempotencyKeysReleased === 1, {
        interval: 200,
        what: "the delivered job's key to be released",
      });
      const kept = await db.pool.query(`SELECT key FROM ${schema}.idempotency_keys`);
      assert.deepEqual(kept.rows, [{ key: "scheduled" }]);
    } finally {
      await consumer.stop();
    }
  });

  it("refuses bad keys with typed errors, before writing", async () => {
    const { schema, client } = await db.freshSchema("idem_bad");
    for (const bad of ["", "x".repeat(256), 7]) {
      await assert.rejects(
        client.enqueue({}, { idempotencyKey: bad as string }),
        (error: unknown) => error instanceof InvalidOptionError && error.option === "idempotencyKey",
      );
    }
    await assert.rejects(
      client.enqueueMany([{}, {}], { idempotencyKeys: ["a"] }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "idempotencyKeys",
    );
    await assert.rejects(
      client.enqueueMany([{}], { idempotencyKeys: [""] }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "idempotencyKeys[0]",
    );
    await assert.rejects(
      client.enqueueMany([{}], { idempotencyKey: "a" } as never),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "idempotencyKey",
    );
    await assert.rejects(
      client.enqueue({}, { idempotencyKeys: ["a"] } as never),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "idempotencyKeys",
    );
    await assert.rejects(db.pool.query(`SELECT ${schema}.enqueue('{}'::json, idempotency_key => '')`), {
      code: "22023",
    });
    assert.equal(await rows(schema, "immediate"), 0);
    assert.equal(await rows(schema, "idempotency_keys"), 0);
  });
});
