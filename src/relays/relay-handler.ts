import type { Handler } from "../consumer/handler.js";
import type { Job, JobFailure } from "../core/job.js";
import { type RelayMessage, type RelayMessageOptions, relayMessages, UnsendableJobError } from "./relay-message.js";

/** How the broker answered one publish. */
export type PublishOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: unknown; readonly permanent: boolean };

/**
 * One broker's side of a relay: publishes a handler call's messages, all outstanding at once,
 * and resolves once the broker has confirmed or refused each (in the order given).
 */
export type Publish = (messages: readonly RelayMessage[]) => Promise<PublishOutcome[]>;

/**
 * A consumer handler that publishes every job of a call and reports as failed the jobs the
 * broker did not confirm: a job is done in the outbox only once the broker has it. A job that
 * cannot become a message, or that the broker refuses for good, fails permanently (dead
 * letter, and with `ordering: "key"` its key stays blocked).
 */
export function relayHandler(publish: Publish, options: RelayMessageOptions): Handler<unknown> {
  const messageOf = relayMessages(options);
  return async (jobs) => {
    const failures: JobFailure[] = [];
    const sendable: { job: Job<unknown>; message: RelayMessage }[] = [];
    for (const job of jobs) {
      try {
        sendable.push({ job, message: messageOf(job) });
      } catch (error) {
        if (!(error instanceof UnsendableJobError)) throw error;
        failures.push({ job, error, permanent: true });
      }
    }
    if (sendable.length === 0) return failures;
    const outcomes = await publish(sendable.map((each) => each.message));
    outcomes.forEach((outcome, index) => {
      const { job } = sendable[index] as { job: Job<unknown> };
      if (!outcome.ok) failures.push({ job, error: outcome.error, permanent: outcome.permanent });
    });
    return failures;
  };
}
