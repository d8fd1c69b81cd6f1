import { InvalidOptionError } from "../core/errors.js";
import type { JobId } from "../core/job-id.js";
import { requiredDateFromEpochMs } from "../database/epoch.js";
import { queryRow, queryRows } from "../database/query-rows.js";
import type { ConnectionSource, PooledConnection } from "../database/queryable.js";
import { withConnection } from "../database/with-connection.js";
import { type DeadLetter, listDeadLetters } from "../dead-letter/dead-letter.js";
import { checkSchema } from "../schema/check-schema.js";
import { resolveSchema } from "../schema/schema-name.js";
import { jobHeaders } from "../sources/job-headers.js";
import { consumerRead, failedList, type JobRow, pendingList, scheduledList } from "./contents-queries.js";

export interface OutboxContentsOptions {
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
  /** The consumer name whose view is read (pending, failed and dead are per consumer). Default `"default"`. */
  readonly consumer?: string;
}

/** What every job in the outbox has, wherever it waits. */
export interface OutboxJob {
  readonly id: JobId;
  readonly topic: string | null;
  readonly payload: unknown;
  readonly headers: Readonly<Record<string, string>>;
  /** When the job was first enqueued. */
  readonly enqueuedAt: Date;
}

/** A committed job in `immediate` that the consumer has not handled yet. */
export interface PendingJob extends OutboxJob {
  /** Deliveries already attempted: 0 for a new job, more for a retry that came due. */
  readonly attempt: number;
  /** When this row entered `immediate` (the enqueue, or the promotion of a retry or scheduled job). */
  readonly createdAt: Date;
}

/** A job enqueued with `runAt`, waiting for its time. */
export interface ScheduledJob extends OutboxJob {
  readonly runAt: Date;
}

/** A job the consumer failed and will deliver again at `nextRetryAt`. */
export interface FailedJob extends OutboxJob {
  /** Deliveries attempted so far, the failed one included. */
  readonly attempt: number;
  readonly lastError: string;
  readonly failedAt: Date;
  readonly nextRetryAt: Date;
}

/** Where the outbox's jobs are, as one consumer sees them, read from one snapshot. */
export interface OutboxContents {
  readonly consumer: string;
  /** The server's clock when it was read. */
  readonly at: Date;
  /** The consumer has run and recorded progress; before that, every job in `immediate` is pending. */
  readonly recorded: boolean;
  /** Committed jobs in `immediate` its recorded progress does not show as done, in delivery order. */
  readonly pending: readonly PendingJob[];
  /** Every scheduled job, soonest first (they belong to no consumer until due). */
  readonly scheduled: readonly ScheduledJob[];
  /** Its failed jobs awaiting a retry, soonest first. */
  readonly failed: readonly FailedJob[];
  /** Its dead letters, newest first. */
  readonly dead: readonly DeadLetter[];
  /** Outcomes it holds in its row because it could not write them yet (see the consumer's `outcomeWriteFailed`). */
  readonly heldOutcomes: number;
}

/**
 * Reads what is in the outbox for one consumer: pending, scheduled, failed (awaiting a retry)
 * and dead jobs, from one read-only snapshot. Meant for tests: it lists every row.
 *
 * @throws {SchemaMissingError} when the schema was never migrated.
 * @example
 * ```ts
 * const { pending, failed, dead } = await outboxContents(pool, { consumer: "mailer" });
 * assert.equal(dead.length, 0);
 * ```
 */
export async function outboxContents(
  pool: ConnectionSource,
  options: OutboxContentsOptions = {},
): Promise<OutboxContents> {
  const { schema, quotedSchema } = resolveSchema(options.schema);
  const consumer = options.consumer ?? "default";
  if (typeof consumer !== "string" || consumer.length === 0) {
    throw new InvalidOptionError("consumer", "expected a consumer name");
  }
  return withConnection(pool, async (client) => {
    await checkSchema(client, schema, quotedSchema);
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const contents = await readContents(client, schema, quotedSchema, consumer);
    await client.query("COMMIT");
    return contents;
  });
}

async function readContents(
  client: PooledConnection,
  schema: string,
  quotedSchema: string,
  consumer: string,
): Promise<OutboxContents> {
  const state = await queryRow(client, consumerRead(quotedSchema), [consumer]);
  const pending = await queryRows(client, pendingList(quotedSchema), [consumer]);
  const scheduled = await queryRows(client, scheduledList(quotedSchema));
  const failed = await queryRows(client, failedList(quotedSchema), [consumer]);
  const dead = await listDeadLetters(client, { schema, consumer, limit: 1_000_000 });
  return {
    consumer,
    at: requiredDateFromEpochMs(state.now_ms),
    recorded: state.recorded,
    pending: pending.map((row) => ({
      ...outboxJob(row),
      attempt: Number(row.attempt),
      createdAt: requiredDateFromEpochMs(row.created_ms),
    })),
    scheduled: scheduled.map((row) => ({ ...outboxJob(row), runAt: requiredDateFromEpochMs(row.run_ms) })),
    failed: failed.map((row) => ({
      ...outboxJob(row),
      attempt: Number(row.attempt),
      lastError: row.last_error,
      failedAt: requiredDateFromEpochMs(row.failed_ms),
      nextRetryAt: requiredDateFromEpochMs(row.retry_ms),
    })),
    dead,
    heldOutcomes: Number(state.held_outcomes),
  };
}

function outboxJob(row: JobRow): OutboxJob {
  return {
    id: BigInt(row.id),
    topic: row.topic,
    payload: JSON.parse(row.payload),
    headers: jobHeaders(row.headers === null ? null : JSON.parse(row.headers)),
    enqueuedAt: requiredDateFromEpochMs(row.enqueued_ms),
  };
}
