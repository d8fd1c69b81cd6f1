import type { Job } from "../core/job.js";
import type { RelationMessage, TupleData } from "../replication/pgoutput-messages.js";
import { jobHeaders } from "./job-headers.js";
import { jobRetry } from "./job-retry.js";

/** Where each column of `immediate` sits in the tuples of one Relation message. */
export interface ImmediateColumns {
  readonly id: number;
  readonly topic: number;
  readonly payload: number;
  readonly headers: number;
  readonly attempt: number;
  readonly consumer: number;
  readonly createdAt: number;
  /** -1 when the relation has no such column (a stream from before the schema's migration 5). */
  readonly enqueuedAt: number;
  /** -1 when the relation has no such column (a stream from before the schema's migration 6). */
  readonly key: number;
  /** -1 as for key. */
  readonly retry: number;
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
    enqueuedAt: relation.columns.findIndex((column) => column.name === "enqueued_at"),
    key: relation.columns.findIndex((column) => column.name === "key"),
    retry: relation.columns.findIndex((column) => column.name === "retry"),
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

/** The topic of a row (null: none), read before decoding the rest. */
export function rowTopic(tuple: TupleData, columns: ImmediateColumns): string | null {
  return text(tuple, columns.topic);
}

function retryOf(value: string | null) {
  return value === null ? null : jobRetry(JSON.parse(value));
}

/**
 * A parse that keeps its last text and result. The jobs of one transaction share their
 * `created_at` (now() is the transaction's start) and `transaction_id`, so a transaction of
 * 1,000 jobs parses each once instead of 1,000 times. For pure parses only.
 */
function rememberingLast<T>(parse: (text: string) => T): (text: string) => T {
  let lastText: string | undefined;
  let last!: T;
  return (text) => {
    if (text !== lastText) {
      last = parse(text);
      lastText = text;
    }
    return last;
  };
}

const epochMsOf = rememberingLast((text) => parseTimestamptz(text).getTime());
const bigintOf = rememberingLast(BigInt);

/** A job from the text values of an inserted `immediate` row, and its payload's size. */
export function jobFromTuple(tuple: TupleData, columns: ImmediateColumns): { job: Job<unknown>; bytes: number } {
  const payload = text(tuple, columns.payload) ?? "null";
  const headers = text(tuple, columns.headers);
  // A Date can be changed by whoever holds it: each job gets one of its own.
  const createdAt = new Date(epochMsOf(text(tuple, columns.createdAt) ?? ""));
  const enqueuedAt = columns.enqueuedAt < 0 ? null : text(tuple, columns.enqueuedAt);
  return {
    job: {
      id: BigInt(text(tuple, columns.id) ?? "0"),
      payload: JSON.parse(payload),
      topic: text(tuple, columns.topic),
      key: columns.key < 0 ? null : text(tuple, columns.key),
      retry: retryOf(columns.retry < 0 ? null : text(tuple, columns.retry)),
      headers: jobHeaders(headers === null ? null : JSON.parse(headers)),
      attempt: Number(text(tuple, columns.attempt) ?? "0") + 1,
      // NULL: the job's first delivery, enqueued when this row was written.
      enqueuedAt: enqueuedAt === null ? new Date(createdAt.getTime()) : parseTimestamptz(enqueuedAt),
      createdAt,
      transactionId: bigintOf(text(tuple, columns.transactionId) ?? "0"),
    },
    bytes: payload.length + (headers?.length ?? 0),
  };
}

/**
 * PostgreSQL's ISO output of a timestamptz, `2026-11-27 00:40:12.123456+00` (or `+05:30`,
 * `-03`), as a Date (to the millisecond, fractions cut towards the past). Date's own parser
 * does not promise to read that form. Every replicated job carries one, so the usual shape is
 * read by character codes (a regular expression and its captures were a tenth of the
 * replication drain's CPU); anything else goes to the general parser.
 */
export function parseTimestamptz(value: string): Date {
  const year = digits(value, 0, 4);
  const month = digits(value, 5, 2);
  const day = digits(value, 8, 2);
  const hour = digits(value, 11, 2);
  const minute = digits(value, 14, 2);
  const second = digits(value, 17, 2);
  if (
    year < 100 || // Date.UTC reads years 0-99 as 1900-1999
    (month | day | hour | minute | second) < 0 ||
    value.charCodeAt(4) !== dash ||
    value.charCodeAt(7) !== dash ||
    value.charCodeAt(10) !== space ||
    value.charCodeAt(13) !== colon ||
    value.charCodeAt(16) !== colon
  ) {
    return parseTimestamptzSlowly(value);
  }
  let at = 19;
  let ms = 0;
  if (value.charCodeAt(at) === dot) {
    at++;
    // Milliseconds are the first three digits of the fraction; further digits are cut.
    for (let scale = 100; isDigit(value.charCodeAt(at)); at++, scale /= 10) {
      if (scale >= 1) ms += (value.charCodeAt(at) - zero) * scale;
    }
    if (at === 20) return parseTimestamptzSlowly(value);
  }
  const sign = value.charCodeAt(at);
  const offsetHours = digits(value, at + 1, 2);
  if ((sign !== plus && sign !== dash) || offsetHours < 0) return parseTimestamptzSlowly(value);
  at += 3;
  let offsetSeconds = offsetHours * 3600;
  for (let unit = 60; unit >= 1 && value.charCodeAt(at) === colon; unit /= 60, at += 3) {
    const part = digits(value, at + 1, 2);
    if (part < 0) return parseTimestamptzSlowly(value);
    offsetSeconds += part * unit;
  }
  if (at !== value.length) return parseTimestamptzSlowly(value);
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  return new Date(utc - (sign === dash ? -offsetSeconds : offsetSeconds) * 1000 + ms);
}

const zero = 0x30;
const dash = 0x2d;
const plus = 0x2b;
const space = 0x20;
const colon = 0x3a;
const dot = 0x2e;

function isDigit(code: number): boolean {
  return code >= zero && code <= zero + 9;
}

/** The decimal number in `count` characters from `at`, or -1 if one of them is not a digit. */
function digits(value: string, at: number, count: number): number {
  let number = 0;
  for (let index = at; index < at + count; index++) {
    const code = value.charCodeAt(index);
    if (!isDigit(code)) return -1;
    number = number * 10 + (code - zero);
  }
  return number;
}

/** Every ISO form: years past 9999, fractions, offsets to the second; else Date's own parser. */
function parseTimestamptzSlowly(value: string): Date {
  const match = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?([+-]\d\d)(?::(\d\d))?(?::(\d\d))?$/.exec(
    value,
  );
  if (!match) return new Date(value);
  const [, year, month, day, hour, minute, second, fraction, offsetHours, offsetMinutes, offsetSeconds] = match;
  // Date.UTC takes years 0-99 for 1900-1999; setUTCFullYear takes every year as it is.
  const date = new Date(Date.UTC(2000, Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second)));
  const utc = date.setUTCFullYear(Number(year));
  const sign = (offsetHours as string).startsWith("-") ? -1 : 1;
  const offset =
    sign * (Math.abs(Number(offsetHours)) * 3600 + Number(offsetMinutes ?? 0) * 60 + Number(offsetSeconds ?? 0)) * 1000;
  // The first three digits of the fraction, as an integer: no floating-point rounding.
  const ms = Number(`${fraction ?? ""}000`.slice(0, 3));
  return new Date(utc - offset + ms);
}
