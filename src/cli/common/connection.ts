import pg from "pg";
import { UsageError } from "./cli-errors.js";

/** The options every subcommand that talks to the database accepts. */
export interface ConnectionOptions {
  readonly databaseUrl?: string;
  readonly schema: string;
  /** Seconds to wait for the server to accept a connection. */
  readonly connectTimeout: number;
}

/** The connection string: --database-url, else DATABASE_URL. */
export function databaseUrl(options: ConnectionOptions): string {
  const url = options.databaseUrl ?? process.env.DATABASE_URL;
  if (!url) throw new UsageError("no database given: pass --database-url or set DATABASE_URL");
  return url;
}

/** `host:port/database` of a connection string, for messages: never the password. */
export function describeTarget(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || "localhost"}:${parsed.port || "5432"}${parsed.pathname}`;
  } catch {
    return undefined;
  }
}

/**
 * Runs `work` with a pool on the database, and always ends the pool, so the process exits as
 * soon as the work is done. A pool keeps two connections at most: a command needs one, and a
 * second lets a library call check one out while another is held.
 */
export async function withPool<T>(options: ConnectionOptions, work: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({
    connectionString: databaseUrl(options),
    max: 2,
    connectionTimeoutMillis: options.connectTimeout * 1000,
    application_name: "poutbox-cli",
  });
  // An idle connection dropped by the server must not crash the command; the query that
  // needed it reports the failure instead.
  pool.on("error", () => {});
  try {
    return await work(pool);
  } finally {
    await pool.end();
  }
}
