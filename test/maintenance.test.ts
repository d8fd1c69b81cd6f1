import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type pg from "pg";
import {
  Client,
  Consumer,
  InvalidOptionError,
  listPartitions,
  Maintenance,
  type MaintenanceReport,
  SchemaMissingError,
} from "../src/index.js";
import { partitionName } from "../src/maintenance/partition-plan.js";
import { needs } from "./support/needs.js";
import { attachPartition } from "./support/partitions.js";
import { recorder } from "./support/recorder.js";
import { dropSlots, replicationConsumer } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

const minute = 60_000;
const hour = 60 * minute;
const day = 24 * hour;

/** The start of the current minute, taken once per test so that every offset agrees. */
function thisMinute(): number {
  return Math.floor(Date.now() / minute) * minute;
}

function pastPartition(schema: string, from: number): Promise<string> {
  return attachPartition(db.pool, schema, from);
}

/**
 * Jobs created half a minute after `from`: what a transaction whose now() is that old writes
 * (a job's created_at is its transaction's start), or what was written before a consumer went
 * down. Returns their ids.
 */
async function jobsAt(schema: string, from: number, count: number, on: pg.Pool | pg.PoolClient = db.pool) {
  const { rows } = await on.query(
    `INSERT INTO "${schema}".immediate (payload, created_at)
     SELECT json_build_object('n', n), to_timestamp($1::float8 / 1000) FROM generate_series(1, $2) AS n RETURNING id`,
    [from + 30_000, count],
  );
  return rows.map((row) => BigInt(row.id));
}

async function partitionNames(schema: string): Promise<string[]> {
  return (await listPartitions(db.pool, { schema })).map((each) => each.name);
}

/** True once `consumer`'s progress snapshot shows every committed job in the schema done. */
async function caughtUp(schema: string, consumer: string): Promise<boolean> {
  const { rows } = await db.pool.query(
    `SELECT c.snapshot IS NOT NULL AND NOT EXISTS (
       SELECT 1 FROM "${schema}".immediate j WHERE NOT pg_visible_in_snapshot(j.transaction_id, c.snapshot)) AS done
     FROM "${schema}".consumers c WHERE c.name = $1`,
    [consumer],
  );
  return rows[0]?.done === true;
}

/** Why each partition was skipped, as "reason consumer,consumer"; only `names` when given. */
function reasons(report: MaintenanceReport, names?: string[]): Record<string, string> {
  return Object.fromEntries(
    report.skipped
      .filter((each) => !names || names.includes(each.name))
      .map((each) => [each.name, `${each.reason}${each.consumers ? ` ${each.consumers.join(",")}` : ""}`]),
  );
}

/**
 * Which of `names` the run dropped. Runs also drop the empty partitions of minutes that
 * ended during the test, which the assertions leave out.
 */
function dropped(report: MaintenanceReport, names: string[]): string[] {
  return report.dropped.map((each) => each.name).filter((name) => names.includes(name));
}

const past = { partitionInterval: minute, lookAhead: 0 };

/**
 * Runs maintenance again while a run skips something as "locked" (or finds another run under
 * way): a running consumer's poll that holds the table longer than lockTimeout, as happens on a
 * loaded machine, makes a run skip what the next one does. The report is the last run's, with
 * what every run dropped and removed.
 */
async function settled(maintenance: Maintenance): Promise<MaintenanceReport> {
  const drops: MaintenanceReport["dropped"][number][] = [];
  let defaultRows = 0;
  let defaultRowsRemoved = 0;
  for (let run = 1; ; run++) {
    const report = await maintenance.runOnce();
    drops.push(...report.dropped);
    defaultRows = Math.max(defaultRows, report.defaultRows);
    defaultRowsRemoved += report.defaultRowsRemoved;
    const again = !report.ran || report.skipped.some((each) => each.reason === "locked");
    if (!again || run === 50) return { ...report, dropped: drops, defaultRows, defaultRowsRemoved };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("Maintenance", () => {
  it("creates partitions ahead for intervals of 1 minute, 1 hour and 1 day, aligned in UTC whatever the session time zone", async () => {
    // +05:45 and +13:45: a boundary computed in local time would be off the UTC grid.
    for (const timeZone of ["Asia/Kathmandu", "Pacific/Chatham"]) {
      const pool = db.newPool({ options: `-c TimeZone=${timeZone}` });
      for (const [interval, lookAhead] of [
        [minute, 5 * minute],
        [hour, 3 * hour],
        [day, 2 * day],
      ] as const) {
        const { schema } = await db.freshSchema("ahead");
        const maintenance = new Maintenance(pool, { schema, partitionInterval: interval, lookAhead });
        const report = await maintenance.runOnce();
        const now = report.at.getTime();
        const expected = Math.floor((now + lookAhead) / interval) - Math.floor(now / interval) + 1;
        assert.equal(report.created.length, expected, `${interval} ms in ${timeZone}`);
        for (const [i, range] of report.created.entries()) {
          assert.equal(range.from.getTime() % interval, 0, `${range.name} starts on the UTC grid`);
          assert.equal(range.to.getTime() - range.from.getTime(), interval);
          assert.equal(range.name, partitionName(range.from.getTime()));
          if (i > 0) assert.equal(range.from.getTime(), report.created[i - 1]?.to.getTime());
        }
        assert.ok(report.created[0] && report.created[0].from.getTime() <= now && now < report.created[0].to.getTime());
        const listed = (await listPartitions(pool, { schema })).filter((each) => !each.isDefault);
        assert.deepEqual(
          listed.map((each) => [each.name, each.from, each.to]),
          report.created.map((each) => [each.name, each.from, each.to]),
        );
        // A new job lands in the current partition, not in the default one.
        await new Client(pool, { schema }).enqueue({ now: true });
        const { rows } = await pool.query(
          `SELECT tableoid::regclass::text AS part, created_at FROM "${schema}".immediate`,
        );
        // Its own range's: a minute may have ended since the run.
        const at = (rows[0].created_at as Date).getTime();
        const home = report.created.find((range) => range.from.getTime() <= at && at < range.to.getTime());
        assert.equal(rows[0].part, `${schema}.${home?.name}`);
        // Nothing to do again, but for a minute boundary passed meanwhile.
        const again = await maintenance.runOnce();
        assert.ok(again.created.length <= 1 && again.dropped.length === 0);
      }
      await pool.end();
    }
  });

  it("never drops what a consumer has not passed, however old, until it catches up", async (t) => {
    const { schema } = await db.freshSchema("down");
    const maintenance = new Maintenance(db.pool, { schema, ...past, retention: 2 * minute });
    const delivered = recorder();
    const run = () =>
      new Consumer(db.pool, delivered.handler, { schema, name: "mailer", maintenance: false, pollInterval: 5 });

    const base = thisMinute();
    const ago = (minutes: number) => base - minutes * minute;
    const early = [await pastPartition(schema, ago(9)), await pastPartition(schema, ago(8))];
    const late = [await pastPartition(schema, ago(7)), await pastPartition(schema, ago(6))];
    const recent = await pastPartition(schema, ago(1)); // ended within the retention
    const first = [...(await jobsAt(schema, ago(9), 50)), ...(await jobsAt(schema, ago(8), 50))];
    let consumer = run();
    t.after(() => consumer.stop());
    await consumer.start();
    await waitFor(() => caughtUp(schema, "mailer"), { what: "the first jobs done" });
    await consumer.stop();

    // The consumer is down while more jobs arrive, then stays down well past the retention.
    const second = [...(await jobsAt(schema, ago(7), 50)), ...(await jobsAt(schema, ago(6), 50))];
    const report = await maintenance.runOnce();
    const watched = [...early, ...late, recent];
    assert.deepEqual(dropped(report, watched), early);
    assert.deepEqual(reasons(report, watched), {
      [late[0] as string]: "not-consumed mailer",
      [late[1] as string]: "not-consumed mailer",
      [recent]: "retention",
    });
    assert.deepEqual(reasons(await maintenance.runOnce(), watched), reasons(report, watched), "a second run: the same");
    assert.ok(late.every((name) => !early.includes(name)));
    for (const name of late) assert.ok((await partitionNames(schema)).includes(name));

    consumer = run();
    await consumer.start();
    await waitFor(() => caughtUp(schema, "mailer"), { what: "the consumer to catch up" });
    await consumer.stop();
    const after = await maintenance.runOnce();
    assert.deepEqual(dropped(after, watched), late);
    assert.deepEqual(new Set(delivered.ids()), new Set([...first, ...second]), "every job delivered");
  });

  it("keeps a partition that an open transaction has written to, and routes a late writer's rows to the default partition", async () => {
    const { schema } = await db.freshSchema("open");
    const maintenance = new Maintenance(db.pool, { schema, ...past, lockTimeout: 50 });
    const delivered = recorder();
    const consumer = new Consumer(db.pool, delivered.handler, { schema, maintenance: false, pollInterval: 5 });
    const base = thisMinute();
    const held = await pastPartition(schema, base - 5 * minute);
    const other = await pastPartition(schema, base - 4 * minute);
    const writer = await db.pool.connect();
    const lateWriter = await db.pool.connect();
    try {
      await consumer.start();
      // A transaction that began five minutes ago (its now() is in `held`) has written a job
      // and is still open. Another, as old, has not written yet.
      await writer.query("BEGIN");
      const [open] = await jobsAt(schema, base - 5 * minute, 1, writer);
      await lateWriter.query("BEGIN");
      await lateWriter.query("SELECT 1");
      await waitFor(() => caughtUp(schema, "default"), { what: "the consumer's progress" });

      // The uncommitted row is invisible to the consumer check; the lock its transaction
      // holds is what keeps the partition (and, the table being locked, the other one too).
      const blocked = await maintenance.runOnce();
      assert.deepEqual(reasons(blocked, [held, other]), { [held]: "locked", [other]: "locked" });

      await writer.query("COMMIT");
      await waitFor(() => delivered.ids().includes(open as bigint), { what: "the open transaction's job" });
      await waitFor(() => caughtUp(schema, "default"), { what: "the consumer to pass it" });
      assert.deepEqual(dropped(await settled(maintenance), [held, other]), [held, other]);

      // The late writer writes into a range whose partition is gone: the default partition
      // takes the row, the insert does not fail, the job is delivered.
      const [late] = await jobsAt(schema, base - 4 * minute, 1, lateWriter);
      await lateWriter.query("COMMIT");
      await waitFor(() => delivered.ids().includes(late as bigint), { what: "the late writer's job" });
      await waitFor(() => caughtUp(schema, "default"), { what: "the consumer to pass it" });
      const cleared = await settled(maintenance);
      assert.equal(cleared.defaultRows, 1);
      assert.equal(cleared.defaultRowsRemoved, 1);
    } finally {
      await writer.query("ROLLBACK").catch(() => {});
      await lateWriter.query("ROLLBACK").catch(() => {});
      writer.release();
      lateWriter.release();
      await consumer.stop();
    }
  });

  it("when it was behind: inserts never fail, rows in the default partition wait for every consumer, then go", async () => {
    const { schema, client } = await db.freshSchema("behind");
    const maintenance = new Maintenance(db.pool, { schema, partitionInterval: hour, lookAhead: 2 * hour });
    // No partition yet: the default partition takes these.
    const ids = await client.enqueueMany([{ a: 1 }, { a: 2 }, { a: 3 }]);
    const alone = await maintenance.runOnce();
    const current = alone.skipped.find((each) => each.reason === "default-rows");
    assert.ok(current, "the current hour is not created over the default partition's rows");
    assert.ok(current.from.getTime() <= alone.at.getTime() && alone.at.getTime() < current.to.getTime());
    assert.equal(alone.created.length, 2, "the hours after it are");
    assert.equal(alone.defaultRows, 3);
    assert.equal(reasons(alone).immediate_default, "no-consumers");

    const delivered = recorder();
    const consumer = new Consumer(db.pool, delivered.handler, { schema, maintenance: false, pollInterval: 5 });
    await consumer.start();
    try {
      await waitFor(() => caughtUp(schema, "default"), { what: "the consumer to pass the rows" });
    } finally {
      await consumer.stop();
    }
    assert.deepEqual(delivered.ids(), ids);
    const report = await maintenance.runOnce();
    assert.equal(report.defaultRowsRemoved, 3);
    assert.equal(report.created[0]?.name, current.name, "and the current hour gets its partition");
    await client.enqueue({ a: 4 });
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "${schema}".immediate_default`);
    assert.equal(rows[0].n, 0);
  });

  it("the first run, racing the first inserts into the default partition, makes none of them fail", async (t) => {
    // An insert routed to the default partition waits there for the ACCESS EXCLUSIVE lock
    // an ATTACH takes on it; were the new partition's range to cover the row, the insert
    // would then fail the default partition's new constraint.
    const producerPool = db.newPool({ max: 4 });
    const errors: Error[] = [];
    const outcomes = { created: 0, skipped: 0 };
    for (let round = 0; round < 30; round++) {
      const { schema } = await db.freshSchema("race");
      const producer = new Client(producerPool, { schema });
      const maintenance = new Maintenance(db.pool, { schema, partitionInterval: minute, lookAhead: 2 * minute });
      // Connections ready, so that the first inserts start within a few ms of the run.
      await Promise.all(Array.from({ length: 4 }, () => producerPool.query("SELECT pg_sleep(0.01)")));
      const until = Date.now() + 100;
      const inserts = Array.from({ length: 4 }, async (_, i) => {
        await new Promise((resolve) => setTimeout(resolve, (round + i) % 10));
        while (Date.now() < until) await producer.enqueue({ round }).catch((error: Error) => errors.push(error));
      });
      const report = await maintenance.runOnce();
      outcomes[report.created.some((range) => range.from <= report.at) ? "created" : "skipped"]++;
      await Promise.all(inserts);
    }
    await producerPool.end();
    t.diagnostic(`current partition created in ${outcomes.created} runs, skipped in ${outcomes.skipped}`);
    assert.deepEqual(
      errors.map((error) => error.message),
      [],
    );
  });

  it("producers at full speed never fail while partitions are created and dropped", async (t) => {
    const { schema } = await db.freshSchema("busy");
    // The retention keeps the partitions the producers write to, which the fake consumer below
    // claims to have passed, for the length of the test.
    const maintenance = new Maintenance(db.pool, {
      schema,
      partitionInterval: minute,
      lookAhead: 5 * minute,
      retention: 5 * minute,
    });
    await maintenance.runOnce();
    // A consumer's progress, moved by hand below, without a consumer reading the jobs.
    await db.pool.query(`INSERT INTO "${schema}".consumers (name, mode, snapshot) VALUES ('fake', 'polling', '1:1:')`);
    const producerPool = db.newPool({ max: 8 });
    const producerClient = new Client(producerPool, { schema });

    const produce = async (ms: number) => {
      const stalls: number[] = [];
      const until = Date.now() + ms;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (Date.now() < until) {
            const started = performance.now();
            await producerClient.enqueue({ at: started });
            stalls.push(performance.now() - started);
          }
        }),
      );
      return stalls;
    };
    const summary = (stalls: number[]) => {
      const sorted = [...stalls].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]?.toFixed(1);
      return `${stalls.length} inserts, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, longest ${at(1)} ms`;
    };

    const quiet = await produce(1500);
    let drops = 0;
    let rounds = 0;
    let oldest = thisMinute() - 10_000 * minute;
    const made: string[] = [];
    const busy = produce(3000);
    const started = Date.now();
    const round = async () => {
      const report = await maintenance.runOnce();
      drops += dropped(report, made).length;
      // A round whose lock was not granted leaves its partitions for the next one to drop.
      const skipped = report.skipped.filter((each) => made.includes(each.name));
      for (const each of skipped) assert.equal(each.reason, "locked", JSON.stringify(each));
      return skipped;
    };
    while (Date.now() - started < 3000) {
      // Old partitions with jobs in them, all of which the (only) consumer has passed.
      for (let i = 0; i < 10; i++, oldest += minute) {
        made.push(await pastPartition(schema, oldest));
        await jobsAt(schema, oldest, 20);
      }
      await db.pool.query(`UPDATE "${schema}".consumers SET snapshot = pg_current_snapshot()`);
      await round();
      rounds++;
    }
    const loaded = await busy;
    for (let i = 0; i < 20 && (await round()).length > 0; i++);
    assert.equal(drops, rounds * 10);
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n FROM "${schema}".immediate WHERE payload->>'at' IS NOT NULL`,
    );
    assert.equal(rows[0].n, loaded.length + quiet.length, "every insert committed");
    t.diagnostic(`without maintenance: ${summary(quiet)}`);
    t.diagnostic(`with ${rounds} maintenance rounds (${drops} partitions dropped): ${summary(loaded)}`);
    await producerPool.end();
  });

  it("a drop that would wait behind a long producer transaction gives up after lockTimeout instead of stalling every producer", async (t) => {
    const { schema } = await db.freshSchema("stall");
    const maintenance = new Maintenance(db.pool, { schema, partitionInterval: minute, lookAhead: minute });
    await maintenance.runOnce();
    await db.pool.query(`INSERT INTO "${schema}".consumers (name, mode, snapshot) VALUES ('fake', 'polling', '1:1:')`);
    const old = await pastPartition(schema, thisMinute() - 30 * minute);
    await db.pool.query(`UPDATE "${schema}".consumers SET snapshot = pg_current_snapshot()`);
    const producers = new Client(db.newPool({ max: 4 }), { schema });
    // A business transaction that enqueued a job and stays open meanwhile: a plain
    // DETACH or DROP would queue behind it, and every insert behind that.
    const slow = await db.pool.connect();
    await slow.query("BEGIN");
    await producers.enqueue({ slow: true }, { tx: slow });
    const longest = { ms: 0 };
    let stop = false;
    const loops = Array.from({ length: 3 }, async () => {
      while (!stop) {
        const started = performance.now();
        await producers.enqueue({ fast: true });
        longest.ms = Math.max(longest.ms, performance.now() - started);
      }
    });
    let report: MaintenanceReport;
    try {
      report = await maintenance.runOnce();
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      stop = true;
      await Promise.all(loops);
      await slow.query("COMMIT");
      slow.release();
    }
    assert.equal(reasons(report, [old])[old], "locked");
    const after = await maintenance.runOnce();
    assert.deepEqual(dropped(after, [old]), [old], "dropped on the next run, once the transaction is over");
    t.diagnostic(
      `longest insert while the drop waited (lockTimeout 100 ms, a producer transaction open throughout): ${longest.ms.toFixed(1)} ms`,
    );
    // Not a speed figure: the bound that matters is "far less than the blocking transaction".
    assert.ok(longest.ms < 1000, `producers waited ${longest.ms} ms`);
  });

  it("two runners at once: one works, the other waits its turn or skips; nothing twice, no error", async (t) => {
    const { schema } = await db.freshSchema("twice");
    const other = db.newPool();
    const options = { schema, partitionInterval: minute, lookAhead: 30 * minute };
    const a = new Maintenance(db.pool, options);
    const b = new Maintenance(other, options);
    const reports = [
      ...(await Promise.all([a.runOnce(), b.runOnce()])),
      ...(await Promise.all([a.runOnce(), b.runOnce()])),
    ];
    const created = reports.flatMap((report) => report.created.map((each) => each.name));
    assert.equal(new Set(created).size, created.length, "no partition created twice");
    assert.ok(created.length >= 31);
    assert.ok(reports.every((report) => report.ran || report.created.length === 0));

    const errors: Error[] = [];
    const runners = [
      new Maintenance(db.pool, { ...options, runInterval: 10 }),
      new Maintenance(other, { ...options, runInterval: 10 }),
    ];
    let skippedRuns = 0;
    for (const runner of runners) {
      runner.on("error", (error) => errors.push(error));
      runner.on("run", (report) => {
        if (!report.ran) skippedRuns++;
      });
      runner.start();
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await Promise.all(runners.map((runner) => runner.stop()));
    assert.deepEqual(errors, []);
    t.diagnostic(`periodic runners: ${skippedRuns} runs found the other one busy`);
    await other.end();
  });

  it("judges a replication consumer and a polling consumer by the same test, each at its own position", {
    ...needs("logical-replication"),
  }, async () => {
    const { schema } = await db.freshSchema("mixed");
    const maintenance = new Maintenance(db.pool, { schema, ...past });
    const polled = recorder();
    const streamed = recorder();
    const poller = () =>
      new Consumer(db.pool, polled.handler, { schema, name: "poller", maintenance: false, pollInterval: 5 });
    const streamer = () =>
      replicationConsumer(db.pool, schema, streamed.handler, { name: "streamer", maintenance: false });
    const base = thisMinute();
    const ago = (minutes: number) => base - minutes * minute;
    // An ended partition with no rows in it is dropped at once, so each is made just before
    // its jobs are written.
    const first = await pastPartition(schema, ago(8));
    const ids = await jobsAt(schema, ago(8), 30);

    let polling = poller();
    let streaming = streamer();
    try {
      await polling.start();
      await streaming.start();
      await waitFor(async () => (await caughtUp(schema, "poller")) && (await caughtUp(schema, "streamer")), {
        what: "both consumers to pass the first jobs",
      });
      // The streamer goes down; the poller goes on.
      await streaming.stop();
      const second = await pastPartition(schema, ago(7));
      ids.push(...(await jobsAt(schema, ago(7), 30)));
      await waitFor(() => caughtUp(schema, "poller"), { what: "the poller" });
      const report = await settled(maintenance);
      assert.deepEqual(dropped(report, [first, second]), [first]);
      assert.equal(reasons(report)[second], "not-consumed streamer");

      // Now the other way round: the streamer catches up while the poller is down.
      await polling.stop();
      streaming = streamer();
      await streaming.start();
      const third = await pastPartition(schema, ago(6));
      ids.push(...(await jobsAt(schema, ago(6), 30)));
      await waitFor(() => caughtUp(schema, "streamer"), { what: "the streamer to catch up" });
      const next = await settled(maintenance);
      assert.deepEqual(dropped(next, [second, third]), [second]);
      assert.equal(reasons(next)[third], "not-consumed poller");

      polling = poller();
      await polling.start();
      await waitFor(() => caughtUp(schema, "poller"), { what: "the poller to catch up" });
      assert.deepEqual(dropped(await settled(maintenance), [third]), [third]);
      assert.deepEqual(new Set(polled.ids()), new Set(ids));
      assert.deepEqual(new Set(streamed.ids()), new Set(ids));
    } finally {
      await polling.stop();
      await streaming.stop();
      await dropSlots(db.pool, schema, "streamer");
    }
  });

  it("runs on the consumer's leader by default; maintenance: false turns it off", async (t) => {
    const { schema } = await db.freshSchema("leader");
    const consumer = new Consumer(db.pool, async () => {}, { schema, maintenance: { partitionInterval: day } });
    const report = new Promise<MaintenanceReport>((resolve) => consumer.once("maintenance", resolve));
    await consumer.start();
    try {
      const first = await report;
      assert.ok(first.ran && first.created.length === 4, JSON.stringify(first));
    } finally {
      await consumer.stop();
    }

    const { schema: off } = await db.freshSchema("leader_off");
    const quiet = new Consumer(db.pool, async () => {}, { schema: off, maintenance: false });
    let ran = false;
    quiet.on("maintenance", () => {
      ran = true;
    });
    t.after(() => quiet.stop());
    await quiet.start();
    await waitFor(() => quiet.isLeader, { what: "leadership" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await quiet.stop();
    assert.equal(ran, false);
    assert.deepEqual(await partitionNames(off), ["immediate_default"]);
  });

  it("gives its connection back to the pool as it found it, run after run", async () => {
    const { schema } = await db.freshSchema("reuse");
    const pool = db.newPool({ max: 1 });
    const maintenance = new Maintenance(pool, { schema, partitionInterval: hour });
    for (let run = 0; run < 15; run++) await maintenance.runOnce();
    const client = await pool.connect();
    try {
      // The pool's own idle listener is removed while a connection is checked out, so any
      // listener left here would be one that maintenance forgot.
      assert.equal(client.listenerCount("error"), 0);
    } finally {
      client.release();
      await pool.end();
    }
  });

  it("rejects bad options and a missing schema with typed errors", async () => {
    const option = (name: string) => (error: unknown) => error instanceof InvalidOptionError && error.option === name;
    assert.throws(() => new Maintenance(db.pool, { partitionInterval: 59_000 }), option("partitionInterval"));
    assert.throws(() => new Maintenance(db.pool, { partitionInterval: 90_500 }), option("partitionInterval"));
    assert.throws(
      () => new Maintenance(db.pool, { partitionInterval: minute, lookAhead: 1001 * minute }),
      option("lookAhead"),
    );
    assert.throws(() => new Maintenance(db.pool, { retention: -1 }), option("retention"));
    assert.throws(() => new Maintenance(db.pool, { lockTimeout: 0 }), option("lockTimeout"));
    assert.throws(() => new Maintenance(db.pool, { schema: "no;pe" }), option("schema"));
    assert.throws(() => new Maintenance({} as never), option("pool"));
    const noop = async () => {};
    assert.throws(
      () => new Consumer(db.pool, noop, { maintenance: { partitionInterval: 1 } }),
      option("maintenance.partitionInterval"),
    );
    assert.throws(() => new Consumer(db.pool, noop, { maintenance: 5 as never }), option("maintenance"));
    await assert.rejects(new Maintenance(db.pool, { schema: "never_migrated" }).runOnce(), SchemaMissingError);
    // A 90 s interval is fine: any whole number of seconds from a minute up.
    const { schema } = await db.freshSchema("odd");
    const report = await new Maintenance(db.pool, { schema, partitionInterval: 90_000, lookAhead: 0 }).runOnce();
    assert.equal(report.created.length, 1);
    assert.equal((report.created[0]?.from.getTime() ?? 1) % 90_000, 0);
  });
});
