import { queryRow, type Sql } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { parseLsn } from "../replication/lsn.js";
import { serverPositionRead, systemIdentifierRead, timelineRead } from "./recovery-queries.js";

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
  const position = await queryRow(db, serverPositionRead);
  const identity = await optional(db, systemIdentifierRead);
  const timeline = await optional(db, timelineRead);
  return {
    systemIdentifier: identity,
    timeline: timeline === null ? null : Number(timeline),
    nextXid: BigInt(position.next_xid),
    walLsn: parseLsn(position.wal_lsn),
  };
}

async function optional(db: Queryable, statement: Sql<{ value: string | null }>): Promise<string | null> {
  try {
    const row = await queryRow(db, statement);
    return row.value;
  } catch {
    return null;
  }
}
