import type { JobId } from "./job-id.js";
import type { RetryPolicy } from "./retry-policy.js";

/**
 * One job as a handler receives it. With a topic map (see defineTopics) `Topic` is one of its
 * topics and `Payload` that topic's payload type.
 */
export interface Job<Payload = unknown, Topic extends string | null = string | null> {
  readonly id: JobId;
  readonly payload: Payload;
  /** As given to enqueue, or null. */
  readonly topic: Topic;
  /**
   * As given to enqueue: always an object, empty when none were given (also when a row written
   * by other means holds SQL NULL or a JSON value that is not an object).
   */
  readonly headers: Readonly<Record<string, string>>;
  /** The ordering key given to enqueue, or null (see the consumer's `ordering` option). */
  readonly key: string | null;
  /**
   * The job's own retry policy, given at enqueue (`maxAttempts`, `backoff`), or null. It goes
   * over the consumer's policy and its topic's (retryByTopic).
   */
  readonly retry: RetryPolicy | null;
  /** Which delivery this is for this consumer: 1 the first time, 2 on the first retry... */
  readonly attempt: number;
  /**
   * When the job was first enqueued: the same on every delivery of the job, retries and a
   * scheduled job's promotion included. (`createdAt` is when this delivery's row was written.)
   */
  readonly enqueuedAt: Date;
  /**
   * When this delivery's row entered `immediate`: the enqueue itself for a first delivery; for a
   * retry, or a scheduled job, the moment it was moved there. See `enqueuedAt` for the first.
   */
  readonly createdAt: Date;
  /** The id of the transaction that wrote the job into `immediate`. */
  readonly transactionId: bigint;
}

/** A job the handler could not process, and why. */
export interface JobFailure {
  /** The failed job, or its id. */
  readonly job: Job | JobId;
  /** Stored with the job as its last error (an Error's stack, or the value as text). */
  readonly error: unknown;
  /**
   * True when trying again cannot help (a payload the destination refuses for good): the job
   * goes to dead letter now, whatever attempts it has left. Default false: it is retried.
   */
  readonly permanent?: boolean;
}

export interface HandlerContext {
  /** Aborted when the handler times out, or when the consumer stops or loses leadership. */
  readonly signal: AbortSignal;
}

/**
 * What a handler resolves with: nothing when all jobs succeeded, or the failures. `void`
 * (not just undefined) so that a plain `async (jobs) => { ... }` fits.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: see above; an async function without return is Promise<void>.
export type HandlerResult = void | readonly JobFailure[];
