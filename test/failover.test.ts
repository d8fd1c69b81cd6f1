// Failover of the database: a primary with a physical standby (a base backup streaming through
// a physical slot, sync_replication_slots on, synchronous commit to it), consumers of both
// modes on the primary while jobs are enqueued, the primary crashed (an immediate shutdown),
// the standby promoted, and the same consumers started against it with a new pool. Every job
// whose commit returned must be delivered; duplicates are counted. The replication consumer
// uses failoverSlot, so its slot's copy on the standby is what it resumes from (with the
// default slotLost: "fail", a missing slot would stop it). Failover slots and their
// synchronization are PostgreSQL 17+.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import {
  Client,
  Consumer,
  type ConsumerEvents,
  InvalidOptionError,
  migrate,
  ReplicationSetupError,
} from "../src/index.js";
import { consumerSlot, slotState } from "../src/slots/slot-admin.js";
import { parseEmbeddedVersion, startEmbeddedCluster } from "./support/embedded-cluster.js";
import {
  type PhysicalServer,
  query,
  type Standby,
  startPrimary,
  startStandby,
  waitUntil,
} from "./support/physical-standby.js";
import { recorder } from "./support/recorder.js";
import { replicationConsumer } from "./support/replication.js";
import { waitFor } from "./support/wait-for.js";

type SlotLoss = ConsumerEvents["slotLost"][0];

/** The version the run's tests use (POUTBOX_TEST_PG, 17 by default). */
const version = parseEmbeddedVersion(process.env.POUTBOX_TEST_PG, "POUTBOX_TEST_PG");
const failoverSkip =
  version < 17
    ? `failover slots (FAILOVER, sync_replication_slots) need PostgreSQL 17 or later; this run uses ${version}`
    : undefined;

function report(t: { diagnostic(message: string): void }, message: string): void {
  t.diagnostic(message);
  console.log(`# ${message}`);
}

/** What one consumer saw across the failover. */
interface Tally {
  readonly consumer: string;
  readonly committed: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicates: number;
  /** From the end of pg_promote to every committed job delivered, ms. */
  readonly continuedMs: number;
}

describe("failover to a promoted standby (PostgreSQL 17+)", { ...(failoverSkip ? { skip: failoverSkip } : {}) }, () => {
  it("replication (failoverSlot) and polling consumers lose no committed job when the primary crashes", {
    timeout: 240_000,
  }, async (t) => {
    const servers: PhysicalServer[] = [];
    const pools: pg.Pool[] = [];
    const consumers: Consumer[] = [];
    const newPool = (url: string) => {
      const pool = new pg.Pool({ connectionString: url, max: 6 });
      // Connections to the crashed primary fail while idle: that is the test, not a failure.
      pool.on("error", () => undefined);
      pools.push(pool);
      return pool;
    };
    try {
      const primary = await startPrimary(version);
      servers.push(primary);
      const oldPool = newPool(primary.url);
      await migrate(oldPool);
      // Handlers slower than the producer, so that a backlog and batches in hand meet the crash.
      const slow = () => new Promise<void>((resolve) => setTimeout(resolve, 40));
      const streamed = recorder(slow);
      const polled = recorder(slow);
      const batchSize = 10;
      const warnings: string[] = [];
      const logger = { warn: (message: string) => warnings.push(message) };
      const losses: SlotLoss[] = [];
      const streamer = (pool: pg.Pool) => {
        const consumer = replicationConsumer(pool, "poutbox", streamed.handler, {
          name: "streamer",
          failoverSlot: true,
          batchSize,
          logger,
        });
        consumer.on("slotLost", (loss) => losses.push(loss));
        consumer.on("error", () => undefined);
        consumers.push(consumer);
        return consumer;
      };
      const poller = (pool: pg.Pool) => {
        const consumer = new Consumer(pool, polled.handler, {
          name: "poller",
          batchSize,
          pollInterval: 5,
          reconnectDelay: 20,
          promoteInterval: 20,
          logger,
        });
        consumer.on("error", () => undefined);
        consumers.push(consumer);
        return consumer;
      };
      await streamer(oldPool).start();
      await poller(oldPool).start();
      const slot = await consumerSlot(oldPool, "poutbox", "streamer");
      await waitUntil(async () => (await slotState(oldPool, slot))?.active === true, 30_000, "the slot to stream");
      assert.equal((await slotState(oldPool, slot))?.failover, true, "created as a failover slot");

      // The standby is taken once the slot exists: its slot sync worker then finds the slot on
      // its first pass (a slot created later waits for the worker's next pass, up to 30 s).
      const standby: Standby = await startStandby(primary, version, {
        slot: "poutbox_standby",
        name: "standby1",
        settings: { sync_replication_slots: "on" },
      });
      servers.push(standby);
      // The operator's part on the primary: logical walsenders wait for the standby's slot
      // (no consumer gets ahead of the standby), and commits wait for the standby to flush
      // them (a commit that returned survives the failover).
      await oldPool.query("ALTER SYSTEM SET synchronized_standby_slots = 'poutbox_standby'");
      await oldPool.query("ALTER SYSTEM SET synchronous_standby_names = 'standby1'");
      await oldPool.query("SELECT pg_reload_conf()");
      await waitUntil(
        async () => {
          const { rows } = await oldPool.query(
            "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'",
          );
          return rows[0]?.sync_state === "sync";
        },
        30_000,
        "synchronous replication",
      );

      const syncStarted = Date.now();
      // The standby's copy: synchronized, and no longer temporary (a slot the standby has not
      // caught up with stays temporary, and a promotion drops it).
      await waitUntil(
        async () => {
          // The copy stays temporary until the slot's restart_lsn on the primary passes where
          // the copy started, which takes a running-transactions record after it: the server
          // writes one every 15 s, this asks for one now.
          await oldPool.query("SELECT pg_log_standby_snapshot()");
          await new Promise((resolve) => setTimeout(resolve, 100));
          const { rows } = await query(
            standby.url,
            "SELECT synced, temporary FROM pg_replication_slots WHERE slot_name = $1",
            [slot],
          );
          return rows[0]?.synced === true && rows[0]?.temporary === false;
        },
        60_000,
        "the slot's copy on the standby",
      );
      const syncMs = Date.now() - syncStarted;

      // Jobs enqueued in small transactions while both consume; the primary crashes midway.
      const client = new Client(oldPool);
      const committed: bigint[] = [];
      let producing = true;
      let inDoubt = 0;
      const producer = (async () => {
        for (let round = 0; producing; round++) {
          try {
            committed.push(...(await client.enqueueMany([1, 2, 3, 4, 5].map((n) => ({ round, n })))));
          } catch {
            inDoubt++; // The primary is gone: this commit may or may not have happened.
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      await waitFor(() => committed.length >= 300, { what: "jobs committed before the crash" });
      await primary.crash();
      producing = false;
      await producer;
      const crashedAt = Date.now();
      const backlog = {
        streamer: committed.filter((id) => !streamed.counts().has(id)).length,
        poller: committed.filter((id) => !polled.counts().has(id)).length,
      };
      for (const consumer of consumers.splice(0)) await consumer.stop();
      const stoppedMs = Date.now() - crashedAt;
      // What the old consumers handled, taken once they stopped: a batch read before the crash
      // is still handed to the handler after it (its completion then cannot be written), so
      // such jobs come again on the new primary, as at-least-once delivery allows.
      const handledOnOldPrimary = { streamer: new Set(streamed.ids()), poller: new Set(polled.ids()) };

      const promoteStarted = Date.now();
      await standby.promote();
      const promotedAt = Date.now();
      const newPoolOnStandby = newPool(standby.url);
      const newStreamer = streamer(newPoolOnStandby);
      const newPoller = poller(newPoolOnStandby);
      await newStreamer.start();
      await newPoller.start();
      const tallies: Tally[] = [];
      for (const [name, record] of [
        ["streamer", streamed],
        ["poller", polled],
      ] as const) {
        await waitFor(() => committed.every((id) => record.counts().has(id)), {
          timeout: 90_000,
          what: `${name}: every committed job after the failover`,
        });
        const ids = record.ids();
        tallies.push({
          consumer: name,
          committed: committed.length,
          delivered: new Set(ids).size,
          lost: committed.filter((id) => !record.counts().has(id)).length,
          duplicates: ids.length - new Set(ids).size,
          continuedMs: Date.now() - promotedAt,
        });
      }

      // New jobs on the new primary: the streamer gets them from the slot's copy, streaming.
      const after = await new Client(newPoolOnStandby).enqueueMany(["after 1", "after 2", "after 3"]);
      await waitFor(() => after.every((id) => streamed.counts().has(id) && polled.counts().has(id)), {
        what: "jobs enqueued on the new primary",
      });
      const newSlot = await slotState(newPoolOnStandby, slot);
      // Every job in the new primary's outbox was delivered to both, whether or not its
      // commit was known to have returned.
      const { rows } = await newPoolOnStandby.query("SELECT id FROM poutbox.immediate");
      const present = rows.map((row) => BigInt(row.id));
      const missing = {
        streamer: present.filter((id) => !streamed.counts().has(id)).length,
        poller: present.filter((id) => !polled.counts().has(id)).length,
      };

      for (const tally of tallies) {
        report(
          t,
          `${tally.consumer}: ${tally.committed} jobs committed before the crash, lost ${tally.lost}, ` +
            `duplicates ${tally.duplicates}, every committed job delivered ${tally.continuedMs} ms after the promotion`,
        );
      }
      report(
        t,
        `PostgreSQL ${version}: slot copied to the standby in ${syncMs} ms; ` +
          `not yet delivered at the crash ${JSON.stringify(backlog)}; ` +
          `old consumers stopped ${stoppedMs} ms after the crash; pg_promote took ` +
          `${promotedAt - promoteStarted} ms; in-doubt commits ${inDoubt}; rows on the new primary ${present.length}, ` +
          `undelivered ${JSON.stringify(missing)}; slot on the new primary: active ${newSlot?.active}, failover ` +
          `${newSlot?.failover}; warnings: ${warnings.join(" | ") || "none"}`,
      );
      for (const tally of tallies) assert.equal(tally.lost, 0, `${tally.consumer} lost nothing`);
      // The poller's progress commits are synchronous to the standby, so what comes again is at
      // most the two batches the delivery loop holds uncommitted (one handled, one in hand).
      const pollerTally = tallies.find((tally) => tally.consumer === "poller");
      assert.ok((pollerTally?.duplicates ?? 0) <= 2 * batchSize, `poller: ${pollerTally?.duplicates} duplicates`);
      // A job comes again only if the old consumers handled it, and at most once more.
      for (const [name, record] of [
        ["streamer", streamed],
        ["poller", polled],
      ] as const) {
        for (const [id, count] of record.counts()) {
          if (count > 1)
            assert.ok(
              count === 2 && handledOnOldPrimary[name].has(id),
              `${name}: job ${id} delivered ${count} times, ` +
                `${handledOnOldPrimary[name].has(id) ? "once" : "never"} by the consumer on the old primary`,
            );
        }
      }
      assert.deepEqual(missing, { streamer: 0, poller: 0 });
      assert.deepEqual(losses, [], "the streamer resumed from the slot's copy, not from a new slot");
      assert.equal(newStreamer.failure, undefined);
      assert.equal(newPoller.failure, undefined);
      assert.equal(newSlot?.failover, true);
      assert.equal(newSlot?.invalidationReason, null);
    } finally {
      for (const consumer of consumers) await consumer.stop();
      for (const pool of pools) await pool.end().catch(() => undefined);
      for (const server of servers.reverse()) await server.stop();
    }
  });
});

describe("failoverSlot option", () => {
  it("is refused for a polling consumer", () => {
    const pool = new pg.Pool();
    try {
      assert.throws(
        () => new Consumer(pool, async () => {}, { failoverSlot: true }),
        (error: unknown) => error instanceof InvalidOptionError && error.option === "failoverSlot",
      );
      assert.throws(
        () => new Consumer(pool, async () => {}, { mode: "replication", failoverSlot: "yes" as never }),
        InvalidOptionError,
      );
    } finally {
      void pool.end();
    }
  });

  it("makes the slot of a consumer that ran without it a failover slot", {
    timeout: 120_000,
    ...(failoverSkip ? { skip: failoverSkip } : {}),
  }, async () => {
    const cluster = await startEmbeddedCluster({ version: version });
    const pool = new pg.Pool({ connectionString: cluster.url });
    const record = recorder();
    const consumers: Consumer[] = [];
    try {
      await migrate(pool);
      const slot = await consumerSlot(pool, "poutbox", "default");
      const client = new Client(pool);
      for (const failoverSlot of [false, true]) {
        const consumer = replicationConsumer(pool, "poutbox", record.handler, { failoverSlot });
        consumers.push(consumer);
        await consumer.start();
        const id = await client.enqueue({ failoverSlot });
        await waitFor(() => record.counts().has(id), { what: `a job with failoverSlot ${failoverSlot}` });
        assert.equal((await slotState(pool, slot))?.failover, failoverSlot);
        await consumer.stop();
      }
      assert.equal(record.deliveries.length, 2, "each job once: the slot was altered, not made anew");
    } finally {
      for (const consumer of consumers) await consumer.stop();
      await pool.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots").catch(() => undefined);
      await pool.end();
      await cluster.stop();
    }
  });

  it("below PostgreSQL 17, start() rejects with a ReplicationSetupError saying so, and creates no slot", {
    timeout: 120_000,
  }, async () => {
    const cluster = await startEmbeddedCluster({ version: 15 });
    const pool = new pg.Pool({ connectionString: cluster.url });
    try {
      await migrate(pool);
      const consumer = replicationConsumer(pool, "poutbox", async () => {}, { failoverSlot: true });
      await assert.rejects(consumer.start(), (error: unknown) => {
        assert.ok(error instanceof ReplicationSetupError, String(error));
        assert.match(error.message, /failoverSlot needs PostgreSQL 17 or later.*15\./);
        return true;
      });
      const { rows } = await pool.query("SELECT slot_name FROM pg_replication_slots");
      assert.deepEqual(rows, []);
    } finally {
      await pool.end();
      await cluster.stop();
    }
  });
});
