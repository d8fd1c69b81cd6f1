import { randomBytes } from "node:crypto";
import { after, before } from "node:test";
import pg from "pg";
import { Client, migrate } from "../../src/index.js";
import { onAbandon } from "./abandon.js";

/** The server every test runs against: DATABASE_URL, set by test/run.ts when embedded. */
export function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set: run the tests with `npm test`");
  return url;
}

export interface TestDatabase {
  /** Name of this file's own database. */
  readonly name: string;
  /** Connection string of this file's own database. */
  readonly url: string;
  /** A pool on this file's database, ended after the file's tests. */
  readonly pool: pg.Pool;
  /** Another pool on this file's database, ended after the file's tests. */
  newPool(config?: pg.PoolConfig): pg.Pool;
  /**
   * A newly migrated schema, `<prefix>_<n>`, and a Client on it. A test that starts a consumer
   * wants one: a new consumer begins with the first job there is, other tests' jobs included.
   */
  freshSchema(prefix: string): Promise<{ schema: string; client: Client }>;
}

/**
 * Gives the calling test file a database of its own, created before its tests and dropped
 * after them, so files run in parallel and leave nothing behind. After the tests it also
 * checks that no connection to the database is still open: a test (or the library) that
 * leaks a connection fails here. `setup` runs once the database exists, before any test.
 */
export function useTestDatabase(setup?: (db: TestDatabase) => Promise<unknown>): TestDatabase {
  const name = `poutbox_test_${randomBytes(6).toString("hex")}`;
  const url = withDatabase(serverUrl(), name);
  const pools: pg.Pool[] = [];
  const newPool = (config: pg.PoolConfig = {}) => {
    const pool = new pg.Pool({ connectionString: url, ...config });
    pools.push(pool);
    return pool;
  };
  let pool: pg.Pool | undefined;
  let schemas = 0;

  // One hook for creation and setup: Node 20 starts a top-level before() hook as soon as it
  // is registered without waiting for earlier ones, so a second hook could run too early.
  // Bounded, like every test (test/support/watchdog.ts): a hook that never ends would
  // keep the file, and the whole run, waiting.
  before(
    async () => {
      await admin((client) => client.query(`CREATE DATABASE ${name}`));
      onAbandon(() => removeDatabase(name, url));
      pool = newPool();
      await setup?.(database);
    },
    { timeout: 120_000 },
  );

  after(
    async () => {
      // A pool ends once every connection taken from it is back: one that does not end in
      // time has a consumer, a Maintenance runner or a pool.connect() still out.
      const open = pools.filter((each) => !each.ended);
      const ended = await within(poolEndWait, Promise.all(open.map((each) => each.end().catch(() => {}))));
      const stuck = open.filter((each) => !each.ended).map((each) => each.totalCount - each.idleCount);
      const leaked = await openConnections(name);
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      if (!ended) {
        throw new Error(
          `pools on ${name} did not end within ${poolEndWait / 1000} s of the file's last test: ${stuck.join(", ")} ` +
            `connection(s) still taken, by something a test started and did not stop or release: ${JSON.stringify(leaked)}`,
        );
      }
      if (leaked.length > 0) throw new Error(`connections left open on ${name}: ${JSON.stringify(leaked)}`);
    },
    { timeout: 60_000 },
  );

  const database: TestDatabase = {
    name,
    url,
    get pool() {
      if (!pool) throw new Error("the test database is ready only inside tests and hooks");
      return pool;
    },
    newPool,
    async freshSchema(prefix) {
      const schema = `${prefix}_${++schemas}`;
      await migrate(database.pool, { schema });
      return { schema, client: new Client(database.pool, { schema }) };
    },
  };
  return database;
}

const poolEndWait = 10_000;

/** True once `promise` settles within `ms`, false if it has not by then. */
async function within(ms: number, promise: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Removes a test database whatever holds it, for a file that stops with a test still running
 * (test/support/abandon.ts): its prepared transactions are rolled back, its sessions ended,
 * and its replication slots dropped once their walsenders are gone.
 */
async function removeDatabase(name: string, url: string): Promise<void> {
  const inside = new pg.Client({ connectionString: url });
  inside.on("error", () => {});
  try {
    await inside.connect();
    const { rows } = await inside.query("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()");
    for (const { gid } of rows) await inside.query(`ROLLBACK PREPARED '${gid}'`);
  } finally {
    await inside.end().catch(() => {});
  }
  await admin(async (client) => {
    await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name]);
    const deadline = Date.now() + 5000;
    for (;;) {
      await client.query(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active",
        [name],
      );
      const { rows } = await client.query("SELECT 1 FROM pg_replication_slots WHERE database = $1", [name]);
      if (rows.length === 0 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
}

/** Runs `work` on a fresh connection to the server's maintenance database. */
export async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** `url` pointing at another database of the same server. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

// Backends take a moment to go away after their client hangs up; give them a few seconds.
async function openConnections(database: string): Promise<unknown[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { rows } = await admin((client) =>
      client.query(
        "SELECT pid, application_name, state, left(query, 200) AS query FROM pg_stat_activity WHERE datname = $1",
        [database],
      ),
    );
    if (rows.length === 0 || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
