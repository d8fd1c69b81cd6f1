import type { JobId } from "../core/job-id.js";

/**
 * A job whose outcome needs a write: one the batch did not process, and whether it goes to
 * dead letter now whatever its attempt; or, for an ordered consumer, a step in its key's queue.
 */
export interface FailedJob {
  readonly error: string;
  /** Refused before the handler (its payload or topic does not fit): no retry can help. */
  readonly dead: boolean;
  /** For an ordered consumer's keyed job: what happens to its key's queue (see QueueStep). */
  readonly queue?: QueueStep;
}

/**
 * A keyed job's step in its key's queue, for a consumer with `ordering: "key"`:
 * - `retry`: it failed, and heads the queue until it succeeds;
 * - `wait`: it was not delivered, its key being blocked: it joins the end of the queue;
 * - `dead-block`: it was dead-lettered and stays at the head, the key blocked;
 * - `leave`: it succeeded, or was dead-lettered and the key moves on: it leaves the queue
 *   (if it headed one), and the next job in it becomes due.
 */
export type QueueStep = "retry" | "wait" | "dead-block" | "leave";

/** A handler call's outcome: each failed job's error, and whether it is dead whatever its attempt. */
export type JobOutcomes =
  | { readonly kind: "done"; readonly failures: ReadonlyMap<JobId, { error: string; dead: boolean }> }
  | { readonly kind: "abandoned" };
