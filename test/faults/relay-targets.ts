import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import amqp from "amqplib";
import mqtt from "mqtt";
import { createClient } from "redis";
import { relayHeaders } from "../../src/relays/relay-message.js";
import type { PrivateBroker } from "./brokers.js";

/**
 * Where a scenario's relay publishes on one of the suite's brokers, and what arrived there:
 * the job id of every message, in the broker's order, duplicates included. Reading survives
 * the broker going away (it answers with what it read so far) and coming back.
 */
export interface RelayTarget {
  /** `poutbox relay <broker> ...` arguments that publish here, through `port`. */
  args(port: number): string[];
  /** Every job id received so far, in the order the broker holds them. */
  ids(): Promise<bigint[]>;
  close(): Promise<void>;
}

const idOf = (value: unknown): bigint => BigInt(String(value));

/** A file-stored stream (it survives a restart) taking the subject `<name>.events`. */
async function natsTarget(broker: PrivateBroker, name: string): Promise<RelayTarget> {
  const nc = await connect({ servers: `127.0.0.1:${broker.port}`, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects: [`${name}.>`], storage: "file" as never });
  const ids: bigint[] = [];
  let next = 1;
  return {
    args: (port) => ["nats", "--nats-url", `127.0.0.1:${port}`, "--subject", `${name}.events`],
    async ids() {
      try {
        const { state } = await jsm.streams.info(name);
        for (; next <= state.last_seq; next++) {
          const message = await jsm.streams.getMessage(name, { seq: next });
          if (message) ids.push(idOf(message.header?.get(relayHeaders.id)));
        }
      } catch {
        // The server is away (a restart): what was read so far.
      }
      return ids;
    },
    async close() {
      await jsm.streams.delete(name).catch(() => undefined);
      await nc.close();
    },
  };
}

/** One stream, read from the entry after the last one read. */
async function redisTarget(broker: PrivateBroker, name: string): Promise<RelayTarget> {
  const client = createClient({ url: `redis://127.0.0.1:${broker.port}` });
  client.on("error", () => {});
  await client.connect();
  const ids: bigint[] = [];
  let after = "-";
  return {
    args: (port) => ["redis", "--redis-url", `redis://127.0.0.1:${port}`, "--stream", name],
    async ids() {
      try {
        for (;;) {
          const entries = await client.xRange(name, after, "+", { COUNT: 1000 });
          if (!entries || entries.length === 0) break;
          for (const entry of entries) ids.push(idOf(entry.message[relayHeaders.id]));
          after = `(${entries[entries.length - 1]?.id}`;
        }
      } catch {
        // Redis is away (a restart): what was read so far.
      }
      return ids;
    },
    async close() {
      await client.del(name).catch(() => undefined);
      client.destroy();
    },
  };
}

/** A durable queue (persistent messages in it survive a restart), taken off as it is read. */
async function rabbitmqTarget(broker: PrivateBroker, name: string): Promise<RelayTarget> {
  const url = `amqp://guest:guest@127.0.0.1:${broker.port}`;
  const setup = await amqp.connect(url);
  await (await setup.createChannel()).assertQueue(name, { durable: true });
  await setup.close();
  const ids: bigint[] = [];
  return {
    args: (port) => [
      "rabbitmq",
      "--amqp-url",
      `amqp://guest:guest@127.0.0.1:${port}`,
      "--exchange",
      "",
      "--routing-key",
      name,
    ],
    async ids() {
      // A connection per read: one kept open would have to come back after a restart.
      const connection = await amqp.connect(url).catch(() => undefined);
      if (!connection) return ids;
      connection.on("error", () => {});
      try {
        const channel = await connection.createChannel();
        for (;;) {
          const message = await channel.get(name, { noAck: true });
          if (message === false) break;
          ids.push(idOf(message.properties.headers?.[relayHeaders.id]));
        }
      } catch {
        // The broker went away while reading: what was read so far.
      } finally {
        await connection.close().catch(() => undefined);
      }
      return ids;
    },
    async close() {
      const connection = await amqp.connect(url).catch(() => undefined);
      if (!connection) return;
      await (await connection.createChannel()).deleteQueue(name).catch(() => undefined);
      await connection.close().catch(() => undefined);
    },
  };
}

/**
 * A QoS 1 subscriber, connected before the relay starts and straight to the broker (not
 * through the scenario's proxy): MQTT keeps nothing for a topic nobody subscribes to.
 */
async function mqttTarget(broker: PrivateBroker, name: string): Promise<RelayTarget> {
  const subscriber = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 5 });
  subscriber.on("error", () => {});
  const ids: bigint[] = [];
  subscriber.on("message", (_, __, packet) => {
    const value = packet.properties?.userProperties?.[relayHeaders.id];
    ids.push(idOf(Array.isArray(value) ? value[0] : value));
  });
  await subscriber.subscribeAsync(`${name}/#`, { qos: 1 });
  return {
    args: (port) => ["mqtt", "--mqtt-url", `mqtt://127.0.0.1:${port}`, "--topic", `${name}/events`],
    ids: async () => ids,
    close: () => subscriber.endAsync(true),
  };
}

export function relayTarget(broker: PrivateBroker, name: string): Promise<RelayTarget> {
  if (broker.kind === "nats") return natsTarget(broker, name);
  if (broker.kind === "mqtt") return mqttTarget(broker, name);
  if (broker.kind === "redis") return redisTarget(broker, name);
  return rabbitmqTarget(broker, name);
}
