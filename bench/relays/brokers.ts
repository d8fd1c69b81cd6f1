import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect, headers as natsHeaders } from "@nats-io/transport-node";
import amqp from "amqplib";
import mqtt from "mqtt";
import { createClient } from "redis";
import type { Handler } from "../../src/index.js";
import { mqttRelay } from "../../src/relays/mqtt.js";
import { mqttPublishOptions } from "../../src/relays/mqtt-publish-options.js";
import { natsRelay } from "../../src/relays/nats.js";
import { rabbitmqRelay } from "../../src/relays/rabbitmq.js";
import { addOnceCall, addOnceScript } from "../../src/relays/redis-add-once.js";
import { redisStreamsRelay } from "../../src/relays/redis-streams.js";

const encoder = new TextEncoder();

export const brokerNames = ["nats", "rabbitmq", "redis", "mqtt"] as const;
export type BrokerName = (typeof brokerNames)[number];

export const brokerUrls: Record<BrokerName, string> = {
  nats: process.env.POUTBOX_NATS_URL ?? "127.0.0.1:4222",
  rabbitmq: process.env.POUTBOX_RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672",
  redis: process.env.POUTBOX_REDIS_URL ?? "redis://127.0.0.1:6379",
  mqtt: process.env.POUTBOX_MQTT_URL ?? "mqtt://127.0.0.1:1883",
};

/** One message as both publishers send it: the relay's contract, built here for the raw one. */
export interface RawMessage {
  readonly id: string;
  readonly body: string;
  readonly headers: Record<string, string>;
}

/**
 * A broker for one measurement: the relay handler into `name` (a stream, an exchange and its
 * durable queue, a Redis stream), and a raw publisher into the same with the same settings
 * (message ids, persistence, confirms), sending a window of messages with every publish
 * outstanding and waiting for all the broker's answers. Opened fresh for each measurement (the
 * destination made empty) and removed by close().
 */
export interface Broker {
  relay(): Handler<unknown>;
  publishRaw(messages: readonly RawMessage[]): Promise<void>;
  close(): Promise<void>;
}

export async function openBroker(broker: BrokerName, name: string): Promise<Broker> {
  switch (broker) {
    case "nats":
      return openNats(name);
    case "rabbitmq":
      return openRabbitmq(name);
    case "redis":
      return openRedis(name);
    case "mqtt":
      return openMqtt(name);
  }
}

async function openNats(name: string): Promise<Broker> {
  const nc = await natsConnect({ servers: brokerUrls.nats });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const create = () => jsm.streams.add({ name, subjects: [`${name}.>`], duplicate_window: 120_000_000_000 });
  await jsm.streams.delete(name).catch(() => undefined);
  await create();
  return {
    relay: () => natsRelay(js, { subject: `${name}.orders` }),
    async publishRaw(messages) {
      await Promise.all(
        messages.map((message) => {
          const headers = natsHeaders();
          for (const [key, value] of Object.entries(message.headers)) headers.set(key, value);
          return js.publish(`${name}.orders`, encoder.encode(message.body), { msgID: message.id, headers });
        }),
      );
    },
    async close() {
      await jsm.streams.delete(name).catch(() => undefined);
      await nc.close();
    },
  };
}

async function openRabbitmq(name: string): Promise<Broker> {
  const connection = await amqp.connect(brokerUrls.rabbitmq);
  const admin = await connection.createChannel();
  await admin.assertExchange(name, "topic", { durable: true });
  await admin.assertQueue(name, { durable: true });
  await admin.bindQueue(name, name, "#");
  const raw = await connection.createConfirmChannel();
  return {
    relay: () => rabbitmqRelay(connection, { exchange: name, routingKey: "orders" }),
    async publishRaw(messages) {
      for (const message of messages) {
        const room = raw.publish(name, "orders", Buffer.from(message.body), {
          messageId: message.id,
          headers: message.headers,
          persistent: true,
          mandatory: true,
          contentType: "application/json",
        });
        if (!room) await new Promise((resolve) => raw.once("drain", resolve));
      }
      await raw.waitForConfirms();
    },
    async close() {
      await admin.deleteQueue(name).catch(() => undefined);
      await admin.deleteExchange(name).catch(() => undefined);
      await connection.close();
    },
  };
}

async function openRedis(name: string): Promise<Broker> {
  const client = await createClient({ url: brokerUrls.redis }).connect();
  const stream = `${name}:orders`;
  const clear = async () => {
    const keys = await client.keys(`${name}:*`);
    if (keys.length > 0) await client.del(keys);
  };
  await clear();
  // The relay's own script and fields: the raw publisher pays what the relay pays per entry.
  const sha = await client.scriptLoad(addOnceScript);
  return {
    relay: () => redisStreamsRelay(client, { stream }),
    async publishRaw(messages) {
      await Promise.all(messages.map((message) => client.evalSha(sha, addOnceCall(stream, message, 86_400, 0))));
    },
    async close() {
      await clear();
      client.destroy();
    },
  };
}

/** QoS 1 on an MQTT 5 connection, each publish acknowledged (PUBACK) by the broker. */
async function openMqtt(name: string): Promise<Broker> {
  const client = await mqtt.connectAsync(brokerUrls.mqtt, { protocolVersion: 5 });
  const topic = `${name}/orders`;
  return {
    relay: () => mqttRelay(client, { topic }),
    async publishRaw(messages) {
      await Promise.all(
        messages.map((message) => client.publishAsync(topic, Buffer.from(message.body), mqttPublishOptions(message))),
      );
    },
    async close() {
      await client.endAsync();
    },
  };
}

/** Whether the broker takes connections (a benchmark without it skips its rows). */
export async function brokerReachable(broker: BrokerName): Promise<boolean> {
  try {
    const opened = await openBroker(broker, `poutbox_bench_probe_${process.pid}`);
    await opened.close();
    return true;
  } catch {
    return false;
  }
}
