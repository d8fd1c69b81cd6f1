import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidOptionError, migrate, SchemaVersionError } from "../src/index.js";
import { migrations } from "../src/schema/migrations.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();
const latest = migrations().length;

async function tables(schema: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ name: string }>(
    "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
    [schema],
  );
  return rows.map((row) => row.name).sort();
}

describe("migrate", () => {
  it("creates every table, then does nothing on a second run", async () => {
    const first = await migrate(db.pool);
    assert.deepEqual(first, { schema: "poutbox", applied: migrations().map((m) => m.version), version: latest });
    assert.deepEqual(await tables("poutbox"), [
      "consumer_moves",
      "consumers",
      "dead_letter",
      "failed",
      "idempotency_keys",
      "immediate",
      "immediate_default",
      "scheduled",
      "schema_migrations",
    ]);
    const second = await migrate(db.pool);
    assert.deepEqual(second, { schema: "poutbox", applied: [], version: latest });
    const { rows } = await db.pool.query("SELECT version, name FROM poutbox.schema_migrations ORDER BY version");
    assert.equal(rows.length, latest);
  });

  it("accepts an insert into immediate right after migrating, with transaction_id filled in", async () => {
    await migrate(db.pool);
    const { rows } = await db.pool.query(
      "INSERT INTO poutbox.immediate (payload) VALUES ('{}') RETURNING transaction_id::text AS xid, tableoid::regclass::text AS part",
    );
    assert.match(rows[0].xid, /^\d+$/);
    assert.equal(rows[0].part, "poutbox.immediate_default");
  });

  it("lets several migrators race: all succeed, each migration is applied once", async () => {
    const pools = Array.from({ length: 4 }, () => db.newPool({ max: 1 }));
    const results = await Promise.all(pools.map((pool) => migrate(pool, { schema: "raced" })));
    const applied = results.flatMap((result) => result.applied).sort();
    assert.deepEqual(
      applied,
      migrations().map((m) => m.version),
    );
    for (const result of results) assert.equal(result.version, latest);
    await Promise.all(pools.map((pool) => pool.end()));
  });

  it("takes a connection string and a schema name with upper case", async () => {
    const result = await migrate(db.url, { schema: "Outbox_Case" });
    assert.equal(result.version, latest);
    assert.ok((await tables("Outbox_Case")).includes("immediate"));
  });

  it("refuses a schema that a newer library migrated, without touching it", async () => {
    await migrate(db.pool, { schema: "future" });
    await db.pool.query("INSERT INTO future.schema_migrations (version, name) VALUES ($1, 'from_the_future')", [
      latest + 1,
    ]);
    await assert.rejects(
      migrate(db.pool, { schema: "future" }),
      (error: unknown) =>
        error instanceof SchemaVersionError &&
        error.code === "SCHEMA_TOO_NEW" &&
        error.databaseVersion === latest + 1 &&
        error.libraryVersion === latest,
    );
    // The pool's connection was returned in a usable state.
    assert.equal((await db.pool.query("SELECT 1 AS one")).rows[0].one, 1);
  });

  it("rejects an injection attempt in the schema name before touching the database", async () => {
    const before = await db.pool.query("SELECT count(*)::int AS n FROM pg_namespace");
    await assert.rejects(
      migrate(db.pool, { schema: 'x"; DROP SCHEMA poutbox CASCADE; --' }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "schema",
    );
    const after = await db.pool.query("SELECT count(*)::int AS n FROM pg_namespace");
    assert.equal(after.rows[0].n, before.rows[0].n);
  });
});
