import pg from "pg";
import { SchemaVersionError } from "../core/errors.js";
import { advisoryTransactionLock } from "../database/advisory-locks.js";
import { beginReadCommitted } from "../database/isolation.js";
import { queryRow } from "../database/query-rows.js";
import type { ConnectionSource, Queryable } from "../database/queryable.js";
import { withConnection } from "../database/with-connection.js";
import { migrationSql, migrations } from "./migrations.js";
import { resolveSchema } from "./schema-name.js";
import { schemaVersionRead } from "./schema-queries.js";
import { migrateLockKey } from "./server-names.js";

export interface MigrateOptions {
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
}

export interface MigrateResult {
  readonly schema: string;
  /** Versions applied by this call, in order; empty when the schema was up to date. */
  readonly applied: readonly number[];
  /** The schema's version after the call. */
  readonly version: number;
}

/**
 * Creates or upgrades the Poutbox schema. Safe to call from every process at start-up:
 * callers serialise on an advisory lock, each migration runs once, in its own transaction.
 *
 * @param db a `pg` Pool (or anything with `connect()`), or a connection string.
 * @throws {SchemaVersionError} when the database is ahead of this library.
 * @example
 * ```ts
 * await migrate(pool); // or migrate(process.env.DATABASE_URL, { schema: "outbox" })
 * ```
 */
export async function migrate(db: ConnectionSource | string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const { schema, quotedSchema } = resolveSchema(options.schema);
  if (typeof db === "string") {
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    try {
      return await migrateOn(client, schema, quotedSchema);
    } finally {
      await client.end();
    }
  }
  return withConnection(db, (connection) => migrateOn(connection, schema, quotedSchema));
}

async function migrateOn(connection: Queryable, schema: string, quotedSchema: string): Promise<MigrateResult> {
  const known = migrations();
  const applied: number[] = [];
  for (;;) {
    await connection.query(beginReadCommitted);
    try {
      // Transaction-scoped, so a crash can never leave the lock held. Concurrent migrators
      // queue here; each re-reads the version after getting the lock, so a migration another
      // process applied meanwhile is skipped, not applied twice.
      await advisoryTransactionLock(connection, migrateLockKey(schema));
      await connection.query(`CREATE SCHEMA IF NOT EXISTS ${quotedSchema}`);
      await connection.query(
        `CREATE TABLE IF NOT EXISTS ${quotedSchema}.schema_migrations (
           version    integer     PRIMARY KEY,
           name       text        NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const version = await currentVersion(connection, quotedSchema);
      if (version > known.length) throw new SchemaVersionError(schema, version, known.length);
      const next = known[version];
      if (!next) {
        await connection.query("COMMIT");
        return { schema, applied, version };
      }
      await connection.query(migrationSql(next, schema));
      await connection.query(`INSERT INTO ${quotedSchema}.schema_migrations (version, name) VALUES ($1, $2)`, [
        next.version,
        next.name,
      ]);
      await connection.query("COMMIT");
      applied.push(next.version);
    } catch (error) {
      await connection.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  }
}

async function currentVersion(connection: Queryable, quotedSchema: string): Promise<number> {
  return Number((await queryRow(connection, schemaVersionRead(quotedSchema))).version);
}
