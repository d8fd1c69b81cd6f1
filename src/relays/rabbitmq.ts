/**
 * `poutbox/rabbitmq`: a relay from the outbox into RabbitMQ (AMQP 0-9-1, publisher confirms).
 *
 * @example
 * ```ts
 * import amqp from "amqplib";
 * import { Consumer } from "poutbox";
 * import { rabbitmqRelay } from "poutbox/rabbitmq";
 *
 * const connection = await amqp.connect("amqp://guest:guest@127.0.0.1:5672", {
 *   recovery: { maxDelay: 2_000 },
 *   timeout: 10_000,
 * });
 * connection.on("error", (error) => console.warn("rabbitmq:", error.message));
 * const relay = new Consumer(pool, rabbitmqRelay(connection, { exchange: "orders", routingKey: "{topic}" }), {
 *   name: "relay-rabbitmq",
 *   ordering: "key",
 * });
 * await relay.start();
 * ```
 *
 * @module
 */
import type { Handler } from "../consumer/handler.js";
import { type PublishOutcome, relayHandler } from "./relay-handler.js";
import type { RelayMessage } from "./relay-message.js";

export { relayHeaders, UnsendableJobError } from "./relay-message.js";

/** The part of a confirm channel (amqplib's `createConfirmChannel()`) the relay uses. */
export interface AmqpConfirmChannel {
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: {
      messageId: string;
      headers: Record<string, string>;
      persistent: boolean;
      mandatory: boolean;
      contentType: string;
    },
    callback: (error: unknown) => void,
  ): boolean;
  once(event: "drain" | "close", listener: () => void): unknown;
  off(event: "drain" | "close", listener: () => void): unknown;
  on(event: "return", listener: (message: { properties: { messageId?: string } }) => void): unknown;
  on(event: "close", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  close(): Promise<void>;
}

/** The part of an amqplib connection (`connect()`, or a recovering one) the relay uses. */
export interface AmqpConnection {
  createConfirmChannel(): Promise<AmqpConfirmChannel>;
}

export interface RabbitmqRelayOptions {
  /** The exchange to publish to; `""` for the default exchange (the routing key names a queue). */
  readonly exchange: string;
  /** The routing key of each job's message, with `{topic}` and `{key}` replaced by the job's. */
  readonly routingKey: string;
  /** Put before every `message_id` (see the message contract in docs/relays.md). Default: none. */
  readonly idPrefix?: string;
  /**
   * Publish with `mandatory`: a message no queue takes is returned by the broker, and the job
   * is retried instead of being dropped on the floor. Default true.
   */
  readonly mandatory?: boolean;
}

// RabbitMQ closes the channel with 406 when a message passes its max_message_size.
const tooLarge = /message size (\d+) is larger than (?:configured )?max size (\d+)/i;

/**
 * A consumer handler that publishes each job to RabbitMQ on a confirm channel, all of a call's
 * publishes outstanding at once, persistent, with the job's message id as `message_id`, and
 * reports a job done only once the broker confirmed it. RabbitMQ has no deduplication: a job
 * published again (a retry of an unconfirmed publish, a batch delivered again after a crash)
 * arrives again, with the same `message_id` for consumers to deduplicate on.
 *
 * The channel is opened on the first call and again after the broker closed it; for the
 * connection itself to come back after it is lost, pass a recovering one, with a bound on each
 * try (`amqp.connect(url, { recovery: { maxDelay: 2_000 }, timeout: 10_000 })`; see docs/relays.md).
 */
export function rabbitmqRelay(connection: AmqpConnection, options: RabbitmqRelayOptions): Handler<unknown> {
  const channels = new ChannelKeeper(connection);
  const mandatory = options.mandatory ?? true;
  const publish = async (messages: readonly RelayMessage[]): Promise<PublishOutcome[]> => {
    let channel: OpenChannel;
    try {
      channel = await channels.open();
    } catch (error) {
      return messages.map(() => ({ ok: false, error, permanent: false }));
    }
    const outcomes: Promise<PublishOutcome>[] = [];
    for (const message of messages) {
      outcomes.push(publishOne(channel, options.exchange, message, mandatory));
      // Full write buffer: wait for it to drain (or the channel to go) before going on.
      if (!channel.writable) await channel.drained();
    }
    return Promise.all(outcomes);
  };
  return relayHandler(publish, { destination: options.routingKey, idPrefix: options.idPrefix });
}

function publishOne(
  channel: OpenChannel,
  exchange: string,
  message: RelayMessage,
  mandatory: boolean,
): Promise<PublishOutcome> {
  return new Promise((resolve) => {
    const content = Buffer.from(message.body);
    const settle = (error: unknown) => {
      // The broker returns an unroutable message before it confirms it.
      const returned = channel.returned.delete(message.id);
      if (error) {
        const size = tooLarge.exec(channel.closedWith ?? "");
        const permanent = size !== null && content.length > Number(size[2]);
        resolve({ ok: false, error: permanent ? new Error(channel.closedWith) : error, permanent });
      } else if (returned) {
        resolve({
          ok: false,
          error: new Error(`no queue took the message (exchange "${exchange}", routing key "${message.destination}")`),
          permanent: false,
        });
      } else resolve({ ok: true });
    };
    try {
      channel.writable = channel.channel.publish(
        exchange,
        message.destination,
        content,
        {
          messageId: message.id,
          headers: { ...message.headers },
          persistent: true,
          mandatory,
          contentType: "application/json",
        },
        settle,
      );
    } catch (error) {
      resolve({ ok: false, error, permanent: error instanceof RangeError });
    }
  });
}

interface OpenChannel {
  readonly channel: AmqpConfirmChannel;
  /** Whether the last publish left room in the write buffer. */
  writable: boolean;
  /** Message ids the broker returned as unroutable, until their confirm arrives. */
  readonly returned: Set<string>;
  drained(): Promise<void>;
  /** The reason the broker gave when it closed the channel, if it did. */
  closedWith: string | undefined;
}

/** One confirm channel at a time, opened when needed and forgotten once it closes. */
class ChannelKeeper {
  readonly #connection: AmqpConnection;
  #open: Promise<OpenChannel> | undefined;

  constructor(connection: AmqpConnection) {
    this.#connection = connection;
  }

  open(): Promise<OpenChannel> {
    if (this.#open) return this.#open;
    const opening = this.#connection.createConfirmChannel().then((channel) => {
      const returned = new Set<string>();
      const open: OpenChannel = {
        channel,
        writable: true,
        returned,
        drained: () =>
          new Promise<void>((resolve) => {
            // Whichever comes first; the other listener goes, so none pile up over a long run.
            const done = () => {
              channel.off("drain", done);
              channel.off("close", done);
              resolve();
            };
            channel.once("drain", done);
            channel.once("close", done);
          }),
        closedWith: undefined,
      };
      channel.on("return", (message) => {
        if (message.properties.messageId !== undefined) returned.add(message.properties.messageId);
      });
      channel.on("error", (error) => {
        open.closedWith = error.message;
      });
      channel.on("close", () => {
        if (this.#open === opening) this.#open = undefined;
      });
      return open;
    });
    this.#open = opening;
    opening.catch(() => {
      if (this.#open === opening) this.#open = undefined;
    });
    return opening;
  }
}
