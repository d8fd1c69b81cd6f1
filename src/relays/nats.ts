/**
 * `poutbox/nats`: a relay from the outbox into NATS JetStream.
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { jetstream } from "@nats-io/jetstream";
 * import { Consumer } from "poutbox";
 * import { natsRelay } from "poutbox/nats";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * const relay = new Consumer(pool, natsRelay(jetstream(nc), { subject: "orders.{topic}" }), {
 *   name: "relay-nats",
 *   ordering: "key",
 * });
 * await relay.start();
 * ```
 *
 * @module
 */
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { Handler } from "../consumer/handler.js";
import { type PublishOutcome, relayHandler } from "./relay-handler.js";
import type { RelayMessage } from "./relay-message.js";

export { relayHeaders, UnsendableJobError } from "./relay-message.js";

/** The part of a JetStream client (`jetstream(nc)` of `@nats-io/jetstream`) the relay uses. */
export interface JetStreamPublisher {
  publish(
    subject: string,
    data: Uint8Array,
    options: { msgID: string; headers: ReturnType<typeof natsHeaders>; timeout?: number },
  ): Promise<{ readonly duplicate: boolean }>;
}

export interface NatsRelayOptions {
  /**
   * The subject of each job's message, with `{topic}` and `{key}` replaced by the job's:
   * `"orders.{topic}"`, or `"orders.{key}"` to give every key a subject of its own. A stream
   * must take the subjects; a job whose subject is not a valid one (a space, `*` or `>` in
   * its topic or key) goes to dead letter.
   */
  readonly subject: string;
  /** Put before every `Nats-Msg-Id` (see the message contract in docs/relays.md). Default: none. */
  readonly idPrefix?: string;
  /** How long to wait for each publish's acknowledgement, ms. Default 5000. */
  readonly ackTimeout?: number;
}

const encoder = new TextEncoder();

// A subject token is anything but white space, `.`, `*` and `>`; tokens are joined by dots.
const validSubject = /^[^\s.*>]+(\.[^\s.*>]+)*$/;

/**
 * A consumer handler that publishes each job to JetStream with the job's message id as
 * `Nats-Msg-Id`, all of a call's publishes outstanding at once, and reports a job done only
 * once JetStream acknowledged it. A republish of the same job (after a crash, or a retry whose
 * first publish was stored but not acknowledged in time) within the stream's
 * `duplicate_window` is dropped by JetStream: each job is stored once.
 */
export function natsRelay(js: JetStreamPublisher, options: NatsRelayOptions): Handler<unknown> {
  const ackTimeout = options.ackTimeout ?? 5000;
  const publish = (messages: readonly RelayMessage[]): Promise<PublishOutcome[]> =>
    Promise.all(messages.map((message) => publishOne(js, message, ackTimeout)));
  return relayHandler(publish, { destination: options.subject, idPrefix: options.idPrefix });
}

async function publishOne(js: JetStreamPublisher, message: RelayMessage, timeout: number): Promise<PublishOutcome> {
  if (!validSubject.test(message.destination)) {
    return { ok: false, error: new Error(`"${message.destination}" is not a valid NATS subject`), permanent: true };
  }
  const headers = natsHeaders();
  for (const [name, value] of Object.entries(message.headers)) headers.set(name, value);
  try {
    await js.publish(message.destination, encoder.encode(message.body), { msgID: message.id, headers, timeout });
    return { ok: true };
  } catch (error) {
    return { ok: false, error, permanent: refusedForGood(error) };
  }
}

/**
 * A message too large for the server or the stream, or one the stream refuses with a 4xx
 * status: publishing it again cannot succeed. Everything else (no stream yet, a timeout, a
 * lost connection, a stream or server unavailable) may pass on a later attempt.
 */
function refusedForGood(error: unknown): boolean {
  const failure = error as { name?: string; message?: string; status?: number };
  if (failure?.name === "InvalidArgumentError" && /max_payload/.test(failure.message ?? "")) return true;
  const status = failure?.status;
  return (
    failure?.name === "JetStreamApiError" &&
    typeof status === "number" &&
    status >= 400 &&
    status < 500 &&
    status !== 408 &&
    status !== 429
  );
}
