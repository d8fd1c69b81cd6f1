// Progress that does not belong to the server (a restored backup, a dump loaded into another
// cluster) is refused before anything is delivered or acknowledged; moveConsumer is the way
// out; rows copied from another cluster are delivered now, not when the server's ids catch up.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import {
  Client,
  Consumer,
  type ConsumerMode,
  type ConsumerOptions,
  migrate,
  moveConsumer,
  ProgressMismatchError,
} from "../src/index.js";
import { consumerSlot } from "../src/slots/slot-admin.js";
import { type EmbeddedCluster, embeddedVersions, startEmbeddedCluster } from "./support/embedded-cluster.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
const modes: ConsumerMode[] = ["polling", "replication"];

function consumerOn(
  pool: pg.Pool,
  schema: string,
  mode: ConsumerMode,
  handler: ReturnType<typeof recorder>["handler"],
  options: ConsumerOptions = {},
) {
  return new Consumer(pool, handler, {
    schema,
    mode,
    name: "restored",
    pollInterval: 5,
    reconnectDelay: 20,
    maintenance: false,
    ...options,
  });
}

/** Starts a consumer and waits until it has stopped itself with a failure; returns it. */
async function refusedStart(consumer: Consumer): Promise<Error> {
  await consumer.start();
  try {
    await waitFor(() => consumer.failure, { what: "the consumer to refuse its progress" });
    return consumer.failure as Error;
  } finally {
    await consumer.stop();
  }
}

async function stored(pool: pg.Pool, schema: string) {
  const { rows } = await pool.query(
    `SELECT snapshot::text, acked_lsn::text, system_identifier, timeline FROM ${schema}.consumers WHERE name = 'restored'`,
  );
  return rows[0] as { snapshot: string; acked_lsn: string | null; system_identifier: string; timeline: number };
}

/** Runs a consumer until `ids` are delivered, then stops it (the progress is then stored). */
async function consumeUntil(pool: pg.Pool, schema: string, mode: ConsumerMode, ids: bigint[]) {
  const record = recorder();
  const consumer = consumerOn(pool, schema, mode, record.handler);
  await consumer.start();
  try {
    await waitFor(() => ids.every((id) => record.counts().has(id)), { what: "the jobs before the restore" });
    // Idle progress is recorded about once a second: let it be, so that the stored position is
    // past every job above.
    await waitFor(
      async () => {
        const { rows } = await pool.query(
          `SELECT count(*)::int AS n FROM ${schema}.immediate i, ${schema}.consumers c
           WHERE c.name = 'restored' AND NOT pg_visible_in_snapshot(i.transaction_id, c.snapshot)`,
        );
        return rows[0].n === 0;
      },
      { what: "the progress snapshot past every job" },
    );
  } finally {
    await consumer.stop();
  }
}

for (const mode of modes) {
  describe(`progress ahead of the server (${mode})`, mode === "replication" ? needs("logical-replication") : {}, () => {
    it("refuses to run with ProgressMismatchError, changes nothing, and moves to `oldest` on request", async () => {
      const { schema, client } = await db.freshSchema("ahead");
      const first = await client.enqueueMany(["a", "b"]);
      await consumeUntil(db.pool, schema, mode, first);
      // As after restoring a backup taken before the consumer's last commit: the server has not
      // reached the stored position.
      await db.pool.query(
        mode === "polling"
          ? `UPDATE ${schema}.consumers SET snapshot = (n::text || ':' || n::text || ':')::pg_snapshot
               FROM (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 100000 AS n) AS ahead`
          : `UPDATE ${schema}.consumers SET acked_lsn = pg_current_wal_lsn() + 1073741824`,
      );
      const before = await stored(db.pool, schema);
      const slot = await consumerSlot(db.pool, schema, "restored");
      const slotBefore = await db.pool.query(
        "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1",
        [slot],
      );
      const later = await client.enqueueMany(["c", "d"]);

      const record = recorder();
      const error = await refusedStart(consumerOn(db.pool, schema, mode, record.handler));
      assert.ok(error instanceof ProgressMismatchError, String(error));
      assert.equal(error.code, "PROGRESS_MISMATCH");
      assert.equal(error.reason, "ahead");
      assert.equal(error.consumer, "restored");
      assert.match(error.message, /consumer "restored".*poutbox consumer move restored --to oldest/s);
      assert.deepEqual(record.deliveries, [], "nothing delivered");
      const after = await stored(db.pool, schema);
      assert.equal(after.snapshot, before.snapshot, "the stored snapshot did not move");
      assert.equal(after.acked_lsn, before.acked_lsn);
      const slotAfter = await db.pool.query(
        "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1",
        [slot],
      );
      assert.deepEqual(slotAfter.rows, slotBefore.rows, "the slot was not moved");

      const move = await moveConsumer(db.pool, { schema, consumer: "restored", to: "oldest", reason: "test restore" });
      assert.equal(move.target, "oldest");
      assert.equal(move.previous?.snapshot, before.snapshot);
      assert.equal(move.slotDropped, mode === "replication");
      const { rows: moves } = await db.pool.query(
        `SELECT consumer, target, reason, moved_by FROM ${schema}.consumer_moves`,
      );
      assert.deepEqual(moves, [
        { consumer: "restored", target: "oldest", reason: "test restore", moved_by: "postgres" },
      ]);

      const consumer = consumerOn(db.pool, schema, mode, record.handler);
      await consumer.start();
      try {
        await waitFor(() => [...first, ...later].every((id) => record.counts().has(id)), { what: "every job again" });
        const newer = await client.enqueue("e");
        await waitFor(() => record.counts().has(newer), { what: "a job after the move" });
        assert.equal(consumer.failure, undefined);
      } finally {
        await consumer.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "restored");
      }
    });

    it("moves to `now`: skips what the outbox holds, delivers what comes after", async () => {
      const { schema, client } = await db.freshSchema("ahead");
      await db.pool.query(
        `INSERT INTO ${schema}.consumers (name, mode, snapshot, acked_lsn)
         VALUES ('restored', $1, '1:1:', CASE WHEN $1 = 'replication' THEN pg_current_wal_lsn() + 1073741824 END)`,
        [mode],
      );
      if (mode === "polling") {
        await db.pool.query(
          `UPDATE ${schema}.consumers SET window_snapshot = '1:999999999:', position_xid = '5', position_id = 1`,
        );
      }
      const skipped = await client.enqueueMany(["old 1", "old 2"]);
      const record = recorder();
      assert.ok(
        (await refusedStart(consumerOn(db.pool, schema, mode, record.handler))) instanceof ProgressMismatchError,
      );
      const move = await moveConsumer(db.pool, { schema, consumer: "restored", to: "now" });
      assert.notEqual(move.snapshot, "1:1:");
      const consumer = consumerOn(db.pool, schema, mode, record.handler);
      await consumer.start();
      try {
        await waitFor(() => consumer.isLeader, { what: "leadership" });
        const fresh = await client.enqueue("new");
        await waitFor(() => record.counts().has(fresh), { what: "the job after the move" });
        assert.ok(
          skipped.every((id) => !record.counts().has(id)),
          "jobs before the move are skipped",
        );
      } finally {
        await consumer.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "restored");
      }
    });

    it("refuses progress recorded on another cluster or on a timeline above the server's", async () => {
      const { schema, client } = await db.freshSchema("ahead");
      const ids = await client.enqueueMany(["a"]);
      await consumeUntil(db.pool, schema, mode, ids);
      const identity = await stored(db.pool, schema);
      assert.match(identity.system_identifier, /^\d+$/, "the cluster is recorded");
      assert.ok(identity.timeline >= 1, "the timeline is recorded");

      await db.pool.query(`UPDATE ${schema}.consumers SET system_identifier = '12345'`);
      const record = recorder();
      const other = await refusedStart(consumerOn(db.pool, schema, mode, record.handler));
      assert.ok(other instanceof ProgressMismatchError);
      assert.equal(other.reason, "other-cluster");
      assert.equal(other.stored.systemIdentifier, "12345");
      assert.equal(other.server.systemIdentifier, identity.system_identifier);

      await db.pool.query(`UPDATE ${schema}.consumers SET system_identifier = $1, timeline = timeline + 5`, [
        identity.system_identifier,
      ]);
      const timeline = await refusedStart(consumerOn(db.pool, schema, mode, record.handler));
      assert.ok(timeline instanceof ProgressMismatchError);
      assert.equal(timeline.reason, "other-timeline");
      assert.deepEqual(record.deliveries, []);
      if (mode === "replication") await dropSlots(db.pool, schema, "restored");
    });

    it("delivers rows copied with transaction ids the server has not reached, at once", async () => {
      const { schema, client } = await db.freshSchema("future");
      const normal = await client.enqueue("normal");
      const { rows } = await db.pool.query(
        `INSERT INTO ${schema}.immediate (payload, topic, transaction_id)
         SELECT '"copied"', 'restored', (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000000)::text::xid8
         RETURNING id::text`,
      );
      const copied = BigInt(rows[0].id);
      const record = recorder();
      const consumer = consumerOn(db.pool, schema, mode, record.handler);
      await consumer.start();
      try {
        await waitFor(() => record.counts().has(copied) && record.counts().has(normal), {
          what: "the copied row and the normal one",
          timeout: 30_000,
        });
        assert.equal(record.deliveries.find((job) => job.id === copied)?.topic, "restored");
      } finally {
        await consumer.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "restored");
      }
    });
  });
}

describe("a dump loaded into another cluster", () => {
  let target: EmbeddedCluster | undefined;
  let targetPool: pg.Pool | undefined;

  before(async () => {
    const { rows } = await db.pool.query("SELECT current_setting('server_version_num')::int / 10000 AS major");
    const major = rows[0].major in embeddedVersions ? (rows[0].major as keyof typeof embeddedVersions) : 17;
    target = await startEmbeddedCluster({ version: major });
    targetPool = new pg.Pool({ connectionString: target.url, max: 6 });
    targetPool.on("error", () => {});
  });

  after(async () => {
    await targetPool?.end();
    await target?.stop();
  });

  for (const mode of modes) {
    it(
      `refuses the copied progress (${mode}); a new consumer gets the copied jobs at once; \`oldest\` delivers them all`,
      mode === "replication" ? needs("logical-replication") : {},
      async () => {
        const pool = targetPool as pg.Pool;
        const { schema, client } = await db.freshSchema("dumped");
        // The source has assigned more transaction ids than the fresh target: the copied rows and
        // snapshot are ahead of it, as with most dumps loaded into a new cluster.
        await db.pool.query("SET synchronous_commit = off");
        await db.pool.query("DO $$ BEGIN FOR i IN 1..3000 LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$");
        const done = await client.enqueueMany(["done 1", "done 2"]);
        await consumeUntil(db.pool, schema, mode, done);
        const pending = await client.enqueueMany(["pending 1", "pending 2"]);
        const scheduled = await client.enqueue("scheduled", { runAt: new Date(Date.now() + 500) });

        await migrate(pool, { schema });
        for (const table of ["immediate", "scheduled", "failed", "dead_letter", "consumers"]) {
          const { rows } = await db.pool.query(
            `SELECT coalesce(json_agg(t), '[]')::text AS rows FROM ${schema}.${table} t`,
          );
          await pool.query(
            `INSERT INTO ${schema}.${table} SELECT * FROM json_populate_recordset(NULL::${schema}.${table}, $1::json)`,
            [rows[0].rows],
          );
        }
        // A dump carries the job id sequence too (pg_dump ends with its setval): without it the
        // job enqueued on the new cluster below would take the id of a copied one.
        const { rows: sequence } = await db.pool.query(`SELECT last_value, is_called FROM ${schema}.job_id_seq`);
        await pool.query(`SELECT setval('${schema}.job_id_seq', $1, $2)`, [
          sequence[0].last_value,
          sequence[0].is_called,
        ]);
        if (mode === "replication") await dropSlots(db.pool, schema, "restored");

        const record = recorder();
        const refused = await refusedStart(consumerOn(pool, schema, mode, record.handler));
        assert.ok(refused instanceof ProgressMismatchError, String(refused));
        assert.equal(refused.reason, "other-cluster");
        assert.deepEqual(record.deliveries, []);

        // Another consumer, new on this cluster, gets every copied job now.
        const fresh = recorder();
        const newcomer = new Consumer(pool, fresh.handler, {
          schema,
          name: "newcomer",
          pollInterval: 5,
          maintenance: false,
          promoteInterval: 20,
        });
        await newcomer.start();
        try {
          await waitFor(() => [...done, ...pending, scheduled].every((id) => fresh.counts().has(id)), {
            what: "the copied jobs, for a new consumer",
            timeout: 30_000,
          });
        } finally {
          await newcomer.stop();
        }

        await moveConsumer(pool, { schema, consumer: "restored", to: "oldest" });
        const consumer = consumerOn(pool, schema, mode, record.handler, { promoteInterval: 20 });
        // A term that ends in an error starts over from the last recorded progress, and at least
        // once allows the repeats that follows; the message below then names the errors.
        const errors: string[] = [];
        consumer.on("error", (error: Error) => errors.push(error.message));
        await consumer.start();
        try {
          await waitFor(() => [...done, ...pending, scheduled].every((id) => record.counts().has(id)), {
            what: "every copied job",
            timeout: 30_000,
          });
          const later = await new Client(pool, { schema }).enqueue("on the new cluster");
          assert.ok(![...done, ...pending, scheduled].includes(later), `a new id for the new job, got ${later}`);
          await waitFor(() => record.counts().has(later), { what: "a job enqueued on the new cluster" });
          const twice = [...record.counts()].filter(([, count]) => count > 1).map(([id]) => id);
          assert.deepEqual(
            twice,
            [],
            `each delivered once; batches: ${JSON.stringify(record.batches.map((batch) => batch.map((job) => `${job.id}:${job.payload}`)))}; consumer errors: ${JSON.stringify(errors)}`,
          );
        } finally {
          await consumer.stop();
          if (mode === "replication") await dropSlots(pool, schema, "restored");
        }
      },
    );
  }
});
