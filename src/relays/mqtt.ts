/**
 * `poutbox/mqtt`: a relay from the outbox into an MQTT 5 broker, at QoS 1.
 *
 * @example
 * ```ts
 * import mqtt from "mqtt";
 * import { Consumer } from "poutbox";
 * import { mqttRelay } from "poutbox/mqtt";
 *
 * const client = await mqtt.connectAsync("mqtt://127.0.0.1:1883", { protocolVersion: 5 });
 * const relay = new Consumer(pool, mqttRelay(client, { topic: "orders/{topic}" }), {
 *   name: "relay-mqtt",
 *   ordering: "key",
 * });
 * await relay.start();
 * ```
 *
 * @module
 */
import type { Handler } from "../consumer/handler.js";
import { InvalidOptionError } from "../core/errors.js";
import { type MqttPublishOptions, mqttPublishOptions } from "./mqtt-publish-options.js";
import { type PublishOutcome, relayHandler } from "./relay-handler.js";
import type { RelayMessage } from "./relay-message.js";

export { type MqttPublishOptions, mqttMessageIdProperty } from "./mqtt-publish-options.js";
export { relayHeaders, UnsendableJobError } from "./relay-message.js";

/** The part of an MQTT.js client (`mqtt.connectAsync(url, { protocolVersion: 5 })`) the relay uses. */
export interface MqttPublisher {
  readonly options: { readonly protocolVersion?: number };
  publish(topic: string, message: Buffer, options: MqttPublishOptions, callback: (error?: Error) => void): unknown;
}

export interface MqttRelayOptions {
  /** The topic of each job's message, with `{topic}` and `{key}` replaced by the job's: `"orders/{topic}"`. */
  readonly topic: string;
  /** Put before every message id (see the message contract in docs/relays.md). Default: none. */
  readonly idPrefix?: string;
  /** How long to wait for each publish's PUBACK, ms; a publish not acknowledged by then is retried. Default 10000. */
  readonly ackTimeout?: number;
}

// PUBACK reason codes no retry changes: topic name invalid, packet too large, payload format invalid.
const refusedForGood = new Set([0x90, 0x95, 0x99]);

/**
 * A consumer handler that publishes each job at QoS 1 with the contract's headers as MQTT 5
 * user properties (the message id as `message-id`), all of a call's publishes outstanding at
 * once, and reports a job done only once the broker acknowledged it (PUBACK). MQTT has no
 * deduplication: a job published again (an unacknowledged publish retried, a batch delivered
 * again after a crash) arrives again, with the same `message-id` for subscribers to
 * deduplicate on.
 */
export function mqttRelay(client: MqttPublisher, options: MqttRelayOptions): Handler<unknown> {
  if (client?.options?.protocolVersion !== 5) {
    throw new InvalidOptionError(
      "client",
      "expected an MQTT 5 connection (protocolVersion: 5): the message's headers are user properties, which MQTT 3.1.1 lacks",
    );
  }
  const ackTimeout = options?.ackTimeout ?? 10_000;
  if (!Number.isInteger(ackTimeout) || ackTimeout < 1) {
    throw new InvalidOptionError("ackTimeout", "expected a whole number of milliseconds, at least 1");
  }
  const publish = (messages: readonly RelayMessage[]): Promise<PublishOutcome[]> =>
    Promise.all(messages.map((message) => publishOne(client, message, ackTimeout)));
  return relayHandler(publish, { destination: options?.topic, idPrefix: options?.idPrefix });
}

function publishOne(client: MqttPublisher, message: RelayMessage, ackTimeout: number): Promise<PublishOutcome> {
  const invalid = invalidTopic(message.destination);
  if (invalid) return Promise.resolve({ ok: false, error: new Error(invalid), permanent: true });
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ ok: false, error: new Error(`no PUBACK within ${ackTimeout} ms`), permanent: false }),
      ackTimeout,
    );
    const settle = (error?: Error) => {
      clearTimeout(timer);
      if (!error) return resolve({ ok: true });
      const code = (error as { code?: unknown }).code;
      resolve({ ok: false, error, permanent: typeof code === "number" && refusedForGood.has(code) });
    };
    try {
      client.publish(message.destination, Buffer.from(message.body), mqttPublishOptions(message), settle);
    } catch (error) {
      settle(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

/** Why `topic` cannot be published to, or undefined: no wildcards, no NUL, 1 to 65,535 bytes. */
function invalidTopic(topic: string): string | undefined {
  const refusal = `"${topic}" is not a topic to publish to`;
  if (/[+#]/.test(topic) || topic.includes("\0")) return `${refusal}: it holds +, # or NUL`;
  const bytes = Buffer.byteLength(topic);
  if (bytes === 0 || bytes > 65_535) return `${refusal}: 1 to 65,535 bytes`;
  return undefined;
}
