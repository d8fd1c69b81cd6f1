// Replication slots that the server itself invalidates: max_slot_wal_keep_size (PostgreSQL
// 13+) past the WAL a slot keeps, idle_replication_slot_timeout (18+) past the time it stays
// unused. Each test has a cluster of its own, with the setting, and really invalidates the
// slot (WAL written and a CHECKPOINT, or an idle slot and a CHECKPOINT). The consumer learns
// that from pg_replication_slots, never from a message text, and with slotLost: "catch-up"
// recovers without loss: it polls from its progress snapshot, then streams from a new slot.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { Client, type Consumer, type ConsumerEvents, migrate, SlotLostError } from "../src/index.js";
import { consumerSlot, slotState } from "../src/slots/slot-admin.js";
import {
  type EmbeddedCluster,
  type EmbeddedVersion,
  parseEmbeddedVersion,
  startEmbeddedCluster,
} from "./support/embedded-cluster.js";
import { recorder } from "./support/recorder.js";
import { dropSlots, replicationConsumer } from "./support/replication.js";
import { waitFor } from "./support/wait-for.js";

type SlotLoss = ConsumerEvents["slotLost"][0];

function report(t: { diagnostic(message: string): void }, message: string): void {
  t.diagnostic(message);
  console.log(`# ${message}`);
}

/** A cluster with `settings`, its pool, and a consumer factory whose consumers stop at the end. */
async function withCluster(
  settings: Record<string, string>,
  version: EmbeddedVersion,
  body: (context: {
    cluster: EmbeddedCluster;
    pool: pg.Pool;
    client: Client;
    slot: string;
    consumers: Consumer[];
  }) => Promise<void>,
): Promise<void> {
  const cluster = await startEmbeddedCluster({ settings, version });
  const pool = new pg.Pool({ connectionString: cluster.url });
  const consumers: Consumer[] = [];
  try {
    await migrate(pool);
    const slot = await consumerSlot(pool, "poutbox", "default");
    await body({ cluster, pool, client: new Client(pool), slot, consumers });
  } finally {
    for (const consumer of consumers) await consumer.stop();
    await dropSlots(pool, "poutbox", "default").catch(() => undefined);
    await pool.end();
    await cluster.stop();
  }
}

/**
 * Writes WAL (20 MB a round, in a table outside the outbox), switches segments and checkpoints
 * until the server has invalidated `slot`; returns the rounds it took and the slot's state.
 */
async function fillWalUntilInvalidated(pool: pg.Pool, slot: string) {
  await pool.query("CREATE TABLE IF NOT EXISTS filler (x text)");
  let rounds = 0;
  const state = await waitFor(
    async () => {
      rounds++;
      await pool.query("INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 20000)");
      await pool.query("SELECT pg_switch_wal()");
      await pool.query("CHECKPOINT");
      await pool.query("TRUNCATE filler");
      const found = await slotState(pool, slot);
      return found?.invalidationReason ? found : undefined;
    },
    { timeout: 60_000, interval: 0, what: `slot ${slot} to be invalidated` },
  );
  return { rounds, state };
}

/** Waits until no walsender holds `slot` (a stopped consumer's lets go a moment after it closed). */
async function released(pool: pg.Pool, slot: string): Promise<void> {
  await waitFor(async () => (await slotState(pool, slot))?.active === false, { what: "the slot to be released" });
}

/** Every delivery of a job beyond its first. */
function duplicates(ids: readonly bigint[]): bigint[] {
  const seen = new Set<bigint>();
  const repeated: bigint[] = [];
  for (const id of ids) {
    if (seen.has(id)) repeated.push(id);
    seen.add(id);
  }
  return repeated;
}

/** The version the run's tests use (POUTBOX_TEST_PG, 17 by default). */
const runVersion = parseEmbeddedVersion(process.env.POUTBOX_TEST_PG, "POUTBOX_TEST_PG");

const walLimit = { max_slot_wal_keep_size: "1MB", wal_keep_size: "0", checkpoint_timeout: "1h" };

describe("replication slot invalidated by max_slot_wal_keep_size", () => {
  it("while the consumer was down: with slotLost catch-up it says why, polls what the slot carried, and streams again", {
    timeout: 120_000,
  }, async (t) => {
    await withCluster(walLimit, runVersion, async ({ pool, client, slot, consumers }) => {
      const record = recorder();
      const first = replicationConsumer(pool, "poutbox", record.handler, { slotLost: "catch-up" });
      consumers.push(first);
      await first.start();
      const early = await client.enqueueMany(["streamed 1", "streamed 2"]);
      await waitFor(() => early.every((id) => record.counts().has(id)), { what: "the streamed jobs" });
      await first.stop();
      await released(pool, slot);
      const whileDown = await client.enqueueMany(Array.from({ length: 10 }, (_, i) => `while down ${i}`));

      const { rounds, state } = await fillWalUntilInvalidated(pool, slot);
      assert.equal(state.invalidationReason, "wal_removed");
      assert.equal(state.walStatus, "lost");

      const losses: SlotLoss[] = [];
      const warnings: string[] = [];
      const second = replicationConsumer(pool, "poutbox", record.handler, {
        slotLost: "catch-up",
        logger: { warn: (message) => warnings.push(message) },
      });
      consumers.push(second);
      second.on("slotLost", (loss) => losses.push(loss));
      const started = Date.now();
      await second.start();
      await waitFor(() => whileDown.every((id) => record.counts().has(id)), { what: "the jobs the lost slot carried" });
      const caughtUpMs = Date.now() - started;
      const after = await client.enqueue("through the new slot");
      await waitFor(() => record.counts().has(after), { what: "a job streamed by the new slot" });
      const fresh = await slotState(pool, slot);

      const dup = duplicates(record.ids());
      report(
        t,
        `invalidated after ${rounds} round(s) of WAL; caught up in ${caughtUpMs} ms; ${whileDown.length} jobs ` +
          `written while down, lost 0, duplicates ${dup.length}; event: ${JSON.stringify(losses)}`,
      );
      assert.equal(second.failure, undefined);
      assert.deepEqual(
        losses.map(({ slot: name, reason, recovery }) => ({ name, reason, recovery })),
        [{ name: slot, reason: "wal_removed", recovery: "catch-up" }],
      );
      assert.match(losses[0]?.explanation ?? "", /max_slot_wal_keep_size/);
      assert.ok(
        warnings.some((warning) => /max_slot_wal_keep_size.*catching up by polling/.test(warning)),
        warnings.join("\n"),
      );
      assert.equal(fresh?.invalidationReason, null, "the new slot is valid");
      assert.notEqual(fresh?.walStatus, "lost");
      // Only jobs handled before the loss may come again (after the last recorded snapshot).
      assert.ok(
        dup.every((id) => early.includes(id)),
        `duplicates only among the jobs delivered before the loss: ${dup}`,
      );
      for (const id of [...whileDown, after]) assert.equal(record.counts().get(id), 1, `job ${id} once`);
    });
  });

  it("while the consumer streams, holding a batch: its walsender is ended, and it recovers by itself", {
    timeout: 120_000,
  }, async (t) => {
    await withCluster(walLimit, runVersion, async ({ pool, client, slot, consumers }) => {
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const record = recorder<string>(async (jobs) => {
        if (jobs.some((job) => job.payload === "held")) await held;
      });
      const errors: string[] = [];
      const losses: SlotLoss[] = [];
      const consumer = replicationConsumer(pool, "poutbox", record.handler as never, {
        slotLost: "catch-up",
        handlerTimeout: 120_000,
      });
      consumers.push(consumer);
      consumer.on("error", (error) => errors.push(error.message));
      consumer.on("slotLost", (loss) => losses.push(loss));
      await consumer.start();
      await waitFor(async () => (await slotState(pool, slot))?.active, { what: "the slot to stream" });
      const heldId = await client.enqueue("held");
      await waitFor(() => record.counts().has(heldId), { what: "the held batch" });

      // The slot cannot move past the held batch, so the WAL written meanwhile piles up in it.
      const { rounds, state } = await fillWalUntilInvalidated(pool, slot);
      const during = await client.enqueueMany(Array.from({ length: 10 }, (_, i) => `during ${i}`));
      const releasedAt = Date.now();
      release();
      await waitFor(() => during.every((id) => record.counts().has(id)), { what: "the jobs after the loss" });
      const recoveredMs = Date.now() - releasedAt;
      const after = await client.enqueue("through the new slot");
      await waitFor(() => record.counts().has(after), { what: "a job streamed by the new slot" });

      const dup = duplicates(record.ids());
      report(
        t,
        `invalidated (${state.invalidationReason}) after ${rounds} round(s) of WAL while streaming; ` +
          `recovered ${recoveredMs} ms after the batch was let go; lost 0, duplicates ${dup.length}; ` +
          `errors: ${errors.join(" | ")}`,
      );
      assert.equal(state.invalidationReason, "wal_removed");
      assert.equal(consumer.failure, undefined);
      assert.deepEqual(
        losses.map(({ reason, recovery }) => ({ reason, recovery })),
        [{ reason: "wal_removed", recovery: "catch-up" }],
      );
      assert.ok(
        dup.every((id) => id === heldId),
        `duplicates only of the batch in hand: ${dup}`,
      );
      for (const id of [...during, after]) assert.equal(record.counts().get(id), 1, `job ${id} once`);
      assert.equal((await slotState(pool, slot))?.invalidationReason, null, "the new slot is valid");
    });
  });
});

// idle_replication_slot_timeout exists from PostgreSQL 18 on; its unit is seconds, and the
// server invalidates at a checkpoint a slot unused for longer.
describe("replication slot invalidated by idle_replication_slot_timeout (PostgreSQL 18+)", () => {
  it("says idle_timeout; fail stops with a SlotLostError naming it, catch-up recovers without loss", {
    timeout: 120_000,
  }, async (t) => {
    await withCluster(
      { idle_replication_slot_timeout: "2", checkpoint_timeout: "1h" },
      18,
      async ({ pool, client, slot, consumers }) => {
        const { rows } = await pool.query("SELECT unit FROM pg_settings WHERE name = 'idle_replication_slot_timeout'");
        assert.equal(rows[0]?.unit, "s", "the timeout is in seconds");
        const record = recorder();
        const first = replicationConsumer(pool, "poutbox", record.handler);
        consumers.push(first);
        await first.start();
        const early = await client.enqueue("streamed");
        await waitFor(() => record.counts().has(early), { what: "the streamed job" });
        await first.stop();
        await released(pool, slot);
        const whileDown = await client.enqueueMany(["while idle 1", "while idle 2"]);
        // Unused for longer than the timeout, then a checkpoint: the server invalidates it.
        const state = await waitFor(
          async () => {
            await new Promise((resolve) => setTimeout(resolve, 500));
            await pool.query("CHECKPOINT");
            const found = await slotState(pool, slot);
            return found?.invalidationReason ? found : undefined;
          },
          { timeout: 30_000, interval: 0, what: "the idle slot to be invalidated" },
        );
        assert.equal(state.invalidationReason, "idle_timeout");

        const failing = replicationConsumer(pool, "poutbox", record.handler, { logger: {} });
        consumers.push(failing);
        const failLosses: SlotLoss[] = [];
        failing.on("slotLost", (loss) => failLosses.push(loss));
        failing.on("error", () => undefined);
        await failing.start();
        const failure = await waitFor(() => failing.failure, { what: "the consumer to give up" });
        await failing.stop();
        assert.ok(failure instanceof SlotLostError, `${failure.name}: ${failure.message}`);
        assert.equal(failure.reason, "idle_timeout");
        assert.match(failure.message, /idle_replication_slot_timeout/);
        assert.deepEqual(
          failLosses.map(({ reason, recovery }) => ({ reason, recovery })),
          [{ reason: "idle_timeout", recovery: "fail" }],
        );

        const recovering = replicationConsumer(pool, "poutbox", record.handler, { slotLost: "catch-up", logger: {} });
        consumers.push(recovering);
        const losses: SlotLoss[] = [];
        recovering.on("slotLost", (loss) => losses.push(loss));
        const started = Date.now();
        await recovering.start();
        await waitFor(() => whileDown.every((id) => record.counts().has(id)), { what: "the jobs of the idle time" });
        const caughtUpMs = Date.now() - started;
        const after = await client.enqueue("through the new slot");
        await waitFor(() => record.counts().has(after), { what: "a job streamed by the new slot" });
        const dup = duplicates(record.ids());
        report(
          t,
          `PostgreSQL 18: slot invalidated for idle_timeout after 2 s unused and a checkpoint; caught up in ` +
            `${caughtUpMs} ms; lost 0, duplicates ${dup.length}`,
        );
        assert.deepEqual(
          losses.map(({ reason, recovery }) => ({ reason, recovery })),
          [{ reason: "idle_timeout", recovery: "catch-up" }],
        );
        assert.equal(recovering.failure, undefined);
        assert.ok(dup.every((id) => id === early));
        for (const id of [...whileDown, after]) assert.equal(record.counts().get(id), 1, `job ${id} once`);
      },
    );
  });
});
