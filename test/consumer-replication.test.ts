import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startEmbeddedCluster } from "../dev/embedded-cluster.js";
import {
  Client,
  Consumer,
  type ConsumerOptions,
  type Handler,
  listDeadLetters,
  migrate,
  ReplicationSetupError,
  SlotLostError,
} from "../src/index.js";
import { slotName } from "../src/replication/names.js";
import { recorder } from "./support/recorder.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
let schemas = 0;

async function freshSchema(): Promise<{ schema: string; client: Client }> {
  const schema = `replication_${++schemas}`;
  await migrate(db.pool, { schema });
  return { schema, client: new Client(db.pool, { schema }) };
}

function replicationConsumer(schema: string, handler: Handler, options: ConsumerOptions = {}): Consumer {
  return new Consumer(db.pool, handler, {
    schema,
    mode: "replication",
    promoteInterval: 20,
    backoff: { base: 20, jitter: 0 },
    reconnectDelay: 20,
    ...options,
  });
}

async function dropSlots(schema: string, ...consumers: string[]): Promise<void> {
  for (const consumer of consumers) {
    await db.pool.query(
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
      [slotName(schema, consumer)],
    );
  }
}

describe("Consumer (replication)", () => {
  it("delivers jobs from before its slot existed, then streams new ones in commit order, never rolled-back ones", async () => {
    const { schema, client } = await freshSchema();
    const before = await client.enqueueMany([{ early: 1 }, { early: 2 }]);
    const record = recorder();
    const consumer = replicationConsumer(schema, record.handler, { batchSize: 5 });
    await consumer.start();
    try {
      await waitFor(() => record.deliveries.length >= 2, { what: "jobs from before the slot" });
      const committed: bigint[] = [];
      for (let i = 0; i < 20; i++) {
        const tx = await db.pool.connect();
        await tx.query("BEGIN");
        const ids = await client.enqueueMany(
          [
            { i, n: 1 },
            { i, n: 2 },
          ],
          { tx },
        );
        const keep = i % 4 !== 0;
        await tx.query(keep ? "COMMIT" : "ROLLBACK");
        tx.release();
        if (keep) committed.push(...ids);
      }
      await waitFor(() => record.deliveries.length >= before.length + committed.length, { what: "streamed jobs" });
      assert.deepEqual(record.ids(), [...before, ...committed]);
      assert.ok(record.batches.every((batch) => batch.length <= 5));
      const { rows } = await db.pool.query(`SELECT mode, acked_lsn FROM ${schema}.consumers`);
      assert.equal(rows[0].mode, "replication");
      assert.ok(rows[0].acked_lsn);
    } finally {
      await consumer.stop();
      await dropSlots(schema, "default");
    }
  });

  it("delivers a 50,000-job transaction whole, in bounded batches", async () => {
    const { schema, client } = await freshSchema();
    const record = recorder();
    const consumer = replicationConsumer(schema, record.handler, { batchSize: 1000 });
    await consumer.start();
    try {
      await waitFor(() => consumer.isLeader, { what: "leadership" });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const ids = await client.enqueueMany(Array.from({ length: 50_000 }, (_, i) => ({ i })));
      await waitFor(() => record.deliveries.length >= ids.length, { timeout: 60_000, what: "50k jobs" });
      assert.deepEqual(record.ids(), ids);
      assert.ok(record.batches.every((batch) => batch.length <= 1000));
    } finally {
      await consumer.stop();
      await dropSlots(schema, "default");
    }
  });

  it("retries failed jobs through the stream and dead-letters them after maxAttempts", async () => {
    const { schema, client } = await freshSchema();
    const record = recorder(async (jobs) =>
      jobs.filter((job) => job.payload === "poison").map((job) => ({ job, error: new Error(`bad ${job.attempt}`) })),
    );
    const consumer = replicationConsumer(schema, record.handler, { maxAttempts: 3 });
    await consumer.start();
    try {
      const [poison, fine] = await client.enqueueMany(["poison", "fine"]);
      const dead = await waitFor(
        async () => {
          const letters = await listDeadLetters(db.pool, { schema });
          return letters.length > 0 ? letters : undefined;
        },
        { what: "dead letter" },
      );
      assert.equal(dead[0]?.id, poison);
      assert.match(dead[0]?.lastError ?? "", /bad 3/);
      assert.deepEqual(
        record.deliveries.filter((job) => job.id === poison).map((job) => job.attempt),
        [1, 2, 3],
      );
      assert.equal(record.deliveries.filter((job) => job.id === fine).length, 1);
    } finally {
      await consumer.stop();
      await dropSlots(schema, "default");
    }
  });

  it("reconnects after its walsender is terminated and loses nothing", async () => {
    const { schema, client } = await freshSchema();
    const record = recorder();
    const consumer = replicationConsumer(schema, record.handler, { batchSize: 10 });
    const errors: Error[] = [];
    consumer.on("error", (error) => errors.push(error));
    await consumer.start();
    try {
      const ids: bigint[] = [];
      for (let round = 0; round < 5; round++) {
        ids.push(...(await client.enqueueMany(Array.from({ length: 30 }, (_, i) => ({ round, i })))));
        await db.pool.query("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1", [
          slotName(schema, "default"),
        ]);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      await waitFor(() => ids.every((id) => record.counts().has(id)), { what: "every job after terminations" });
      await waitFor(() => errors.length > 0, { what: "the terminations to be reported" });
    } finally {
      await consumer.stop();
      await dropSlots(schema, "default");
    }
  });

  it("keeps the slot's confirmed position moving while the outbox is idle and other tables write", async () => {
    const { schema } = await freshSchema();
    const consumer = replicationConsumer(schema, async () => {});
    await consumer.start();
    try {
      await waitFor(() => consumer.isLeader, { what: "leadership" });
      const confirmed = async () => {
        const { rows } = await db.pool.query(
          "SELECT confirmed_flush_lsn AS lsn FROM pg_replication_slots WHERE slot_name = $1",
          [slotName(schema, "default")],
        );
        return rows[0]?.lsn as string | undefined;
      };
      await waitFor(confirmed, { what: "slot" });
      const start = await confirmed();
      await db.pool.query("CREATE TABLE other_writes (x text)");
      await db.pool.query("INSERT INTO other_writes SELECT repeat('x', 1000) FROM generate_series(1, 20000)");
      const { rows } = await db.pool.query("SELECT pg_current_wal_lsn()::text AS lsn");
      await waitFor(
        async () => {
          const { rows: moved } = await db.pool.query(
            "SELECT confirmed_flush_lsn >= $1::pg_lsn AS passed FROM pg_replication_slots WHERE slot_name = $2",
            [rows[0].lsn, slotName(schema, "default")],
          );
          return moved[0]?.passed;
        },
        { what: `confirmed_flush_lsn to pass ${rows[0].lsn} (started at ${start})` },
      );
    } finally {
      await consumer.stop();
      await dropSlots(schema, "default");
    }
  });

  it("fails clearly, without recreating it, when its slot disappeared while it was down", async () => {
    const { schema, client } = await freshSchema();
    const record = recorder();
    const first = replicationConsumer(schema, record.handler);
    await first.start();
    await client.enqueue("one");
    await waitFor(() => record.deliveries.length === 1, { what: "first job" });
    await first.stop();
    await dropSlots(schema, "default");
    await client.enqueue("lost with the slot");
    const second = replicationConsumer(schema, record.handler);
    const errors: Error[] = [];
    second.on("error", (error) => errors.push(error));
    await second.start();
    await waitFor(() => second.failure, { what: "the consumer to give up" });
    const failure = second.failure;
    assert.ok(failure instanceof SlotLostError);
    assert.equal(failure.code, "SLOT_LOST");
    await second.stop();
    const { rows } = await db.pool.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [
      slotName(schema, "default"),
    ]);
    assert.equal(rows.length, 0, "the slot was not silently recreated");
  });
});

describe("Consumer (replication) on a server without logical decoding", () => {
  it("start() rejects with an error that says to set wal_level = logical", async () => {
    const cluster = await startEmbeddedCluster({ settings: { wal_level: "replica", max_wal_senders: "4" } });
    const { default: pg } = await import("pg");
    const pool = new pg.Pool({ connectionString: cluster.url });
    try {
      await migrate(pool);
      const consumer = new Consumer(pool, async () => {}, { mode: "replication" });
      await assert.rejects(
        consumer.start(),
        (error: unknown) =>
          error instanceof ReplicationSetupError && /wal_level = logical/.test((error as Error).message),
      );
    } finally {
      await pool.end();
      await cluster.stop();
    }
  });
});
