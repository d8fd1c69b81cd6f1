import { InvalidOptionError } from "../core/errors.js";
import type { Job } from "../core/job.js";

/**
 * What every relay sends for a job, whatever the broker: the payload as JSON, unchanged, and
 * the job's facts as headers beside the job's own headers (a trace context among them, when
 * the producer put one there). The message id is what the broker deduplicates on: the same
 * for every delivery of one job, so a republish after a crash or a retry is recognised.
 */
export interface RelayMessage {
  /** The broker's message id (`Nats-Msg-Id`, AMQP `message_id`, the Redis dedup key). */
  readonly id: string;
  /** Where it goes: the destination template filled in with the job's topic and key. */
  readonly destination: string;
  /** The payload as JSON text; each broker sends it as UTF-8 in the form its client takes. */
  readonly body: string;
  /** The job's headers, then the Poutbox-* facts (which win over a job header of the same name). */
  readonly headers: Readonly<Record<string, string>>;
}

/** The header names of the message contract. */
export const relayHeaders = {
  id: "Poutbox-Job-Id",
  topic: "Poutbox-Topic",
  key: "Poutbox-Key",
  enqueuedAt: "Poutbox-Enqueued-At",
  attempt: "Poutbox-Attempt",
  contentType: "Content-Type",
} as const;

export interface RelayMessageOptions {
  /**
   * Where each job goes, with `{topic}` and `{key}` replaced by the job's: `"orders.{topic}"`.
   * A job without the topic or key its template names is refused for good (dead letter).
   */
  readonly destination: string;
  /**
   * Put before every message id. The id is the job's id and the time it was first enqueued,
   * which no other job of any outbox is likely to share; give each outbox a prefix of its own
   * anyway when several publish into one destination. Default: none.
   */
  readonly idPrefix?: string;
}

/** A job the relay cannot turn into a message: it is dead-lettered, as no retry can help. */
export class UnsendableJobError extends Error {
  override readonly name = "UnsendableJobError";
}

const placeholder = /\{([^{}]*)\}/g;
const known = new Set(["topic", "key"]);

/** Checks the options once and returns the function that builds each job's message. */
export function relayMessages(options: RelayMessageOptions): (job: Job<unknown>) => RelayMessage {
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError("options", "expected an object with a destination");
  }
  const { destination, idPrefix = "" } = options;
  if (typeof destination !== "string" || destination.length === 0) {
    throw new InvalidOptionError("destination", 'expected a non-empty string such as "orders.{topic}"');
  }
  for (const [, name] of destination.matchAll(placeholder)) {
    if (!known.has(name as string)) {
      throw new InvalidOptionError(
        "destination",
        `unknown placeholder {${name}}: only {topic} and {key} are filled in`,
      );
    }
  }
  if (typeof idPrefix !== "string") throw new InvalidOptionError("idPrefix", "expected a string");
  return (job) => {
    const filled = destination.replace(placeholder, (_, name: string) => {
      const value = name === "topic" ? job.topic : job.key;
      if (value === null)
        throw new UnsendableJobError(`job ${job.id} has no ${name} for the destination "${destination}"`);
      return value;
    });
    const headers: Record<string, string> = { ...job.headers };
    headers[relayHeaders.id] = String(job.id);
    if (job.topic !== null) headers[relayHeaders.topic] = job.topic;
    if (job.key !== null) headers[relayHeaders.key] = job.key;
    headers[relayHeaders.enqueuedAt] = job.enqueuedAt.toISOString();
    headers[relayHeaders.attempt] = String(job.attempt);
    headers[relayHeaders.contentType] = "application/json";
    return {
      id: `${idPrefix}${job.id}-${job.enqueuedAt.getTime()}`,
      destination: filled,
      body: JSON.stringify(job.payload),
      headers,
    };
  };
}
