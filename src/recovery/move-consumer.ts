import { InvalidOptionError, PoutboxError } from "../core/errors.js";
import { advisoryLockHolder } from "../database/advisory-locks.js";
import { dateFromEpochMs } from "../database/epoch.js";
import { queryRow, queryRows } from "../database/query-rows.js";
import type { ConnectionSource, PooledConnection } from "../database/queryable.js";
import { withConnection } from "../database/with-connection.js";
import { checkSchema } from "../schema/check-schema.js";
import { resolveSchema } from "../schema/schema-name.js";
import { leaderLockKey } from "../schema/server-names.js";
import { consumerSlot, dropSlot, slotState } from "../slots/slot-admin.js";
import { restampFutureRows } from "./future-rows.js";
import { consumerMoveRecord, consumerPositionLock, consumerPositionReset } from "./recovery-queries.js";
import { readServerPosition } from "./server-position.js";

/**
 * Where a consumer can be moved: `oldest` delivers again every job still in the outbox (those
 * for every consumer and this consumer's own retries); `now` starts from the server's present
 * position, skipping every job committed before the move.
 */
export const moveTargets = ["oldest", "now"] as const;

export type MoveTarget = (typeof moveTargets)[number];

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
  readonly target: MoveTarget;
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
  if (!moveTargets.includes(options.to)) {
    throw new InvalidOptionError("to", `expected one of ${moveTargets.join(", ")}, got ${String(options.to)}`);
  }
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
  await client.query("BEGIN");
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
    // `1:1:` shows no transaction as done: every job there is gets delivered.
    const snapshotSql = options.to === "oldest" ? "'1:1:'::pg_snapshot" : "pg_current_snapshot()";
    const { snapshot } = await queryRow(client, consumerPositionReset(quotedSchema, snapshotSql), [
      consumer,
      server.systemIdentifier,
      server.timeline,
    ]);
    const recorded = await queryRow(client, consumerMoveRecord(quotedSchema), [
      consumer,
      options.to,
      options.reason ?? null,
      JSON.stringify(previous),
      JSON.stringify({ snapshot }),
    ]);
    await client.query("COMMIT");
    return {
      consumer,
      target: options.to,
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
