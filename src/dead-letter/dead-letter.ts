import { InvalidOptionError } from "../core/errors.js";
import type { JobId } from "../core/job-id.js";
import { queryRow, queryRows } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { resolveSchema } from "../schema/schema-name.js";
import { deadLetterCount, deadLetterList, deadLetterPurge, deadLetterRequeue } from "./dead-letter-queries.js";

/** A job that used up its attempts for one consumer. */
export interface DeadLetter {
  readonly id: JobId;
  readonly consumer: string;
  readonly topic: string | null;
  /** The job's ordering key, or null. */
  readonly key: string | null;
  readonly payload: unknown;
  readonly headers: Readonly<Record<string, string>>;
  readonly attempts: number;
  readonly lastError: string;
  /** When the job was first enqueued (a requeue keeps it): `enqueued_at`, or `created_at` where that is null. */
  readonly enqueuedAt: Date;
  /** When the row it was last delivered from was written to `immediate`. */
  readonly createdAt: Date;
  /** When its last delivery failed. */
  readonly failedAt: Date;
  readonly deadAt: Date;
}

/**
 * Which dead letters an operation applies to. Every given field narrows the selection; to
 * act on every dead letter, say so with `all: true`.
 */
export interface DeadLetterSelection {
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
  /** Only this consumer's dead letters. */
  readonly consumer?: string;
  /** Only these jobs. */
  readonly ids?: readonly JobId[];
  /** Only those that died before this time. */
  readonly deadBefore?: Date;
  /** Required when no other filter is given, so that nothing is requeued or purged by accident. */
  readonly all?: boolean;
}

export interface ListDeadLettersOptions extends DeadLetterSelection {
  /** At most this many, newest first. Default 100. */
  readonly limit?: number;
}

interface Filter {
  readonly quotedSchema: string;
  readonly where: string;
  readonly values: unknown[];
}

function filter(selection: DeadLetterSelection, requireChoice: boolean): Filter {
  const { quotedSchema } = resolveSchema(selection.schema);
  const clauses: string[] = [];
  const values: unknown[] = [];
  if (selection.consumer !== undefined) {
    values.push(selection.consumer);
    clauses.push(`consumer = $${values.length}`);
  }
  if (selection.ids !== undefined) {
    if (!Array.isArray(selection.ids) || selection.ids.some((id) => typeof id !== "bigint")) {
      throw new InvalidOptionError("ids", "expected an array of bigint job ids");
    }
    values.push(selection.ids.map(String));
    clauses.push(`id = ANY($${values.length}::bigint[])`);
  }
  if (selection.deadBefore !== undefined) {
    if (!(selection.deadBefore instanceof Date) || Number.isNaN(selection.deadBefore.getTime())) {
      throw new InvalidOptionError("deadBefore", "expected a valid Date");
    }
    values.push(selection.deadBefore.toISOString());
    clauses.push(`dead_at < $${values.length}::timestamptz`);
  }
  if (requireChoice && clauses.length === 0 && selection.all !== true) {
    throw new InvalidOptionError("all", "select dead letters by consumer, ids or deadBefore, or pass all: true");
  }
  return { quotedSchema, where: clauses.length > 0 ? clauses.join(" AND ") : "true", values };
}

/** Lists dead letters, newest first. */
export async function listDeadLetters(db: Queryable, options: ListDeadLettersOptions = {}): Promise<DeadLetter[]> {
  const { quotedSchema, where, values } = filter(options, false);
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidOptionError("limit", "expected a positive integer");
  const rows = await queryRows(db, deadLetterList(quotedSchema, where, limit), values);
  return rows.map((row) => ({
    id: BigInt(String(row.id)),
    consumer: row.consumer,
    topic: row.topic,
    key: row.key,
    payload: JSON.parse(String(row.payload)),
    headers: row.headers === null ? {} : (JSON.parse(String(row.headers)) as Record<string, string>),
    attempts: Number(row.attempts),
    lastError: row.last_error,
    enqueuedAt: new Date(Number(row.enqueued_ms)),
    createdAt: new Date(Number(row.created_ms)),
    failedAt: new Date(Number(row.failed_ms)),
    deadAt: new Date(Number(row.dead_ms)),
  }));
}

/** Counts the dead letters a selection matches (every one when it has no filter). */
export async function countDeadLetters(db: Queryable, selection: DeadLetterSelection = {}): Promise<number> {
  const { quotedSchema, where, values } = filter(selection, false);
  const { n } = await queryRow(db, deadLetterCount(quotedSchema, where), values);
  return Number(n);
}

/**
 * Sends dead letters back for delivery, to the consumer they died in only, with a fresh set
 * of attempts. Returns how many were requeued. One statement: all or none.
 */
export async function requeueDeadLetters(db: Queryable, selection: DeadLetterSelection): Promise<number> {
  const { quotedSchema, where, values } = filter(selection, true);
  const { n } = await queryRow(db, deadLetterRequeue(quotedSchema, where), values);
  return Number(n);
}

/** Deletes dead letters for good. Returns how many. */
export async function purgeDeadLetters(db: Queryable, selection: DeadLetterSelection): Promise<number> {
  const { quotedSchema, where, values } = filter(selection, true);
  const { n } = await queryRow(db, deadLetterPurge(quotedSchema, where), values);
  return Number(n);
}
