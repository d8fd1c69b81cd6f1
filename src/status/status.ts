import { advisoryLockHolder } from "../database/advisory-locks.js";
import { dateFromEpochMs } from "../database/epoch.js";
import { queryRow, queryRows } from "../database/query-rows.js";
import type { ConnectionSource, PooledConnection } from "../database/queryable.js";
import { withConnection } from "../database/with-connection.js";
import { type Partition, publicPartition, readPartitions } from "../maintenance/partitions.js";
import { parseLsn } from "../replication/lsn.js";
import { checkSchema } from "../schema/check-schema.js";
import { resolveSchema } from "../schema/schema-name.js";
import { schemaVersionRead } from "../schema/schema-queries.js";
import { leaderLockKey } from "../schema/server-names.js";
import { consumerSlot, slotState } from "../slots/slot-admin.js";
import type { ReplicationSlotStatus } from "../slots/slot-status.js";
import { type ConsumerRow, consumersRead, tablesCount } from "./status-queries.js";

export interface StatusOptions {
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
}

/** Rows in a table of jobs waiting for a time, and how many of them are due now. */
export interface WaitingTable {
  readonly rows: number;
  /** Due now: the promoter moves these into `immediate` on its next run (every consumer leader runs it). */
  readonly due: number;
}

/** The process leading a consumer name right now. */
export interface ConsumerLeader {
  /** Backend pid of the leader's lock session. */
  readonly pid: number;
  /** The identity (`host:pid:random`) the latest leader recorded when it claimed the name. */
  readonly id: string | null;
  /** Bumped by every new leader; progress writes are fenced by it. */
  readonly epoch: bigint;
}

/** One consumer name: where it is, who leads it, what it still has to do. */
export interface ConsumerStatus {
  readonly name: string;
  readonly mode: "polling" | "replication";
  /** The process holding its leader lock, or null when none runs. */
  readonly leader: ConsumerLeader | null;
  /** The identity of the latest leader, running or not. */
  readonly lastLeaderId: string | null;
  /** The last time a leader claimed the name or wrote its progress. */
  readonly heartbeatAt: Date | null;
  /** Progress snapshot: every job whose transaction is visible in it is done. */
  readonly snapshot: string | null;
  /** The window being worked through (polling), with the (transaction id, job id) reached in it. */
  readonly window: { readonly snapshot: string; readonly transactionId: bigint; readonly jobId: bigint } | null;
  /** Replication: the end of the last transaction acknowledged to the server. */
  readonly ackedLsn: bigint | null;
  /** Replication: WAL written since `ackedLsn`, in bytes. Null on a server in recovery. */
  readonly ackLagBytes: bigint | null;
  /**
   * Committed jobs in `immediate` for this consumer that its recorded progress does not show as
   * done. A replication consumer records its progress snapshot about once a second, so its count
   * can include jobs handled since. Null when nothing is recorded yet.
   */
  readonly pendingJobs: number | null;
  /** When the oldest pending job was created. */
  readonly oldestPendingAt: Date | null;
  /**
   * How far behind the consumer is: `at - oldestPendingAt`, in ms. 0 with nothing pending, null
   * when nothing is recorded yet.
   */
  readonly lagMs: number | null;
  /**
   * Failed jobs of this consumer waiting in `failed` for their retry (or, heading a blocked
   * key, being delivered again or dead-lettered).
   */
  readonly retrying: number;
  /**
   * Ordering keys this consumer holds back (`ordering: "key"`): each has a head job that has not
   * succeeded yet, retrying or dead-lettered. See listBlockedKeys.
   */
  readonly blockedKeys: number;
  /** Jobs of blocked keys waiting behind their key's head, not yet delivered. */
  readonly waitingBehindKeys: number;
  /** Jobs that used up their attempts in this consumer. */
  readonly deadLetters: number;
  /**
   * Handled jobs whose outcome (a retry or a dead letter) could not be written yet: held in the
   * consumer's row and retried alone (see the consumer's `outcomeWriteFailed` event).
   */
  readonly heldOutcomes: number;
  /** The last time an operator moved this consumer (moveConsumer, `poutbox consumer move`), if ever. */
  readonly lastMove: ConsumerMoveRecord | null;
  /** Its replication slot, when it has one. */
  readonly slot: ReplicationSlotStatus | null;
}

/** A move of a consumer, as recorded in the schema's consumer_moves table. */
export interface ConsumerMoveRecord {
  readonly at: Date;
  /** The database role that moved it. */
  readonly by: string;
  /** `oldest` or `now`. */
  readonly target: string;
  readonly reason: string | null;
}

/** A picture of one schema's outbox, for operators and monitoring. */
export interface OutboxStatus {
  readonly schema: string;
  /** Migration version of the schema. */
  readonly version: number;
  /** The server's clock when the figures were read. */
  readonly at: Date;
  readonly tables: {
    /**
     * Rows in every partition: delivered or not, the table keeps them until their partition is
     * dropped. Counted exactly up to 100,000; above that, the planner's estimate.
     */
    readonly immediate: { readonly rows: number; readonly estimated: boolean };
    readonly scheduled: WaitingTable;
    readonly failed: WaitingTable;
    readonly deadLetter: { readonly rows: number };
  };
  readonly consumers: readonly ConsumerStatus[];
  /** Partitions of `immediate`, oldest first, the default partition last. */
  readonly partitions: readonly Partition[];
}

/**
 * Reads the state of an outbox: jobs waiting per table, each consumer's progress, leader,
 * backlog and replication slot, and the partitions. Read-only; the counts come from one
 * snapshot. The per-consumer backlog is counted row by row, so it costs in proportion to the
 * backlog.
 *
 * @throws {SchemaMissingError} when the schema was never migrated (or is behind this library).
 * @example
 * ```ts
 * const { consumers } = await status(pool);
 * for (const c of consumers) console.log(c.name, c.pendingJobs, c.leader?.pid ?? "no leader");
 * ```
 */
export async function status(pool: ConnectionSource, options: StatusOptions = {}): Promise<OutboxStatus> {
  const { schema, quotedSchema } = resolveSchema(options.schema);
  return withConnection(pool, async (client) => {
    await checkSchema(client, schema, quotedSchema);
    const partitions = (await readPartitions(client, quotedSchema)).partitions.map(publicPartition);
    const read = await readStatus(client, schema, quotedSchema);
    const estimate = partitions.reduce((sum, each) => sum + (each.estimatedRows ?? 0), 0);
    const immediate =
      read.immediateRows > immediateCountLimit
        ? { rows: Math.max(estimate, read.immediateRows), estimated: true }
        : { rows: read.immediateRows, estimated: false };
    return { ...read.status, tables: { ...read.status.tables, immediate }, partitions };
  });
}

/** `immediate` holds history; counting it all could take long, so the count stops past this. */
const immediateCountLimit = 100_000;

interface ReadStatus {
  readonly status: Omit<OutboxStatus, "partitions">;
  /** Exact up to immediateCountLimit, then immediateCountLimit + 1. */
  readonly immediateRows: number;
}

async function readStatus(client: PooledConnection, schema: string, quotedSchema: string): Promise<ReadStatus> {
  await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  const { version } = await queryRow(client, schemaVersionRead(quotedSchema));
  const tables = await queryRow(client, tablesCount(quotedSchema), [immediateCountLimit + 1]);
  const at = new Date(Number(tables.now_ms));
  const consumers: ConsumerStatus[] = [];
  for (const row of await queryRows(client, consumersRead(quotedSchema))) {
    const slot = await consumerSlot(client, schema, row.name);
    const state = await slotState(client, slot);
    const leaderPid = await advisoryLockHolder(client, leaderLockKey(schema, row.name));
    consumers.push(consumerStatus(row, at, leaderPid, state ? { name: slot, ...state } : null));
  }
  await client.query("COMMIT");
  const immediateRows = Number(tables.immediate);
  return {
    immediateRows,
    status: {
      schema,
      version: Number(version),
      at,
      tables: {
        immediate: { rows: immediateRows, estimated: false },
        scheduled: { rows: Number(tables.scheduled), due: Number(tables.scheduled_due) },
        failed: { rows: Number(tables.failed), due: Number(tables.failed_due) },
        deadLetter: { rows: Number(tables.dead_letter) },
      },
      consumers,
    },
  };
}

function consumerStatus(
  row: ConsumerRow,
  at: Date,
  leaderPid: number | null,
  slot: ReplicationSlotStatus | null,
): ConsumerStatus {
  const pendingJobs = row.pending_jobs === null ? null : Number(row.pending_jobs);
  const oldestPendingAt = dateFromEpochMs(row.oldest_pending_ms);
  return {
    name: row.name,
    mode: row.mode,
    leader: leaderPid === null ? null : { pid: leaderPid, id: row.leader_id, epoch: BigInt(row.leader_epoch) },
    lastLeaderId: row.leader_id,
    heartbeatAt: dateFromEpochMs(row.heartbeat_ms),
    snapshot: row.snapshot,
    window:
      row.window_snapshot !== null && row.position_xid !== null && row.position_id !== null
        ? { snapshot: row.window_snapshot, transactionId: BigInt(row.position_xid), jobId: BigInt(row.position_id) }
        : null,
    ackedLsn: row.acked_lsn === null ? null : parseLsn(row.acked_lsn),
    ackLagBytes: row.ack_lag_bytes === null ? null : BigInt(row.ack_lag_bytes),
    pendingJobs,
    oldestPendingAt,
    lagMs: lag(pendingJobs, oldestPendingAt, at),
    retrying: Number(row.retrying),
    blockedKeys: Number(row.blocked_keys),
    waitingBehindKeys: Number(row.waiting_behind_keys),
    deadLetters: Number(row.dead_letters),
    heldOutcomes: Number(row.held_outcomes),
    lastMove:
      row.moved_ms === null
        ? null
        : {
            at: dateFromEpochMs(row.moved_ms) as Date,
            by: String(row.moved_by),
            target: String(row.move_target),
            reason: row.move_reason,
          },
    slot,
  };
}

/** How long the oldest pending job has waited; 0 with nothing pending, null when unknown. */
function lag(pendingJobs: number | null, oldestPendingAt: Date | null, at: Date): number | null {
  if (pendingJobs === null) return null;
  if (oldestPendingAt === null) return 0;
  return Math.max(0, at.getTime() - oldestPendingAt.getTime());
}
