import type { Job } from "../consumer/job.js";
import type { RelationMessage, TupleData } from "../replication/pgoutput-messages.js";

/** Where each column of `immediate` sits in the tuples of one Relation message. */
export interface ImmediateColumns {
  readonly id: number;
  readonly topic: number;
  readonly payload: number;
  readonly headers: number;
  readonly attempt: number;
  readonly consumer: number;
  readonly createdAt: number;
  readonly transactionId: number;
}

const required = ["id", "topic", "payload", "headers", "attempt", "consumer", "created_at", "transaction_id"] as const;

/** Maps the Relation message of `immediate` to column positions; throws if a column is missing. */
export function immediateColumns(relation: RelationMessage): ImmediateColumns {
  const index = (name: string) => {
    const position = relation.columns.findIndex((column) => column.name === name);
    if (position < 0) throw new Error(`relation ${relation.namespace}.${relation.name} has no column "${name}"`);
    return position;
  };
  const [id, topic, payload, headers, attempt, consumer, createdAt, transactionId] = required.map(index) as number[];
  return {
    id: id as number,
    topic: topic as number,
    payload: payload as number,
    headers: headers as number,
    attempt: attempt as number,
    consumer: consumer as number,
    createdAt: createdAt as number,
    transactionId: transactionId as number,
  };
}

function text(tuple: TupleData, position: number): string | null {
  const value = tuple[position];
  if (value === undefined || value.kind === "null") return null;
  if (value.kind === "text") return value.value;
  // An insert carries every column; unchanged-toast only appears in updates.
  throw new Error(`unexpected ${value.kind} value in column ${position} of an inserted job`);
}

/** The consumer a row is meant for (null: every consumer), read before decoding the rest. */
export function rowConsumer(tuple: TupleData, columns: ImmediateColumns): string | null {
  return text(tuple, columns.consumer);
}

/** A job from the text values of an inserted `immediate` row, and its payload's size. */
export function jobFromTuple(tuple: TupleData, columns: ImmediateColumns): { job: Job<unknown>; bytes: number } {
  const payload = text(tuple, columns.payload) ?? "null";
  const headers = text(tuple, columns.headers);
  return {
    job: {
      id: BigInt(text(tuple, columns.id) ?? "0"),
      payload: JSON.parse(payload),
      topic: text(tuple, columns.topic),
      headers: headers === null ? {} : JSON.parse(headers),
      attempt: Number(text(tuple, columns.attempt) ?? "0") + 1,
      createdAt: parseTimestamptz(text(tuple, columns.createdAt) ?? ""),
      transactionId: BigInt(text(tuple, columns.transactionId) ?? "0"),
    },
    bytes: payload.length + (headers?.length ?? 0),
  };
}

/**
 * PostgreSQL's ISO output of a timestamptz, `2026-11-27 00:40:12.123456+00` (or `+05:30`,
 * `-03`), as a Date. Date's own parser does not promise to read that form.
 */
export function parseTimestamptz(value: string): Date {
  const match = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.\d+)?([+-]\d\d)(?::(\d\d))?(?::(\d\d))?$/.exec(value);
  if (!match) return new Date(value);
  const [, year, month, day, hour, minute, second, fraction, offsetHours, offsetMinutes, offsetSeconds] = match;
  const utc = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  const sign = (offsetHours as string).startsWith("-") ? -1 : 1;
  const offset =
    sign * (Math.abs(Number(offsetHours)) * 3600 + Number(offsetMinutes ?? 0) * 60 + Number(offsetSeconds ?? 0)) * 1000;
  return new Date(utc - offset + Math.floor(Number(fraction ?? 0) * 1000));
}
