import { InvalidOptionError, TransactionStateError } from "../core/errors.js";
import { type BackoffOptions, checkRetryPolicy } from "../core/retry-policy.js";
import type { Queryable } from "../database/queryable.js";

export type Headers = Readonly<Record<string, string>>;

export interface EnqueueOptions {
  /**
   * The caller's open transaction (for `pg`: a PoolClient or Client after `BEGIN`; for other
   * libraries, their transaction through its adapter, such as `fromKysely(trx)`). The job
   * then exists if and only if that transaction commits. Default: the client's own pool,
   * in a transaction of its own.
   */
  readonly tx?: Queryable;
  /** Deliver at or after this time (the job waits in `scheduled`). Default: now. */
  readonly runAt?: Date;
  /** What kind of job this is, for handlers and relays to route on (1-255 characters). Default: none. */
  readonly topic?: string;
  /** String metadata carried beside the payload (trace ids, content type...). Default: none. */
  readonly headers?: Headers;
  /**
   * The ordering key (1-255 characters), such as the id of the order the event is about: a
   * consumer created with `ordering: "key"` delivers the jobs of one key one at a time, in the
   * order they were committed, and a failing job holds back only the later jobs of its key.
   * Default: none (the job is ordered with nothing).
   */
  readonly key?: string;
  /**
   * Deliveries of this job before it goes to dead letter, for every consumer, over the
   * consumer's `maxAttempts` and its topic's (retryByTopic). Default: theirs.
   */
  readonly maxAttempts?: number;
  /** This job's retry delays, over the consumer's and its topic's, field by field. Default: theirs. */
  readonly backoff?: BackoffOptions;
  /**
   * Makes the enqueue idempotent (1-255 characters, such as the id of the request that asked
   * for it): while the job last enqueued with this key is pending (not yet passed by every
   * consumer, waiting in `scheduled` or for a retry), another enqueue with the key returns that
   * job's id and writes nothing. After that, the key names the next job enqueued with it.
   * Default: none.
   */
  readonly idempotencyKey?: string;
}

/** Options of enqueueMany: those of enqueue, with an idempotency key per payload. */
export interface EnqueueManyOptions extends Omit<EnqueueOptions, "idempotencyKey"> {
  /**
   * One idempotency key per payload, in the same order (see EnqueueOptions.idempotencyKey);
   * null or undefined for a payload without one. A key given twice in one call names one job.
   */
  readonly idempotencyKeys?: readonly (string | null | undefined)[];
}

/** Options checked and ready for SQL: every value a plain bind parameter. */
export interface CheckedOptions {
  readonly target: "immediate" | "scheduled";
  readonly topic: string | null;
  readonly headers: string | null;
  readonly runAt: string | null;
  readonly key: string | null;
  /** The job's own retry policy as JSON, or null. */
  readonly retry: string | null;
  readonly idempotencyKey: string | null;
}

const maxTopicLength = 255;
const maxKeyLength = 255;
const keyRule = `expected a string of 1 to ${maxKeyLength} characters`;

export const failedTransactionMessage =
  "tx is in a failed transaction (an earlier statement raised an error); roll it back";

export function checkEnqueueOptions(options: EnqueueOptions & EnqueueManyOptions): CheckedOptions {
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError("options", `expected an object, got ${options === null ? "null" : typeof options}`);
  }
  if (options.tx !== undefined) checkTransaction(options.tx);
  const { runAt, topic, headers, key, idempotencyKey } = options;
  if (runAt !== undefined && !(runAt instanceof Date && !Number.isNaN(runAt.getTime()))) {
    throw new InvalidOptionError("runAt", runAt instanceof Date ? "an invalid Date" : "expected a Date");
  }
  if (topic !== undefined && (typeof topic !== "string" || topic.length === 0 || topic.length > maxTopicLength)) {
    throw new InvalidOptionError("topic", `expected a string of 1 to ${maxTopicLength} characters`);
  }
  if (key !== undefined && !isKey(key)) throw new InvalidOptionError("key", keyRule);
  if (idempotencyKey !== undefined && !isKey(idempotencyKey)) throw new InvalidOptionError("idempotencyKey", keyRule);
  return {
    target: runAt === undefined ? "immediate" : "scheduled",
    topic: topic ?? null,
    headers: headers === undefined ? null : headersJson(headers),
    runAt: runAt === undefined ? null : runAt.toISOString(),
    key: key ?? null,
    retry: retryJson(options),
    idempotencyKey: idempotencyKey ?? null,
  };
}

function isKey(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= maxKeyLength;
}

/**
 * enqueueMany's idempotency keys as a JSON array lined up with the payloads, or null when no
 * payload has one. enqueue takes one key, enqueueMany one per payload: each refuses the other.
 */
export function idempotencyKeysJson(options: EnqueueOptions & EnqueueManyOptions, count: number): string | null {
  if (options.idempotencyKey !== undefined) {
    throw new InvalidOptionError("idempotencyKey", "enqueueMany takes idempotencyKeys, one per payload");
  }
  const keys = options.idempotencyKeys;
  if (keys === undefined) return null;
  if (!Array.isArray(keys) || keys.length !== count) {
    throw new InvalidOptionError("idempotencyKeys", `expected an array of ${count} keys, one per payload`);
  }
  keys.forEach((each, index) => {
    if (each !== null && each !== undefined && !isKey(each)) {
      throw new InvalidOptionError(`idempotencyKeys[${index}]`, `${keyRule}, null or undefined`);
    }
  });
  return keys.some((each) => each !== null && each !== undefined) ? JSON.stringify(keys) : null;
}

function retryJson(options: EnqueueOptions): string | null {
  if (options.maxAttempts === undefined && options.backoff === undefined) return null;
  return JSON.stringify(checkRetryPolicy("", { maxAttempts: options.maxAttempts, backoff: options.backoff }));
}

function headersJson(headers: Headers): string {
  if (headers === null || typeof headers !== "object" || Array.isArray(headers)) {
    throw new InvalidOptionError("headers", "expected an object of string values");
  }
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== "string") {
      throw new InvalidOptionError(`headers.${name}`, `expected a string, got ${typeof value}`);
    }
  }
  return JSON.stringify(headers);
}

/** Refuses a `tx` that is not a connection inside an open transaction. */
export function checkTransaction(tx: Queryable): void {
  if (tx === null || typeof tx !== "object" || typeof tx.query !== "function") {
    throw new InvalidOptionError("tx", "expected a connection with a query() method inside an open transaction");
  }
  // A pg Pool runs each query on whichever connection is free: it cannot hold a transaction.
  if ("totalCount" in tx && "idleCount" in tx) {
    throw new InvalidOptionError("tx", "got a Pool; pass the PoolClient on which you ran BEGIN");
  }
  const status = transactionStatus(tx);
  if (status === "T" || status === undefined) return;
  throw new TransactionStateError(
    status === "E"
      ? failedTransactionMessage
      : "tx is not inside a transaction (never begun, already committed or rolled back, or a database " +
          "handle given instead of its transaction); " +
          "the job would be written outside it",
  );
}

/** `undefined` when the connection cannot tell (not a `pg` connection, or an old `pg`). */
function transactionStatus(tx: Queryable): string | null | undefined {
  const aware = tx as { getTransactionStatus?: () => string | null };
  return typeof aware.getTransactionStatus === "function" ? aware.getTransactionStatus() : undefined;
}
