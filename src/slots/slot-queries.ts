import { sql } from "../database/query-rows.js";

// The SQL of slot and publication administration. Catalog reads go through the library's own
// types (the caller's pool may carry its own parsers); LSNs and byte counts come as text.

export const walLevelRead = sql<{ wal_level: string }>("SELECT current_setting('wal_level') AS wal_level");

export const databaseRead = sql<{ database: string }>("SELECT current_database() AS database");

export const serverVersionRead = sql<{ version_num: number; version: string }>(
  "SELECT current_setting('server_version_num')::int AS version_num, current_setting('server_version') AS version",
);

/** $1 publication name. */
export const publicationFind = sql<{ found: number }>("SELECT 1 AS found FROM pg_publication WHERE pubname = $1");

/**
 * Inserts into `immediate` only, published as the parent table so that partitions come and go
 * without touching the publication. Names are identifiers, spliced in: the publication's is
 * minted by the library, the schema's validated and quoted.
 */
export function publicationCreate(quotedSchema: string, publication: string): string {
  return `CREATE PUBLICATION "${publication}" FOR TABLE ${quotedSchema}.immediate WITH (publish = 'insert', publish_via_partition_root = true)`;
}

export function publicationDrop(publication: string): string {
  return `DROP PUBLICATION IF EXISTS "${publication}"`;
}

/**
 * $1 slot name. Retained bytes: WAL kept from recycling since the slot's restart_lsn. The
 * columns that only some versions have (`conflicting` 16+, `invalidation_reason` and
 * `failover` 17+) are read through to_jsonb, which gives null where a column does not exist,
 * so one statement serves every version. Nothing here depends on the server's message language.
 */
export const slotRead = sql<{
  active: boolean;
  active_pid: number | null;
  confirmed_flush: string | null;
  wal_status: string | null;
  retained: string;
  invalidation_reason: string | null;
  conflicting: string | null;
  failover: string | null;
}>(
  `SELECT active, active_pid, confirmed_flush_lsn::text AS confirmed_flush, wal_status,
          coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::int8::text AS retained,
          to_jsonb(s) ->> 'invalidation_reason' AS invalidation_reason,
          to_jsonb(s) ->> 'conflicting' AS conflicting,
          to_jsonb(s) ->> 'failover' AS failover
     FROM pg_replication_slots s WHERE slot_name = $1`,
);

/** $1 slot name; a row when the slot existed (and is dropped). */
export const slotDrop = sql<{ dropped: unknown }>(
  "SELECT pg_drop_replication_slot(slot_name) AS dropped FROM pg_replication_slots WHERE slot_name = $1",
);

/** $1 slot name, $2 pid; a row while that server process still holds the slot. */
export const slotHolderFind = sql<{ found: number }>(
  "SELECT 1 AS found FROM pg_replication_slots WHERE slot_name = $1 AND active_pid = $2",
);

/** $1 pid. */
export const backendTerminate = sql<{ terminated: boolean }>("SELECT pg_terminate_backend($1) AS terminated");
