// Replication consumers under faults and at limits: a short wal_sender_timeout with a slow
// handler, megabyte payloads, a transaction split across batches then SIGKILL, a leader
// killed with a standby waiting, and servers that cannot keep or create the slot.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import pg from "pg";
import { Client, Consumer, migrate, ReplicationSetupError, SlotLostError } from "../src/index.js";
import { publicationName } from "../src/schema/server-names.js";
import { consumerSlot } from "../src/slots/slot-admin.js";
import { ConsumerProcess } from "./support/consumer-child.js";
import { startEmbeddedCluster } from "./support/embedded-cluster.js";
import { enqueueTransaction, enqueueTransactions, missing } from "./support/jobs.js";
import { settleLeadership } from "./support/leadership.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots, replicationConsumer } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

/** The pid of the walsender streaming the consumer's slot, or undefined while none does. */
async function activePid(pool: pg.Pool, schema: string, consumer = "default"): Promise<number | undefined> {
  const { rows } = await pool.query("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", [
    await consumerSlot(pool, schema, consumer),
  ]);
  return (rows[0]?.active_pid as number | null | undefined) ?? undefined;
}

/**
 * The pid of the walsender streaming the consumer's slot, once it streams. (While the slot is
 * being created, the walsender that creates it holds it; streaming starts on another.)
 */
async function streamingPid(pool: pg.Pool, schema: string, consumer = "default"): Promise<number | undefined> {
  const { rows } = await pool.query(
    `SELECT r.pid FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
      WHERE s.slot_name = $1 AND r.state = 'streaming'`,
    [await consumerSlot(pool, schema, consumer)],
  );
  return (rows[0]?.pid as number | undefined) ?? undefined;
}

function duplicates(ids: readonly bigint[]): number {
  return ids.length - new Set(ids).size;
}

function report(t: { diagnostic(message: string): void }, message: string): void {
  t.diagnostic(message);
  console.log(`# ${message}`);
}

// --- The tests --------------------------------------------------------------------------------

describe("replication consumer: keepalives and large payloads", needs("logical-replication"), () => {
  it("keeps its walsender (wal_sender_timeout = 2 s) through 5 s batches, and delivers everything", {
    timeout: 90_000,
  }, async (t) => {
    const { schema, client } = await db.freshSchema("faults");
    // The replication connection is opened with the pool's options, so it gets the setting too.
    // 2 s rather than 1: the status timer then tolerates a 1.5 s stall of this process on a
    // loaded machine, and a batch still lasts more than twice the timeout.
    const pool = db.newPool({ options: "-c wal_sender_timeout=2000" });
    const record = recorder(() => new Promise((resolve) => setTimeout(resolve, 5000)));
    const batchSize = 4;
    // Default statusInterval (1 s): the consumer reads the walsender's 2 s timeout and sends
    // status four times within it, which alone keeps the walsender alive while paused.
    const consumer = replicationConsumer(pool, schema, record.handler, { batchSize });
    const errors: Error[] = [];
    consumer.on("error", (error) => errors.push(error));
    const pids: (number | undefined)[] = [];
    let sampling: NodeJS.Timeout | undefined;
    try {
      await consumer.start();
      const pid = await waitFor(() => streamingPid(db.pool, schema), { what: "the slot to stream" });

      // First, that the setting reaches a walsender at all: a replication connection opened
      // with the same options shows it, and one that starts streaming and never answers is
      // cut by the server after about two seconds.
      const probe = await probeWalSender(db.url, "-c wal_sender_timeout=2000", publicationName(schema));
      report(
        t,
        `probe walsender: SHOW wal_sender_timeout = ${probe.shown}; a silent stream was cut after ` +
          `${probe.cutAfterMs} ms (${probe.error})`,
      );
      assert.equal(probe.shown, "2s");
      assert.ok(probe.cutAfterMs !== undefined && probe.cutAfterMs < 8000, "the silent walsender was timed out");

      // 16 jobs in one transaction for batches of 4: the queue fills (2 batches' worth) and the
      // socket is paused for a whole batch, server pings unread; only the status timer
      // (capped to a quarter of wal_sender_timeout) then keeps the walsender alive.
      sampling = setInterval(() => {
        activePid(db.pool, schema).then(
          (sample) => pids.push(sample),
          () => undefined,
        );
      }, 100);
      const ids = await enqueueTransaction(db.pool, client, 4 * batchSize);
      await waitFor(() => missing(record.ids(), ids) === 0, { timeout: 30_000, what: "every job" });
      clearInterval(sampling);
      const distinct = [...new Set(pids)];
      report(
        t,
        `${record.batches.length} batches of ${record.batches.map((b) => b.length).join(", ")} jobs, 5 s each; ` +
          `walsender pids seen: ${distinct.join(", ")} (${pids.length} samples); errors: ` +
          (errors.map((error) => error.message).join("; ") || "none"),
      );
      assert.equal(duplicates(record.ids()), 0, "no job delivered twice");
      assert.deepEqual(errors, [], "no error about the connection");
      assert.deepEqual(distinct, [pid], "the walsender was never restarted");
    } finally {
      clearInterval(sampling);
      await consumer.stop();
      await dropSlots(db.pool, schema, "default");
      await pool.end();
    }
  });

  it("delivers 40 payloads of 1 MB in batches of at most maxBatchBytes (4 MiB), each once", {
    timeout: 45_000,
  }, async (t) => {
    const { schema } = await db.freshSchema("faults");
    const maxBatchBytes = 4 * 1024 * 1024;
    const size = 1_000_000;
    // A handler slower than the stream, so that jobs queue up and batches fill to the limit.
    const record = recorder(() => new Promise((resolve) => setTimeout(resolve, 100)));
    const consumer = replicationConsumer(db.pool, schema, record.handler, { batchSize: 100, maxBatchBytes });
    let peakRss = process.memoryUsage().rss;
    const baseRss = peakRss;
    const sampling = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 5);
    try {
      await consumer.start();
      await waitFor(() => streamingPid(db.pool, schema), { what: "the slot to stream" });
      // Generated by the server, so that the test process holds no payload but what the
      // consumer gives it: its RSS is the consumer's. Two transactions of 20 jobs.
      const ids: bigint[] = [];
      for (let part = 0; part < 2; part++) {
        const { rows } = await db.pool.query(
          `INSERT INTO ${schema}.immediate (payload)
           SELECT json_build_object('i', i, 'data', repeat(chr(97 + i % 26), ${size}))
             FROM generate_series($1::int, $1::int + 19) AS i
           RETURNING id::text AS id`,
          [part * 20],
        );
        ids.push(...rows.map((row) => BigInt(row.id)));
      }
      await waitFor(() => missing(record.ids(), ids) === 0, { timeout: 30_000, what: "every 1 MB job" });
      clearInterval(sampling);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const batchBytes = record.batches.map((batch) =>
        batch.reduce((sum, job) => sum + JSON.stringify(job.payload).length, 0),
      );
      const message =
        `${record.batches.length} batches of ${record.batches.map((b) => b.length).join(", ")} jobs, ` +
        `largest ${Math.max(...batchBytes)} bytes; RSS ${mb(baseRss)} MB before, peak ${mb(peakRss)} MB`;
      report(t, message);
      record.batches.forEach((batch, i) => {
        const bytes = batchBytes[i] as number;
        assert.ok(bytes <= maxBatchBytes || batch.length === 1, `batch ${i}: ${batch.length} jobs, ${bytes} bytes`);
      });
      assert.ok(
        record.batches.some((batch) => batch.length > 1),
        "jobs queued up into batches of several (the limit was reached)",
      );
      assert.equal(record.deliveries.length, ids.length, "each job delivered once");
      assert.deepEqual(record.ids().sort(compareIds), [...ids].sort(compareIds));
      for (const job of record.deliveries) {
        const payload = job.payload as { i: number; data: string };
        assert.equal(payload.data.length, size);
        assert.equal(payload.data[0], String.fromCharCode(97 + (payload.i % 26)));
      }
      assert.ok(peakRss < 1.5 * 1024 ** 3, `peak RSS ${mb(peakRss)} MB`);
    } finally {
      clearInterval(sampling);
      await consumer.stop();
      await dropSlots(db.pool, schema, "default");
    }
  });
});

describe("replication consumer: crashes and takeovers", needs("logical-replication"), () => {
  it("after SIGKILL in a split transaction, resumes inside it; then survives its walsender's termination", {
    timeout: 60_000,
  }, async (t) => {
    const { schema, client } = await db.freshSchema("faults");
    const dir = mkdtempSync(join(tmpdir(), "poutbox-faults-"));
    const children: ConsumerProcess[] = [];
    const batchSize = 100;
    // Each process holds a batch in flight at a gate (a file) for as long as the test needs:
    // the faults land mid-transaction however fast or slow the machine is.
    const start = (label: string, holdAfter: number) => {
      const gate = join(dir, `${label}.gate`);
      writeFileSync(gate, "");
      const child = new ConsumerProcess(label, {
        url: db.url,
        mode: "replication",
        schema,
        name: "split",
        sink: join(dir, `${label}.ids`),
        batchSize,
        flags: ["--gate", gate, "--hold-after", String(holdAfter)],
      });
      children.push(child);
      return { child, open: () => rmSync(gate, { force: true }) };
    };
    const progress = async () => {
      const { rows } = await db.pool.query(
        `SELECT acked_lsn::text AS acked, partial_lsn::text AS partial_lsn, partial_count FROM ${schema}.consumers`,
      );
      return rows[0] as { acked: string; partial_lsn: string | null; partial_count: number | null };
    };
    try {
      // The first process handles three batches of the transaction, then holds its fourth.
      const { child: first } = start("first", 3 * batchSize);
      await first.waitForLine("LEADER");
      await waitFor(() => streamingPid(db.pool, schema, "split"), { what: `the slot to stream (${first.describe()})` });
      const ids = await enqueueTransaction(db.pool, client, 1000);
      await waitFor(
        async () =>
          first.delivered().length >= 4 * batchSize && ((await progress()).partial_count ?? 0) >= 3 * batchSize,
        {
          what: `three batches recorded and a fourth in flight (${first.describe()})`,
        },
      );
      first.signal("SIGKILL");
      await first.closed;
      const atKill = await progress();
      const firstIds = first.delivered();
      const firstSet = new Set(firstIds);

      // The second process redelivers what the first had in flight, records it, then holds its
      // next batch: its walsender is cut there, past every job the first delivered (cut before
      // that, it would replay the first one's duplicates again: two faults in one window, which
      // the bound of two batches per fault does not cover).
      const redelivered = firstSet.size - (atKill.partial_count ?? 0);
      const { child: second, open } = start("second", redelivered);
      await waitFor(
        async () => second.delivered().length > redelivered && ((await progress()).partial_count ?? 0) >= firstSet.size,
        { what: `the second process to record progress past the first's deliveries (${second.describe()})` },
      );
      const pid = await waitFor(() => streamingPid(db.pool, schema, "split"), { what: "the second walsender" });
      const secondBeforeCut = second.delivered();
      const beforeCut = new Set([...firstIds, ...secondBeforeCut]).size;
      const { rows: cut } = await db.pool.query("SELECT pg_terminate_backend($1) AS ok", [pid]);
      assert.equal(cut[0].ok, true);
      open();
      assert.ok(beforeCut < ids.length, `the walsender was cut mid-stream (${beforeCut} of ${ids.length} delivered)`);

      await waitFor(() => missing([...firstIds, ...second.delivered()], ids) === 0, {
        timeout: 30_000,
        what: `every job (${second.describe()})`,
      });
      await waitFor(async () => (await activePid(db.pool, schema, "split")) !== pid, {
        what: "a new walsender",
      });
      const secondIds = second.delivered();
      const afterKill = secondBeforeCut.filter((id) => firstSet.has(id)).length;
      const afterCut = duplicates(secondIds);
      report(
        t,
        `split transaction of ${ids.length}: first process delivered ${firstIds.length} before SIGKILL; ` +
          `recorded then: partial_count ${atKill.partial_count} at ${atKill.partial_lsn} (acked ${atKill.acked}); ` +
          `second process delivered ${secondIds.length}; duplicates after SIGKILL ${afterKill}, ` +
          `after walsender termination ${afterCut}; errors reported: ${second.linesFrom("ERROR").length}`,
      );
      assert.ok(atKill.partial_count !== null && atKill.partial_count > 0, "progress inside the transaction");
      assert.ok(afterKill <= 2 * batchSize, `${afterKill} duplicates after SIGKILL; at most ${2 * batchSize}`);
      assert.ok(afterCut <= 2 * batchSize, `${afterCut} duplicates after the termination; at most ${2 * batchSize}`);
      const all = new Set(ids);
      for (const id of [...firstIds, ...secondIds]) assert.ok(all.has(id), `unexpected job ${id}`);
    } finally {
      await Promise.all(children.map((child) => child.destroy()));
      await dropSlots(db.pool, schema, "split");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("two processes of one name: the standby takes over from a SIGKILLed leader and loses nothing", {
    timeout: 60_000,
  }, async (t) => {
    const { schema, client } = await db.freshSchema("faults");
    const dir = mkdtempSync(join(tmpdir(), "poutbox-faults-"));
    const children: ConsumerProcess[] = [];
    const batchSize = 10;
    const start = (label: string) => {
      const child = new ConsumerProcess(label, {
        url: db.url,
        mode: "replication",
        schema,
        name: "shared",
        sink: join(dir, `${label}.ids`),
        sleep: 50,
        batchSize,
      });
      children.push(child);
      return child;
    };
    try {
      const p = start("p");
      const q = start("q");
      const { leader, standby } = await settleLeadership(p, q);
      await waitFor(() => streamingPid(db.pool, schema, "shared"), {
        what: `the slot to stream (${leader.describe()})`,
      });

      const committed: bigint[] = [];
      committed.push(...(await enqueueTransactions(db.pool, client, 5, 30)));
      await waitFor(() => leader.delivered().length >= 60 && leader.inBatch, {
        what: `the leader to be busy (${leader.describe()})`,
      });
      assert.equal(standby.delivered().length, 0, "the standby delivered nothing while the leader was alive");
      const killedAt = Date.now();
      leader.signal("SIGKILL");
      const more = enqueueTransactions(db.pool, client, 5, 30);
      const took = await standby.waitForLine("LEADER", { timeout: 30_000 });
      const firstBatch = await standby.waitForLine("BATCH", { timeout: 30_000 });
      committed.push(...(await more));
      await waitFor(() => missing([...leader.delivered(), ...standby.delivered()], committed) === 0, {
        timeout: 30_000,
        what: `every committed job (${standby.describe()})`,
      });
      await leader.closed;
      const all = [...leader.delivered(), ...standby.delivered()];
      const committedSet = new Set(committed);
      for (const id of all) assert.ok(committedSet.has(id), `delivered ${id}, which was never committed`);
      const dups = duplicates(all);
      report(
        t,
        `replication takeover after SIGKILL: leadership in ${took.at - killedAt} ms, first batch after ` +
          `${firstBatch.at - killedAt} ms; ${committed.length} jobs, leader delivered ${leader.delivered().length}, ` +
          `standby ${standby.delivered().length}, duplicates ${dups}; standby errors: ` +
          (standby
            .linesFrom("ERROR")
            .map((line) => line.text)
            .join(" | ") || "none"),
      );
      assert.ok(took.at - killedAt < 10_000);
      assert.ok(dups <= 2 * batchSize, `${dups} duplicate deliveries; at most ${2 * batchSize}`);
    } finally {
      await Promise.all(children.map((child) => child.destroy()));
      await dropSlots(db.pool, schema, "shared");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("replication consumer: servers that cannot keep or create its slot", () => {
  it("fails with a ReplicationSetupError naming max_replication_slots when every slot is taken", {
    timeout: 30_000,
  }, async (t) => {
    const cluster = await startEmbeddedCluster({ settings: { max_replication_slots: "1" } });
    const pool = new pg.Pool({ connectionString: cluster.url });
    const consumer = new Consumer(pool, async () => {}, { mode: "replication", reconnectDelay: 20 });
    const errors: Error[] = [];
    consumer.on("error", (error) => errors.push(error));
    try {
      await migrate(pool);
      await pool.query("SELECT pg_create_logical_replication_slot('squatter', 'pgoutput')");
      const started = Date.now();
      await consumer.start();
      const failure = await waitFor(() => consumer.failure, { timeout: 30_000, what: "the consumer to give up" });
      const ms = Date.now() - started;
      report(t, `gave up after ${ms} ms with ${errors.length} error event(s): ${failure.message}`);
      assert.ok(failure instanceof ReplicationSetupError, `${failure.name}: ${failure.message}`);
      assert.equal(failure.code, "REPLICATION_SETUP");
      assert.match(failure.message, /max_replication_slots/);
      await consumer.stop();
      assert.equal(consumer.isLeader, false);
      assert.equal(errors.length, 1, "it did not keep retrying");
      const { rows } = await pool.query("SELECT slot_name FROM pg_replication_slots");
      assert.deepEqual(
        rows.map((row) => row.slot_name),
        ["squatter"],
      );
    } finally {
      await consumer.stop();
      await pool.query("SELECT pg_drop_replication_slot('squatter')").catch(() => undefined);
      await pool.end();
      await cluster.stop();
    }
  });

  it("fails with a SlotLostError, without recreating the slot, once max_slot_wal_keep_size invalidated it", {
    timeout: 60_000,
  }, async (t) => {
    const cluster = await startEmbeddedCluster({
      settings: { max_slot_wal_keep_size: "1MB", wal_keep_size: "0", checkpoint_timeout: "30s" },
    });
    const pool = new pg.Pool({ connectionString: cluster.url });
    const schema = "poutbox";
    const record = recorder();
    const consumers: Consumer[] = [];
    const consumer = () => {
      const created = replicationConsumer(pool, schema, record.handler);
      consumers.push(created);
      return created;
    };
    try {
      const slot = await consumerSlot(pool, schema, "default");
      await migrate(pool);
      const client = new Client(pool);
      const first = consumer();
      await first.start();
      await waitFor(() => streamingPid(pool, schema), { what: "the slot to stream" });
      const delivered = await client.enqueue("streamed");
      await waitFor(() => record.counts().has(delivered), { what: "the streamed job" });
      await first.stop();
      const acked = await waitFor(
        async () => {
          const { rows } = await pool.query(
            `SELECT c.acked_lsn::text AS acked, s.active FROM ${schema}.consumers c, pg_replication_slots s
              WHERE s.slot_name = $1`,
            [slot],
          );
          return rows[0] && !rows[0].active ? (rows[0].acked as string) : undefined;
        },
        { what: "the slot to be released" },
      );
      await client.enqueue("written while the consumer is down");

      await pool.query("CREATE TABLE filler (x text)");
      const walStart = await currentLsn(pool);
      let rounds = 0;
      const lost = await waitFor(
        async () => {
          rounds++;
          await pool.query("INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 20000)");
          await pool.query("SELECT pg_switch_wal()");
          await pool.query("CHECKPOINT");
          const { rows } = await pool.query(
            "SELECT wal_status, restart_lsn::text AS restart FROM pg_replication_slots WHERE slot_name = $1",
            [slot],
          );
          return rows[0]?.wal_status === "lost" || rows[0]?.restart === null ? rows[0] : undefined;
        },
        { timeout: 30_000, interval: 0, what: "the slot to be invalidated" },
      );
      const { rows: walRows } = await pool.query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint AS bytes", [
        walStart,
      ]);

      const second = consumer();
      const errors: Error[] = [];
      second.on("error", (error) => errors.push(error));
      const started = Date.now();
      await second.start();
      const failure = await waitFor(() => second.failure, { timeout: 30_000, what: "the consumer to give up" });
      const ms = Date.now() - started;
      await second.stop();
      report(
        t,
        `slot invalidated after ${rounds} round(s), ${mb(Number(walRows[0].bytes))} MB of WAL ` +
          `(wal_status ${lost.wal_status}, restart_lsn ${lost.restart}); the consumer gave up after ${ms} ms: ` +
          failure.message,
      );
      assert.ok(failure instanceof SlotLostError, `${failure.name}: ${failure.message}`);
      assert.equal(failure.code, "SLOT_LOST");
      assert.equal(failure.slot, slot);
      assert.equal(failure.reason, "wal_removed", "the reason, read from pg_replication_slots");
      assert.match(failure.message, /max_slot_wal_keep_size/);
      const { rows: after } = await pool.query(
        "SELECT wal_status, restart_lsn::text AS restart FROM pg_replication_slots WHERE slot_name = $1",
        [slot],
      );
      assert.equal(after.length, 1, "the invalidated slot is still there");
      assert.equal(after[0].wal_status, "lost", "and was not recreated at the current position");
      const { rows: progress } = await pool.query(`SELECT acked_lsn::text AS acked FROM ${schema}.consumers`);
      assert.equal(progress[0].acked, acked, "its recorded progress is untouched");
      assert.equal(record.deliveries.length, 1, "nothing was delivered from a recreated slot");
    } finally {
      for (const each of consumers) await each.stop();
      await dropSlots(pool, schema, "default").catch(() => undefined);
      await pool.end();
      await cluster.stop();
    }
  });
});

/**
 * Opens a replication connection with `options`, reads its wal_sender_timeout, then starts a
 * stream on a temporary slot and never answers: the server should cut it once the timeout
 * passes. Gives up waiting after 10 s (a timeout that did not apply).
 */
async function probeWalSender(
  url: string,
  options: string,
  publication: string,
): Promise<{ shown: string; cutAfterMs: number | undefined; error: string }> {
  const probe = new pg.Client({ connectionString: url, options, replication: "database" } as pg.ClientConfig);
  probe.on("error", () => undefined);
  await probe.connect();
  let timer: NodeJS.Timeout | undefined;
  try {
    const { rows } = await probe.query("SHOW wal_sender_timeout");
    const shown = String(rows[0]?.wal_sender_timeout);
    const slot = `faults_probe_${randomBytes(4).toString("hex")}`;
    // The form every supported version takes: the (SNAPSHOT 'nothing') option list is 15+.
    await probe.query(`CREATE_REPLICATION_SLOT "${slot}" TEMPORARY LOGICAL pgoutput NOEXPORT_SNAPSHOT`);
    const started = Date.now();
    const outcome = await Promise.race([
      probe
        .query(`START_REPLICATION SLOT "${slot}" LOGICAL 0/0 (proto_version '1', publication_names '"${publication}"')`)
        .then(
          () => "stream ended",
          (error: Error) => error.message,
        ),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), 10_000);
      }),
    ]);
    return { shown, cutAfterMs: outcome === undefined ? undefined : Date.now() - started, error: outcome ?? "" };
  } finally {
    clearTimeout(timer);
    await Promise.race([probe.end().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000))]);
    (probe as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }
}

async function currentLsn(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query("SELECT pg_current_wal_lsn()::text AS lsn");
  return rows[0].lsn;
}

function compareIds(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}
