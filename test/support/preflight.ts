// What test/run.ts checks of the server before it runs any test file: that it can be reached,
// is recent enough and lets the test role create databases (without these nothing can run),
// and which capabilities of test/support/needs.ts it lacks (the tests that need them are
// skipped). The settings the suite asks for are those of CI's service and of the embedded
// cluster (.ci/prepare-system-postgres, test/support/embedded-cluster.ts).
import pg from "pg";
import { type Capability, capabilities, type Lacking } from "./needs.js";

/** The oldest PostgreSQL major version the library supports. */
export const oldestSupported = 14;

/** The settings CI gives its server; the figures the suite is run with. */
const wanted = { slots: 64, senders: 64, prepared: 16, connections: 300 } as const;

/**
 * What the suite needs free. Sampled every 100 ms through a full run (four files at once, on
 * a 2-core machine), it held at most 3 slots, 3 walsenders, 24 connections in all and 11 to
 * one file's database; a sample misses short peaks (a slot's creation takes a second
 * walsender, some tests open 10 to 20 connections at once), so these leave room. A server
 * with PostgreSQL's default 10 slots and walsenders, none in use, is enough.
 */
const needed = { slots: 10, senders: 10, connectionsPerFile: 30 } as const;

/** The server cannot run the suite at all. */
export class UnusableServerError extends Error {}

export interface ServerCheck {
  /** server_version, e.g. "17.10". */
  readonly version: string;
  readonly lacking: Lacking;
  /** Statements that would give the server what it lacks, in order. */
  readonly fixes: readonly string[];
  /** Whether the fixes include settings that take effect only after a restart. */
  readonly restart: boolean;
  /** How many test files may run at once without exhausting max_connections. */
  readonly concurrency: number;
  /** Why fewer files run at once than asked, if they do. */
  readonly throttled?: string;
}

interface Settings {
  version_num: number;
  version: string;
  role: string;
  wal_level: string;
  max_slots: number;
  slots_used: number;
  max_senders: number;
  senders_used: number;
  max_prepared: number;
  max_connections: number;
  reserved: number;
  connected: number;
  superuser: boolean;
  replication: boolean;
  createdb: boolean;
  origins: boolean;
}

const originFunctions = [
  "pg_replication_origin_create(text)",
  "pg_replication_origin_drop(text)",
  "pg_replication_origin_session_setup(text)",
  "pg_replication_origin_session_reset()",
  "pg_replication_origin_xact_setup(pg_lsn, timestamp with time zone)",
];

/** Checks the server at `url` for a run of up to `concurrency` files at once. */
export async function checkServer(url: string, concurrency: number): Promise<ServerCheck> {
  const settings = await readSettings(url);
  if (settings.version_num < oldestSupported * 10_000) {
    throw new UnusableServerError(
      `PostgreSQL ${settings.version} is older than ${oldestSupported}, the oldest version the library supports`,
    );
  }
  const role = quoteIdentifier(settings.role);
  if (!settings.createdb && !settings.superuser) {
    throw new UnusableServerError(
      `role ${settings.role} cannot create databases, and each test file creates one of its own: ALTER ROLE ${role} CREATEDB`,
    );
  }

  const lacking: Lacking = {};
  const fixes: string[] = [];
  let restart = false;
  const lack = (capability: Capability, why: string) => {
    lacking[capability] = lacking[capability] ? `${lacking[capability]}, ${why}` : why;
  };
  const setting = (name: string, value: string | number) => {
    fixes.push(`ALTER SYSTEM SET ${name} = ${value}`);
    restart = true;
  };

  if (settings.wal_level !== "logical") {
    lack("logical-replication", `wal_level is ${settings.wal_level}`);
    setting("wal_level", "logical");
  }
  if (settings.max_slots - settings.slots_used < needed.slots) {
    lack("logical-replication", `max_replication_slots is ${settings.max_slots} with ${settings.slots_used} in use`);
    setting("max_replication_slots", Math.max(wanted.slots, settings.slots_used + needed.slots));
  }
  if (settings.max_senders - settings.senders_used < needed.senders) {
    lack("logical-replication", `max_wal_senders is ${settings.max_senders} with ${settings.senders_used} in use`);
    setting("max_wal_senders", Math.max(wanted.senders, settings.senders_used + needed.senders));
  }
  if (!settings.replication && !settings.superuser) {
    lack("logical-replication", `role ${settings.role} has no REPLICATION attribute`);
    fixes.push(`ALTER ROLE ${role} REPLICATION`);
  }
  if (!settings.origins) {
    lack("replication-origins", `role ${settings.role} may not run pg_replication_origin_create()`);
    fixes.push(`GRANT EXECUTE ON FUNCTION ${originFunctions.join(", ")} TO ${role}`);
  }
  if (settings.max_prepared === 0) {
    lack("prepared-transactions", "max_prepared_transactions is 0");
    setting("max_prepared_transactions", wanted.prepared);
  }

  // Connections left for the suite: what is free now, less those kept for superusers.
  const free = settings.max_connections - settings.connected - (settings.superuser ? 0 : settings.reserved);
  const fits = Math.max(1, Math.floor(free / needed.connectionsPerFile));
  let throttled: string | undefined;
  if (fits < concurrency) {
    throttled = `max_connections is ${settings.max_connections} with ${settings.connected} in use, so ${fits} file(s) run at once instead of ${concurrency}`;
    setting(
      "max_connections",
      Math.max(wanted.connections, settings.connected + concurrency * needed.connectionsPerFile),
    );
  }
  return {
    version: settings.version,
    lacking,
    fixes,
    restart,
    concurrency: Math.min(fits, concurrency),
    ...(throttled ? { throttled } : {}),
  };
}

/** One line: what the server lacks, what that costs, and how to fix it; undefined when it lacks nothing. */
export function describeLacks(check: ServerCheck): string | undefined {
  const lacks = Object.entries(check.lacking).map(
    ([capability, why]) => `${capabilities[capability as Capability]} (${why})`,
  );
  const parts: string[] = [];
  if (lacks.length > 0) {
    const listed = lacks.length > 1 ? `${lacks.slice(0, -1).join(", ")} and ${lacks.at(-1)}` : lacks[0];
    parts.push(`the server lacks ${listed}: the tests that need ${lacks.length > 1 ? "them" : "it"} are skipped`);
  }
  if (check.throttled) parts.push(check.throttled);
  if (parts.length === 0) return undefined;
  const fix = `${check.fixes.join("; ")}${check.restart ? "; then restart PostgreSQL" : ""}`;
  return `${parts.join("; ")}. To run everything: ${fix}`;
}

/** `url` as host:port/database, without user or password, for messages. */
export function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`;
}

async function readSettings(url: string): Promise<Settings> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw new UnusableServerError(`cannot connect to ${describeUrl(url)}: ${(error as Error).message}`);
  }
  try {
    const { rows } = await client.query<Settings>(
      `SELECT current_setting('server_version_num')::int AS version_num,
              current_setting('server_version') AS version,
              current_user AS role,
              current_setting('wal_level') AS wal_level,
              current_setting('max_replication_slots')::int AS max_slots,
              (SELECT count(*)::int FROM pg_replication_slots) AS slots_used,
              current_setting('max_wal_senders')::int AS max_senders,
              (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'walsender') AS senders_used,
              current_setting('max_prepared_transactions')::int AS max_prepared,
              current_setting('max_connections')::int AS max_connections,
              current_setting('superuser_reserved_connections')::int
                + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved,
              (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS connected,
              r.rolsuper AS superuser, r.rolreplication AS replication, r.rolcreatedb AS createdb,
              ${originFunctions.map((each) => `has_function_privilege('${each}', 'EXECUTE')`).join(" AND ")} AS origins
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    return rows[0] as Settings;
  } finally {
    await client.end();
  }
}

function quoteIdentifier(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
