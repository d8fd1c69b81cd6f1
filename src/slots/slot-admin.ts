import { ReplicationSetupError } from "../core/errors.js";
import { sleep } from "../core/sleep.js";
import { queryRow, queryRows } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { sqlStateOf, sqlStates } from "../database/sql-state.js";
import { parseLsn } from "../replication/lsn.js";
import { slotName } from "../schema/server-names.js";
import {
  backendTerminate,
  databaseRead,
  publicationCreate,
  publicationFind,
  serverVersionRead,
  slotDrop,
  slotHolderFind,
  slotRead,
  walLevelRead,
} from "./slot-queries.js";

/** What the server says about a replication slot. */
export interface SlotState {
  readonly active: boolean;
  readonly activePid: number | null;
  /** The slot's confirmed_flush_lsn, or null for a slot that never confirmed anything. */
  readonly confirmedFlush: bigint | null;
  /** `reserved`, `extended`, `unreserved` or `lost` (invalidated: its WAL is gone). */
  readonly walStatus: string | null;
  /** WAL the slot keeps from being recycled, in bytes. */
  readonly retainedBytes: bigint;
  /**
   * Null while the slot is usable; once the server has invalidated it, why. PostgreSQL 17+
   * names the reason: `wal_removed` (past max_slot_wal_keep_size), `idle_timeout` (unused
   * longer than idle_replication_slot_timeout, 18+), `rows_removed` or `wal_level_insufficient`
   * (a slot on a standby). Older servers do not say why: an invalidated slot there is `wal_removed`,
   * the only reason a primary's slot can have on those versions.
   */
  readonly invalidationReason: string | null;
  /** A failover slot (PostgreSQL 17+): synchronized to standbys that have sync_replication_slots on. */
  readonly failover: boolean;
}

/** Fails with an actionable error unless the server can decode WAL logically. */
export async function checkLogicalReplication(db: Queryable): Promise<void> {
  const { wal_level: level } = await queryRow(db, walLevelRead);
  if (level !== "logical") {
    throw new ReplicationSetupError(
      `wal_level is "${level}"; replication consumers need wal_level = logical ` +
        "(ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL), or use mode 'polling'",
    );
  }
}

/** Fails with an actionable error unless the server can keep failover slots (PostgreSQL 17+). */
export async function checkFailoverSlots(db: Queryable): Promise<void> {
  const { version_num: number, version } = await queryRow(db, serverVersionRead);
  if (number < 170_000) {
    throw new ReplicationSetupError(
      `failoverSlot needs PostgreSQL 17 or later, which keeps copies of failover slots on standbys; ` +
        `this server is ${version}: remove the option, or upgrade the server`,
    );
  }
}

/** Creates the schema's publication (see publicationCreate) if it does not exist. */
export async function ensurePublication(db: Queryable, quotedSchema: string, publication: string): Promise<void> {
  if ((await queryRows(db, publicationFind, [publication])).length > 0) return;
  const statement = publicationCreate(quotedSchema, publication);
  try {
    await db.query(statement);
  } catch (error) {
    const code = sqlStateOf(db, error);
    // Another consumer created it first.
    if (code === sqlStates.duplicateObject) return;
    // Creating a publication takes CREATE on the database and ownership of the table: a
    // consumer's role often has neither. Retrying cannot help; the owner can run it once.
    if (code === sqlStates.insufficientPrivilege) {
      throw new ReplicationSetupError(
        `cannot create the publication (${(error as Error).message}); as the owner of ${quotedSchema}.immediate, run once: ${statement}`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** The name of a consumer's replication slot, for the database `db` is connected to. */
export async function consumerSlot(db: Queryable, schema: string, consumer: string): Promise<string> {
  const { database } = await queryRow(db, databaseRead);
  return slotName(database, schema, consumer);
}

/**
 * The slot's state, or undefined when it does not exist. Read through the library's own types
 * (`db` may be the application's pool, with its own parsers), retained bytes as int8 text.
 */
export async function slotState(db: Queryable, slot: string): Promise<SlotState | undefined> {
  const [row] = await queryRows(db, slotRead, [slot]);
  if (!row) return undefined;
  return {
    active: row.active === true,
    activePid: row.active_pid === null ? null : Number(row.active_pid),
    confirmedFlush: row.confirmed_flush === null ? null : parseLsn(String(row.confirmed_flush)),
    walStatus: row.wal_status,
    retainedBytes: BigInt(String(row.retained)),
    invalidationReason: invalidationReason(row),
    failover: row.failover === "true",
  };
}

/**
 * Why the server invalidated a slot, from the columns its version has; null while it is usable.
 * 17+ names the reason. Older servers only show that it happened (`wal_status = 'lost'`; on 16 also
 * `conflicting`, which is true there for every invalidation): on a primary, where consumers
 * run, that can only be max_slot_wal_keep_size.
 */
function invalidationReason(row: {
  wal_status: string | null;
  invalidation_reason: string | null;
  conflicting: string | null;
}): string | null {
  if (row.invalidation_reason !== null) return row.invalidation_reason;
  if (row.wal_status === "lost" || row.conflicting === "true") return "wal_removed";
  return null;
}

/** Drops a slot that no process is using; true when there was one. */
export async function dropSlot(db: Queryable, slot: string): Promise<boolean> {
  return (await queryRows(db, slotDrop, [slot])).length > 0;
}

/**
 * Ends the walsender still streaming `slot` to a former leader, and waits until the slot is
 * free. Only the holder of the consumer's leader lock may call this: a former leader that is
 * paused or cut off keeps its walsender (and so the slot) until wal_sender_timeout, which
 * would hold up the takeover that long. Its commits are fenced by the leader epoch, so ending
 * its stream loses nothing. Returns the pid ended, or null when the slot was free.
 */
export async function releaseSlot(db: Queryable, slot: string, timeout = 10_000): Promise<number | null> {
  const state = await slotState(db, slot);
  if (!state?.active || state.activePid === null) return null;
  await queryRows(db, backendTerminate, [state.activePid]);
  if (!(await awaitSlotRelease(db, slot, state.activePid, timeout))) {
    throw new Error(`replication slot "${slot}" is still in use by process ${state.activePid} after ending it`);
  }
  return state.activePid;
}

/**
 * Waits until the server process `pid` no longer holds `slot`; false when it still does after
 * `timeout` ms. A walsender lets go of its slot only as it exits, which comes a moment after
 * its connection closed (longer on a busy server): until then the slot is "in use", and
 * removing the consumer or streaming from the slot again is refused.
 */
export async function awaitSlotRelease(db: Queryable, slot: string, pid: number, timeout: number): Promise<boolean> {
  const deadline = Date.now() + timeout;
  for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
    if ((await queryRows(db, slotHolderFind, [slot, pid])).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(pause);
  }
}
