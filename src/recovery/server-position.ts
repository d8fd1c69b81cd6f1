import { queryRow } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { parseLsn } from "../replication/lsn.js";

/** Where the server is, and which cluster and timeline it is on. */
export interface ServerPosition {
  /** pg_control_system().system_identifier: set by initdb, the same on physical standbys. Null when unreadable. */
  readonly systemIdentifier: string | null;
  /** The timeline WAL is written on: a promotion or a point-in-time recovery starts a new one. Null when unreadable. */
  readonly timeline: number | null;
  /** The next transaction id to be assigned (xmax of a snapshot taken now). */
  readonly nextXid: bigint;
  /** The WAL insert position. */
  readonly walLsn: bigint;
}

/**
 * Reads the server's position and identity. The identity comes from functions a service may
 * restrict or lack (pg_control_system, pg_walfile_name); each is read on its own, and one that
 * fails reads as null, which disables only the checks that need it.
 */
export async function readServerPosition(db: Queryable): Promise<ServerPosition> {
  const position = await queryRow<{ next_xid: string; wal_lsn: string }>(
    db,
    `SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS next_xid, pg_current_wal_insert_lsn()::text AS wal_lsn`,
  );
  const identity = await optional(db, "SELECT system_identifier::text AS value FROM pg_control_system()");
  // A WAL file's name starts with its timeline, in 8 hex digits.
  const timeline = await optional(
    db,
    "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8))::bit(32)::int::text AS value",
  );
  return {
    systemIdentifier: identity,
    timeline: timeline === null ? null : Number(timeline),
    nextXid: BigInt(position.next_xid),
    walLsn: parseLsn(position.wal_lsn),
  };
}

async function optional(db: Queryable, text: string): Promise<string | null> {
  try {
    const row = await queryRow<{ value: string | null }>(db, text);
    return row.value;
  } catch {
    return null;
  }
}
