import type { Partition } from "../maintenance/partitions.js";
import { lsnToString } from "../replication/lsn.js";
import type { ReplicationSlotStatus } from "../slots/slot-status.js";
import type { ConsumerLeader, ConsumerMoveRecord, ConsumerStatus, OutboxStatus } from "./status.js";

// `statusToJson` maps `status()` field by field, with the same names at every level; only the
// types change, to what JSON carries: Date -> ISO 8601 string, LSN -> PostgreSQL's text
// ("0/16B3748"), job and transaction ids -> strings (64-bit, past what a JSON number holds
// exactly), byte counts and leader epochs -> numbers. `poutbox status --json` prints it.

/** `ReplicationSlotStatus` in JSON types. */
export interface ReplicationSlotStatusJson {
  readonly name: string;
  readonly active: boolean;
  readonly activePid: number | null;
  readonly confirmedFlush: string | null;
  readonly walStatus: string | null;
  readonly retainedBytes: number;
  readonly invalidationReason: string | null;
  readonly failover: boolean;
}

/** `ConsumerLeader` in JSON types. */
export interface ConsumerLeaderJson {
  readonly pid: number;
  readonly id: string | null;
  readonly epoch: number;
}

/** `ConsumerStatus` in JSON types. */
export interface ConsumerStatusJson {
  readonly name: string;
  readonly mode: "polling" | "replication";
  readonly leader: ConsumerLeaderJson | null;
  readonly lastLeaderId: string | null;
  readonly heartbeatAt: string | null;
  readonly snapshot: string | null;
  readonly window: { readonly snapshot: string; readonly transactionId: string; readonly jobId: string } | null;
  readonly ackedLsn: string | null;
  readonly ackLagBytes: number | null;
  readonly pendingJobs: number | null;
  readonly oldestPendingAt: string | null;
  readonly lagMs: number | null;
  readonly retrying: number;
  readonly blockedKeys: number;
  readonly waitingBehindKeys: number;
  readonly deadLetters: number;
  readonly heldOutcomes: number;
  readonly lastMove: ConsumerMoveRecordJson | null;
  readonly slot: ReplicationSlotStatusJson | null;
}

/** `ConsumerMoveRecord` in JSON types. */
export interface ConsumerMoveRecordJson {
  readonly at: string;
  readonly by: string;
  readonly target: string;
  readonly reason: string | null;
}

/** `Partition` in JSON types. */
export interface PartitionJson {
  readonly name: string;
  readonly isDefault: boolean;
  readonly from: string | null;
  readonly to: string | null;
  readonly estimatedRows: number | null;
  readonly bytes: number;
  readonly managed: boolean;
}

/** `OutboxStatus` in JSON types: what `statusToJson` returns and `poutbox status --json` prints. */
export interface OutboxStatusJson {
  readonly schema: string;
  readonly version: number;
  readonly at: string;
  readonly tables: OutboxStatus["tables"];
  readonly consumers: readonly ConsumerStatusJson[];
  readonly partitions: readonly PartitionJson[];
}

// The JSON forms have exactly the fields of the objects they map: adding a field to one and
// not the other fails to compile here.
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
const sameKeys: [
  SameKeys<OutboxStatus, OutboxStatusJson>,
  SameKeys<ConsumerStatus, ConsumerStatusJson>,
  SameKeys<ConsumerLeader, ConsumerLeaderJson>,
  SameKeys<NonNullable<ConsumerStatus["window"]>, NonNullable<ConsumerStatusJson["window"]>>,
  SameKeys<ReplicationSlotStatus, ReplicationSlotStatusJson>,
  SameKeys<Partition, PartitionJson>,
  SameKeys<ConsumerMoveRecord, ConsumerMoveRecordJson>,
] = [true, true, true, true, true, true, true];
void sameKeys;

/**
 * `status()`'s result in plain JSON types, for monitoring: the same fields at every level, with
 * times as ISO 8601 strings, LSNs as PostgreSQL writes them, ids as strings and byte counts as
 * numbers. `JSON.stringify` it as it is.
 *
 * @example
 * ```ts
 * const json = statusToJson(await status(pool));
 * console.log(JSON.stringify(json)); // what `poutbox status --json` prints
 * ```
 */
export function statusToJson(status: OutboxStatus): OutboxStatusJson {
  return {
    schema: status.schema,
    version: status.version,
    at: status.at.toISOString(),
    tables: {
      immediate: { ...status.tables.immediate },
      scheduled: { ...status.tables.scheduled },
      failed: { ...status.tables.failed },
      deadLetter: { ...status.tables.deadLetter },
    },
    consumers: status.consumers.map(consumerJson),
    partitions: status.partitions.map(partitionJson),
  };
}

function consumerJson(consumer: ConsumerStatus): ConsumerStatusJson {
  return {
    name: consumer.name,
    mode: consumer.mode,
    leader: consumer.leader && {
      pid: consumer.leader.pid,
      id: consumer.leader.id,
      epoch: Number(consumer.leader.epoch),
    },
    lastLeaderId: consumer.lastLeaderId,
    heartbeatAt: iso(consumer.heartbeatAt),
    snapshot: consumer.snapshot,
    window: consumer.window && {
      snapshot: consumer.window.snapshot,
      transactionId: String(consumer.window.transactionId),
      jobId: String(consumer.window.jobId),
    },
    ackedLsn: lsn(consumer.ackedLsn),
    ackLagBytes: consumer.ackLagBytes === null ? null : Number(consumer.ackLagBytes),
    pendingJobs: consumer.pendingJobs,
    oldestPendingAt: iso(consumer.oldestPendingAt),
    lagMs: consumer.lagMs,
    retrying: consumer.retrying,
    blockedKeys: consumer.blockedKeys,
    waitingBehindKeys: consumer.waitingBehindKeys,
    deadLetters: consumer.deadLetters,
    heldOutcomes: consumer.heldOutcomes,
    lastMove: consumer.lastMove && { ...consumer.lastMove, at: consumer.lastMove.at.toISOString() },
    slot: consumer.slot && slotJson(consumer.slot),
  };
}

function slotJson(slot: ReplicationSlotStatus): ReplicationSlotStatusJson {
  return {
    name: slot.name,
    active: slot.active,
    activePid: slot.activePid,
    confirmedFlush: lsn(slot.confirmedFlush),
    walStatus: slot.walStatus,
    retainedBytes: Number(slot.retainedBytes),
    invalidationReason: slot.invalidationReason,
    failover: slot.failover,
  };
}

function partitionJson(partition: Partition): PartitionJson {
  return {
    name: partition.name,
    isDefault: partition.isDefault,
    from: iso(partition.from),
    to: iso(partition.to),
    estimatedRows: partition.estimatedRows,
    bytes: partition.bytes,
    managed: partition.managed,
  };
}

function iso(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}

function lsn(value: bigint | null): string | null {
  return value === null ? null : lsnToString(value);
}
