import { InvalidOptionError, PoutboxError } from "../core/errors.js";
import type { JobId } from "../core/job-id.js";
import { advisoryLockHolder } from "../database/advisory-locks.js";
import { dateFromEpochMs } from "../database/epoch.js";
import { beginReadCommitted } from "../database/isolation.js";
import { queryRow, queryRows } from "../database/query-rows.js";
import type { ConnectionSource, PooledConnection } from "../database/queryable.js";
import { withConnection } from "../database/with-connection.js";
import { checkSchema } from "../schema/check-schema.js";
import { resolveSchema } from "../schema/schema-name.js";
import { leaderLockKey } from "../schema/server-names.js";
import { consumerSlot, dropSlot, slotState } from "../slots/slot-admin.js";
import { restampFutureRows } from "./future-rows.js";
import {
  consumerMoveRecord,
  consumerPositionLock,
  consumerPositionReset,
  transactionOfJobRead,
  transactionSinceRead,
} from "./recovery-queries.js";
import { readServerPosition } from "./server-position.js";

/**
 * Where a consumer can be moved: `oldest` delivers again every job still in the outbox (those
 * for every consumer and this consumer's own retries); `now` starts from the server's present
 * position, skipping every job committed before the move.
 */
export const moveTargets = ["oldest", "now"] as const;

/**
 * `oldest` or `now` (see moveTargets); a `Date`: deliver again the jobs enqueued from that time
 * on; a job id: deliver again that job and those after it. Progress is a snapshot, not a
 * list, so a time or a job is reached by the oldest transaction that wrote a job from then on:
 * a job committed a little before the time, by a transaction that was still open, may come
 * again too (at least once).
 */
export type MoveTarget = (typeof moveTargets)[number] | Date | JobId;

export interface MoveConsumerOptions {
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
  /** The consumer name. Default `"default"`. */
  readonly consumer?: string;
  readonly to: MoveTarget;
  /** Why, recorded with the move (for example "restored from last night's backup"). Default: none. */
  readonly reason?: string;
}

/** A consumer's stored position, as text. */
export interface StoredPosition {
  readonly mode: string;
  readonly snapshot: string | null;
  readonly window: string | null;
  readonly ackedLsn: string | null;
  readonly systemIdentifier: string | null;
  readonly timeline: number | null;
}

/** What moveConsumer did; the same is recorded in the schema's consumer_moves table. */
export interface ConsumerMove {
  readonly consumer: string;
  /** `oldest`, `now`, a time in ISO 8601 (UTC), or `job <id>`: as recorded in consumer_moves. */
  readonly target: string;
  readonly reason: string | null;
  readonly movedAt: Date;
  /** The database role that moved it. */
  readonly movedBy: string;
  /** The position before the move; null when the consumer had none (it is created). */
  readonly previous: StoredPosition | null;
  /** The new progress snapshot: every job visible in it counts as done. */
  readonly snapshot: string;
  /** Rows copied from another cluster (transaction ids this server has not reached) re-inserted to be delivered. */
  readonly restamped: number;
  /** Its replication slot was dropped: the next start makes a new one and catches up from `snapshot`. */
  readonly slotDropped: boolean;
}

/**
 * Moves a consumer to a new position, for the operator's way out when its progress does not
 * fit the server (a ProgressMismatchError after a restore) or on purpose. Refused while the
 * consumer runs. Rows copied from another cluster are first made deliverable (see
 * restampFutureRows), so `oldest` delivers them and `now` skips them like every other job
 * already there. A replication consumer's slot is dropped; its next start creates one and
 * catches up from the new position. Pending retries stay. The move is recorded (who, when,
 * from, to, why) in the schema's consumer_moves table, and the consumer's progress is fenced,
 * so a leader that was cut off cannot write over it.
 *
 * @example
 * ```ts
 * await moveConsumer(pool, { consumer: "mailer", to: "oldest", reason: "restored from backup" });
 * ```
 */
export async function moveConsumer(pool: ConnectionSource, options: MoveConsumerOptions): Promise<ConsumerMove> {
  const { schema, quotedSchema } = resolveSchema(options?.schema);
  const consumer = options.consumer ?? "default";
  if (typeof consumer !== "string" || consumer.length === 0 || consumer.length > 200) {
    throw new InvalidOptionError("consumer", "expected a string of 1 to 200 characters");
  }
  checkTarget(options.to);
  if (options.reason !== undefined && typeof options.reason !== "string") {
    throw new InvalidOptionError("reason", "expected a string");
  }
  return withConnection(pool, async (client) => {
    await checkSchema(client, schema, quotedSchema);
    await refuseWhileRunning(client, schema, consumer);
    const restamp = await restampFutureRows(client, quotedSchema);
    if (restamp.refused) throw restamp.refused;
    const server = await readServerPosition(client);
    const move = await recordMove(client, quotedSchema, consumer, options, server);
    const slot = await consumerSlot(client, schema, consumer);
    const state = await slotState(client, slot);
    // A slot in use now belongs to a consumer started since the check: its term is fenced and
    // its next one drops the slot itself, since the stored position names none.
    const slotDropped = state !== undefined && !state.active && (await dropSlot(client, slot));
    return { ...move, restamped: restamp.rows, slotDropped };
  });
}

async function refuseWhileRunning(client: PooledConnection, schema: string, consumer: string): Promise<void> {
  const leaderPid = await advisoryLockHolder(client, leaderLockKey(schema, consumer));
  if (leaderPid !== null) {
    throw new PoutboxError(
      "CONSUMER_ACTIVE",
      `consumer "${consumer}" is running (process ${leaderPid} holds its leader lock); stop it before moving it`,
    );
  }
  const state = await slotState(client, await consumerSlot(client, schema, consumer));
  if (state?.active) {
    throw new PoutboxError(
      "CONSUMER_ACTIVE",
      `consumer "${consumer}" is running (its slot is in use by process ${state.activePid}); stop it before moving it`,
    );
  }
}

async function recordMove(
  client: PooledConnection,
  quotedSchema: string,
  consumer: string,
  options: MoveConsumerOptions,
  server: { systemIdentifier: string | null; timeline: number | null },
): Promise<Omit<ConsumerMove, "restamped" | "slotDropped">> {
  await client.query(beginReadCommitted);
  try {
    const [row] = await queryRows(client, consumerPositionLock(quotedSchema), [consumer]);
    const previous: StoredPosition | null = row
      ? {
          mode: row.mode,
          snapshot: row.snapshot,
          window: row.window_snapshot,
          ackedLsn: row.acked_lsn,
          systemIdentifier: row.system_identifier,
          timeline: row.timeline === null ? null : Number(row.timeline),
        }
      : null;
    const { snapshot } = await queryRow(client, consumerPositionReset(quotedSchema), [
      consumer,
      server.systemIdentifier,
      server.timeline,
      await targetSnapshot(client, quotedSchema, options.to),
    ]);
    const target = describeTarget(options.to);
    const recorded = await queryRow(client, consumerMoveRecord(quotedSchema), [
      consumer,
      target,
      options.reason ?? null,
      JSON.stringify(previous),
      JSON.stringify({ snapshot }),
    ]);
    await client.query("COMMIT");
    return {
      consumer,
      target,
      reason: options.reason ?? null,
      movedAt: dateFromEpochMs(recorded.moved_ms) ?? new Date(),
      movedBy: recorded.moved_by,
      previous,
      snapshot,
    };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

function checkTarget(to: unknown): void {
  if (
    typeof to === "bigint"
      ? to > 0n
      : to instanceof Date
        ? !Number.isNaN(to.getTime())
        : moveTargets.includes(to as never)
  ) {
    return;
  }
  throw new InvalidOptionError("to", `expected oldest, now, a Date or a job id (bigint), got ${String(to)}`);
}

function describeTarget(to: MoveTarget): string {
  if (typeof to === "bigint") return `job ${to}`;
  return to instanceof Date ? to.toISOString() : to;
}

/**
 * The progress snapshot a target stands for, or null for the server's current one. A snapshot
 * `x:x:` shows every transaction before x as done and x itself, and all after, as not: what
 * x and later transactions wrote is delivered again.
 */
async function targetSnapshot(client: PooledConnection, quotedSchema: string, to: MoveTarget): Promise<string | null> {
  // `1:1:` shows no transaction as done: every job there is gets delivered.
  if (to === "oldest") return "1:1:";
  if (to === "now") return null;
  if (to instanceof Date) {
    // ISO 8601 with its zone: read the same under any DateStyle and TimeZone of the session.
    const { xid } = await queryRow(client, transactionSinceRead(quotedSchema), [to.toISOString()]);
    // Nothing enqueued since: from now.
    return xid === null ? null : `${xid}:${xid}:`;
  }
  const { xid } = await queryRow(client, transactionOfJobRead(quotedSchema), [String(to)]);
  if (xid === null) {
    throw new InvalidOptionError(
      "to",
      `job ${to} is not in immediate (never enqueued, still scheduled, or in a partition already dropped)`,
    );
  }
  return `${xid}:${xid}:`;
}
