import type { Partition } from "../maintenance/partitions.js";
import { lsnToString } from "../replication/lsn.js";
import type { ConsumerStatus, OutboxStatus } from "../status/status.js";

// The `--json` form of `poutbox status`: plain JSON types only. Times are ISO 8601 strings,
// LSNs PostgreSQL's text form ("0/16B3748"), byte counts and job counts numbers, job and
// transaction ids strings (64-bit). The shape is documented in docs/operations.md.

function iso(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}

function boundary(ms: number): string | null {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** How long the oldest pending job has waited; 0 with nothing pending, null when unknown. */
export function lagMs(consumer: ConsumerStatus, at: Date): number | null {
  if (consumer.pendingJobs === null) return null;
  if (consumer.oldestPendingAt === null) return 0;
  return Math.max(0, at.getTime() - consumer.oldestPendingAt.getTime());
}

function consumerJson(consumer: ConsumerStatus, at: Date) {
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
    ackedLsn: consumer.ackedLsn === null ? null : lsnToString(consumer.ackedLsn),
    ackLagBytes: consumer.ackLagBytes === null ? null : Number(consumer.ackLagBytes),
    pendingJobs: consumer.pendingJobs,
    oldestPendingAt: iso(consumer.oldestPendingAt),
    lagMs: lagMs(consumer, at),
    retrying: consumer.retrying,
    deadLetters: consumer.deadLetters,
    slot: consumer.slot && {
      name: consumer.slot.slot,
      active: consumer.slot.active,
      activePid: consumer.slot.activePid,
      walStatus: consumer.slot.walStatus,
      retainedBytes: Number(consumer.slot.retainedBytes),
      confirmedFlush: consumer.slot.confirmedFlush === null ? null : lsnToString(consumer.slot.confirmedFlush),
    },
  };
}

function partitionJson(partition: Partition) {
  return {
    name: partition.name,
    default: partition.isDefault,
    from: boundary(partition.from),
    to: boundary(partition.to),
    estimatedRows: Math.max(0, partition.estimatedRows),
    bytes: partition.bytes,
  };
}

export function statusJson(status: OutboxStatus) {
  return {
    schema: status.schema,
    version: status.version,
    at: status.at.toISOString(),
    tables: status.tables,
    consumers: status.consumers.map((each) => consumerJson(each, status.at)),
    partitions: status.partitions.map(partitionJson),
  };
}
