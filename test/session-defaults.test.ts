// Defaults a role or database may give every session must not reach what the library does.
//
// `default_transaction_isolation`: the library's own transactions must not inherit it:
// under SERIALIZABLE a running consumer's reads took predicate locks and became the pivot that
// got the application's enqueues cancelled (9 in 20 s of six producers here) and its own
// promoter failing past its retries (34 errors); under either, two processes migrating at once
// read the version from a snapshot older than the lock they waited for, and one failed with
// `relation "job_id_seq" already exists` (15 of 20 migrators).
//
// `idle_session_timeout`: the server ended a listening consumer's LISTEN connection each time
// it stayed idle that long, and the consumer reported each end as an error (12 in 8 s at 700 ms).
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type pg from "pg";
import { Client, Consumer, Maintenance, migrate, moveConsumer, status } from "../src/index.js";
import { createHostileRole, dropHostileRoles, type HostileRole, type Setting } from "./support/hostile-settings.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const roles: HostileRole[] = [];
const db = useTestDatabase();

// After useTestDatabase's own hook, which ends the pools.
after(async () => {
  await dropHostileRoles(
    db.url,
    roles.map((role) => role.name),
  );
});

async function poolWith(label: string, settings: Setting[], max: number, config: pg.PoolConfig = {}): Promise<pg.Pool> {
  const role = await createHostileRole(db.url, label, settings);
  roles.push(role);
  return db.newPool({ ...config, connectionString: role.url, max });
}

const poolAs = (level: "serializable" | "repeatable read", max: number) =>
  poolWith(level.replace(" ", "_"), [["default_transaction_isolation", `'${level}'`]], max);

const sqlState = (error: unknown) => (error as { code?: string }).code;

describe("sessions whose transactions default to a stricter isolation", () => {
  it("SERIALIZABLE: producers enqueue beside a running consumer and its promoter without a serialization failure", async () => {
    const pool = await poolAs("serializable", 12);
    const schema = "serializable_producers";
    await migrate(pool, { schema });
    const record = recorder();
    const consumer = new Consumer(pool, record.handler, {
      schema,
      name: "beside",
      pollInterval: 5,
      promoteInterval: 10,
      maintenance: false,
    });
    const consumerErrors: Error[] = [];
    consumer.on("error", (error) => consumerErrors.push(error));
    await consumer.start();
    const client = new Client(pool, { schema });
    const enqueued: bigint[] = [];
    const producerErrors: unknown[] = [];
    const until = Date.now() + 4000;
    try {
      // Half of them scheduled and already due: the promoter reads and deletes what they insert.
      await Promise.all(
        Array.from({ length: 6 }, async (_, producer) => {
          while (Date.now() < until) {
            const runAt = producer % 2 === 0 ? null : new Date(Date.now() - 1000).toISOString();
            try {
              const { rows } = await pool.query(`SELECT ${schema}.enqueue($1::json, run_at => $2)::text AS id`, [
                JSON.stringify({ producer }),
                runAt,
              ]);
              enqueued.push(BigInt(rows[0].id));
              enqueued.push(await client.enqueue({ producer }, runAt ? { runAt: new Date(runAt) } : {}));
            } catch (error) {
              producerErrors.push(error);
              if (sqlState(error) !== "40001") throw error;
            }
          }
        }),
      );
      await waitFor(() => new Set(record.ids()).size >= enqueued.length, {
        what: `${enqueued.length} jobs delivered`,
      });
    } finally {
      await consumer.stop();
    }
    assert.deepEqual(producerErrors.map(String), [], "no producer's enqueue failed");
    assert.deepEqual(consumerErrors.map(String), [], "the consumer met no error");
    assert.ok(enqueued.length > 100, `producers enqueued ${enqueued.length} jobs`);
    assert.deepEqual(new Set(record.ids()), new Set(enqueued), "every job delivered");
  });

  for (const level of ["repeatable read", "serializable"] as const) {
    it(`${level.toUpperCase()}: four processes migrating one schema at once all succeed`, async () => {
      const pool = await poolAs(level, 8);
      for (let round = 1; round <= 3; round++) {
        const schema = `migrate_${level.replace(" ", "_")}_${round}`;
        const results = await Promise.allSettled(Array.from({ length: 4 }, () => migrate(pool, { schema })));
        const failures = results.flatMap((result) => (result.status === "rejected" ? [String(result.reason)] : []));
        assert.deepEqual(failures, [], `round ${round}: no migrator failed`);
        const versions = results.map((result) => (result.status === "fulfilled" ? result.value.version : 0));
        assert.equal(new Set(versions).size, 1, `round ${round}: every migrator ends at one version`);
      }
    });
  }

  // The role's default, and one the application SETs on each connection its pool makes (a
  // RESET would give the second the role's READ COMMITTED back instead).
  for (const where of ["role", "pool's connect hook"] as const) {
    it(`gives every connection it checked out its own default back (set by the ${where})`, async () => {
      // One connection, so every operation below reuses the one the next check reads.
      const pool = where === "role" ? await poolAs("serializable", 1) : db.newPool({ max: 1 });
      if (where !== "role") {
        pool.on("connect", (client) => {
          client.query("SET default_transaction_isolation = 'serializable'").catch(() => {});
        });
      }
      const schema = where === "role" ? "default_back_role" : "default_back_hook";
      await migrate(pool, { schema });
      const level = async () =>
        (await pool.query("SELECT current_setting('default_transaction_isolation') AS level")).rows[0].level;
      assert.equal(await level(), "serializable", `the ${where}'s default`);
      await new Client(pool, { schema }).enqueue({ one: 1 });
      await status(pool, { schema });
      assert.equal(await level(), "serializable", "after status");
      await new Maintenance(pool, { schema }).runOnce();
      assert.equal(await level(), "serializable", "after a maintenance run");
      await moveConsumer(pool, { schema, consumer: "nobody", to: "now" });
      assert.equal(await level(), "serializable", "after a consumer move");
      const { rows } = await pool.query("SELECT current_setting('transaction_isolation') AS level");
      assert.equal(rows[0].level, "serializable", "an application's statement on the pool");
    });
  }
});

describe("sessions the server ends once idle for 1 s (idle_session_timeout)", () => {
  for (const mode of ["polling", "replication"] as const) {
    it(
      `${mode}${mode === "polling" ? " with listen" : ""}: delivers jobs that come 1.5 s apart, meeting no error`,
      needs(...(mode === "replication" ? (["logical-replication"] as const) : [])),
      async () => {
        // The pool is set up as docs/operations.md says: an error listener, and idle
        // connections closed before the server ends them.
        const pool = await poolWith(`idle_${mode}`, [["idle_session_timeout", "'1s'"]], 6, {
          idleTimeoutMillis: 200,
        });
        pool.on("error", () => {});
        const schema = `idle_${mode}`;
        await migrate(pool, { schema });
        const record = recorder();
        const consumer = new Consumer(pool, record.handler, {
          schema,
          mode,
          name: "idle",
          listen: mode === "polling",
          pollInterval: 5000,
          maintenance: false,
        });
        const errors: Error[] = [];
        consumer.on("error", (error) => errors.push(error));
        await consumer.start();
        const enqueued: bigint[] = [];
        try {
          const client = new Client(pool, { schema, notify: true });
          for (let i = 0; i < 4; i++) {
            await new Promise((resolve) => setTimeout(resolve, 1500));
            enqueued.push(await client.enqueue({ i }));
          }
          await waitFor(() => record.ids().length >= enqueued.length, { what: "every job delivered" });
        } finally {
          await consumer.stop();
          if (mode === "replication") await dropSlots(db.pool, schema, "idle");
        }
        assert.deepEqual(errors.map(String), [], "the consumer met no error");
        assert.deepEqual(record.ids(), enqueued, "each job delivered once, in order");
      },
    );
  }
});
