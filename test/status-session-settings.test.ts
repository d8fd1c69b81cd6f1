// The library reads its own data the same way whatever settings a role carries and whatever
// type parsers the application gave pg. Seen in the field: a role with DateStyle 'SQL, DMY' and
// another TimeZone got null or wrong dates, and extra_float_digits = -15 prints float8 with one
// significant digit (a count of 12 as "1e+01", epoch milliseconds as "2e+12").
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import postgres from "postgres";
import { fromPostgresJs } from "../src/adapters/postgres-js.js";
import {
  Consumer,
  countDeadLetters,
  type DeadLetter,
  listDeadLetters,
  listPartitions,
  type OutboxStatus,
  type Partition,
  removeConsumer,
  status,
} from "../src/index.js";
import { publicationName } from "../src/schema/server-names.js";
import { withHostileRole } from "./support/hostile-role.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots, replicationConsumer } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

/** pg's global parsers as an application may set them: times and json as text, int8 as BigInt... */
const hostileParsers: Record<number, (value: string) => unknown> = {
  16: (value) => value, // bool
  20: (value) => BigInt(value), // int8
  21: (value) => value, // int2
  23: (value) => value, // int4
  114: (value) => value, // json
  700: (value) => value, // float4
  701: (value) => value, // float8
  1082: (value) => value, // date
  1114: (value) => value, // timestamp
  1184: (value) => value, // timestamptz
  1700: (value) => value, // numeric
  3802: (value) => value, // jsonb
};

interface Reading {
  readonly status: OutboxStatus;
  readonly partitions: Partition[];
  readonly deadLetters: DeadLetter[];
  readonly deadLetterCount: number;
}

async function read(pool: pg.Pool, schema: string): Promise<Reading> {
  return {
    status: await status(pool, { schema }),
    partitions: await listPartitions(pool, { schema }),
    deadLetters: await listDeadLetters(pool, { schema }),
    deadLetterCount: await countDeadLetters(pool, { schema }),
  };
}

/**
 * The status without what moves with the clock and the rest of the cluster's WAL: the read
 * time, the lag measured against it, and WAL distances (their types are kept).
 */
function steady(found: OutboxStatus) {
  return {
    ...found,
    at: undefined,
    consumers: found.consumers.map((each) => ({
      ...each,
      lagMs: undefined,
      ackLagBytes: typeof each.ackLagBytes,
      slot: each.slot && { ...each.slot, retainedBytes: typeof each.slot.retainedBytes },
    })),
  };
}

/** Runs `work` with pg's global type parsers replaced by `hostileParsers`, restoring them after. */
async function withHostileParsers<T>(work: () => Promise<T>): Promise<T> {
  const saved = Object.keys(hostileParsers).map((oid) => [Number(oid), pg.types.getTypeParser(Number(oid))] as const);
  for (const [oid, parser] of Object.entries(hostileParsers)) pg.types.setTypeParser(Number(oid), parser);
  try {
    return await work();
  } finally {
    for (const [oid, parser] of saved) pg.types.setTypeParser(oid, parser);
  }
}

describe("reads under a role's own settings and the application's type parsers", () => {
  it(
    "status(), listPartitions() and the dead letters read exactly what a plain session reads",
    needs("logical-replication"),
    async () => {
      const { schema, client } = await db.freshSchema("hostile");
      // Twelve dead letters: a two-digit count, which extra_float_digits = -15 prints as "1e+01".
      const record = recorder(async (jobs) => jobs.map((job) => ({ job, error: new Error(`refused ${job.payload}`) })));
      const mailer = new Consumer(db.pool, record.handler, { schema, name: "mailer", maxAttempts: 1, pollInterval: 5 });
      const stream = replicationConsumer(db.pool, schema, recorder().handler, { name: "stream" });
      await mailer.start();
      await stream.start();
      try {
        await client.enqueueMany(Array.from({ length: 12 }, (_, n) => n));
        await waitFor(async () => (await countDeadLetters(db.pool, { schema })) === 12, { what: "12 dead letters" });
        await waitFor(
          async () => (await status(db.pool, { schema })).consumers.every((each) => each.pendingJobs === 0),
          {
            what: "both consumers caught up",
          },
        );
      } finally {
        await mailer.stop();
        await stream.stop();
      }
      try {
        // Pending for both consumers, retries that are not due, a range with no start, figures
        // from ANALYZE.
        await client.enqueueMany(Array.from({ length: 11 }, (_, n) => ({ later: n })));
        await client.enqueue("later", { runAt: new Date(Date.now() + 3_600_000) });
        await db.pool.query(`CREATE TABLE ${schema}.immediate_old (LIKE ${schema}.immediate INCLUDING DEFAULTS)`);
        await db.pool.query(
          `ALTER TABLE ${schema}.immediate ATTACH PARTITION ${schema}.immediate_old FOR VALUES FROM (MINVALUE) TO ('2000-01-01 00:00:00+00')`,
        );
        await db.pool.query(`ANALYZE ${schema}.immediate`);

        const plain = await read(db.pool, schema);
        assert.equal(plain.deadLetterCount, 12);
        assert.equal(plain.status.tables.deadLetter.rows, 12);
        assert.deepEqual(
          plain.status.consumers.map((each) => [each.name, each.pendingJobs]),
          [
            ["mailer", 11],
            ["stream", 11],
          ],
        );
        assert.ok(
          plain.partitions.some((each) => (each.estimatedRows ?? 0) >= 10),
          "a two-digit estimate",
        );

        await withHostileRole(db, schema, async (url) => {
          const pool = db.newPool({ connectionString: url });
          const sql = postgres(url, { max: 1, onnotice: () => {} });
          try {
            const { rows } = await pool.query(
              "SELECT current_setting('DateStyle') AS style, 12::float8::text AS twelve",
            );
            assert.deepEqual(rows, [{ style: "SQL, DMY", twelve: "1e+01" }], "the role's settings apply");

            const hostile = await withHostileParsers(() => read(pool, schema));
            assert.deepEqual(steady(hostile.status), steady(plain.status));
            // Lag is measured against each read's own clock, to the millisecond.
            for (const [n, each] of hostile.status.consumers.entries()) {
              const before = plain.status.consumers[n];
              assert.equal(
                (each.lagMs ?? 0) - (before?.lagMs ?? 0),
                hostile.status.at.getTime() - plain.status.at.getTime(),
              );
            }
            assert.deepEqual(hostile.partitions, plain.partitions);
            assert.deepEqual(hostile.deadLetters, plain.deadLetters);
            assert.equal(hostile.deadLetterCount, 12);

            // Through another driver's adapter, on the same role: what that driver parses is converted too.
            const adapted = fromPostgresJs(sql);
            assert.deepEqual(await listDeadLetters(adapted, { schema }), plain.deadLetters);
            assert.equal(await countDeadLetters(adapted, { schema }), 12);
          } finally {
            await sql.end();
            await pool.end();
          }
        });

        const [old] = plain.partitions;
        assert.equal(old?.name, "immediate_old");
        assert.equal(old.from, null, "no start: MINVALUE");
        assert.deepEqual(old.to, new Date("2000-01-01T00:00:00Z"));
      } finally {
        await dropSlots(db.pool, schema, "stream");
      }
    },
  );
});

describe("administration under the application's type parsers", () => {
  it("removeConsumer keeps the publication while another replication consumer uses it", async () => {
    const { schema } = await db.freshSchema("hostile_admin");
    await db.pool.query(
      `INSERT INTO ${schema}.consumers (name, mode, snapshot) VALUES ('one', 'replication', '1:1:'), ('two', 'replication', '1:1:')`,
    );
    const publication = publicationName(schema);
    await db.pool.query(`CREATE PUBLICATION "${publication}" FOR TABLE ${schema}.immediate WITH (publish = 'insert')`);
    try {
      // With booleans read as 't'/'f' text, 'f' was truthy: the publication went with the first.
      const removed = await withHostileParsers(() => removeConsumer(db.pool, { schema, consumer: "one" }));
      assert.equal(removed.publication, false);
      const { rows } = await db.pool.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [publication]);
      assert.equal(rows.length, 1);
    } finally {
      await db.pool.query(`DROP PUBLICATION IF EXISTS "${publication}"`);
    }
  });
});
