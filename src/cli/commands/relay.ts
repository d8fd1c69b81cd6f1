import { type Command, Option } from "commander";
import pg from "pg";
import { Consumer } from "../../consumer/consumer.js";
import type { Handler } from "../../consumer/handler.js";
import { parsePositiveInteger } from "../common/arguments.js";
import { CommandError } from "../common/cli-errors.js";
import { type ConnectionOptions, databaseUrl } from "../common/connection.js";
import { connectionOptions } from "../common/shared-options.js";
import { brokerLink } from "./relay-broker-link.js";

interface RelayOptions extends ConnectionOptions {
  readonly name?: string;
  readonly mode: "polling" | "replication";
  readonly ordering: "key" | "none";
  readonly batchSize?: number;
  readonly maxAttempts: number;
  readonly backoffMax: number;
  readonly subscribe?: string[];
  readonly idPrefix?: string;
}

/** A broker connection, open: the relay's handler on it, and how to let go of it. */
interface OpenRelay {
  /** Throws InvalidOptionError for a bad template, after which the connection is closed. */
  handler(): Handler<unknown>;
  close(): Promise<void>;
}

/**
 * The options every relay takes: those of the consumer that runs it. A broker that is down or
 * refuses for a while is waited for, not given up on, so a job's publishes have no practical
 * limit by default; what a broker refuses for good goes to dead letter at once whatever the count.
 */
function relayOptions(command: Command, broker: string): Command {
  return connectionOptions(command)
    .option("--name <consumer>", `the relay's consumer name (its own progress) [default: relay-${broker}]`)
    .addOption(new Option("--mode <mode>", "how jobs are read").choices(["polling", "replication"]).default("polling"))
    .addOption(
      new Option("--ordering <ordering>", "key: one key's messages in commit order, through retries")
        .choices(["key", "none"])
        .default("key"),
    )
    .option("--batch-size <n>", "jobs per handler call [default: the consumer's]", parsePositiveInteger)
    .option("--max-attempts <n>", "publishes of a job before it goes to dead letter", parsePositiveInteger, 1_000_000)
    .option("--backoff-max <ms>", "longest wait between two publishes of a job", parsePositiveInteger, 30_000)
    .option("--subscribe <topics...>", "relay only these topics (names, or patterns such as order.*)")
    .option("--id-prefix <prefix>", "put before every message id (when several outboxes share a destination)");
}

export function defineRelay(command: Command): void {
  command.description("publish the outbox's jobs to a broker until stopped (SIGTERM or Ctrl-C); see docs/relays.md");

  relayOptions(command.command("nats"), "nats")
    .description("into NATS JetStream: each job stored once (Nats-Msg-Id)")
    .option("--nats-url <servers>", "NATS server(s), comma-separated", "127.0.0.1:4222")
    .requiredOption("--subject <template>", "subject of each message, with {topic} and {key}: orders.{topic}")
    .action((options: RelayOptions & { natsUrl: string; subject: string }) =>
      runRelay(options, "nats", async () => {
        const { connect } = await peer<typeof import("@nats-io/transport-node")>("@nats-io/transport-node", "nats");
        const { jetstream } = await peer<typeof import("@nats-io/jetstream")>("@nats-io/jetstream", "nats");
        const { natsRelay } = await import("../../relays/nats.js");
        // Reconnects without end (the client's default gives up after ten tries, about 20 s).
        const nc = await connect({ servers: options.natsUrl.split(","), maxReconnectAttempts: -1 });
        const link = brokerLink("nats");
        void (async () => {
          for await (const status of nc.status()) {
            if (status.type === "disconnect") link.lost(new Error(`disconnected from ${status.server}`));
            else if (status.type === "error") link.lost(status.error);
            else if (status.type === "reconnect") link.back();
          }
        })().catch(() => undefined);
        return {
          handler: () => natsRelay(jetstream(nc), { subject: options.subject, idPrefix: options.idPrefix }),
          close: () => nc.drain(),
        };
      }),
    );

  relayOptions(command.command("rabbitmq"), "rabbitmq")
    .description("into RabbitMQ: persistent messages, publisher confirms, at least once")
    .option("--amqp-url <url>", "AMQP URL", "amqp://guest:guest@127.0.0.1:5672")
    .requiredOption("--exchange <name>", 'the exchange ("" for the default exchange)')
    .requiredOption("--routing-key <template>", "routing key of each message, with {topic} and {key}")
    .action((options: RelayOptions & { amqpUrl: string; exchange: string; routingKey: string }) =>
      runRelay(options, "rabbitmq", async () => {
        const amqp = await peer<typeof import("amqplib")>("amqplib", "rabbitmq");
        const { rabbitmqRelay } = await import("../../relays/rabbitmq.js");
        // Recovering: the connection comes back by itself after the broker or network went away,
        // trying again at most every 2 s (amqplib's own cap is 30 s), and a try that the broker
        // does not answer is dropped after --connect-timeout instead of waited on for good.
        // Not waited for inside connect(): the listeners go on first, so that the tries of a
        // broker that is not there yet at start are said too.
        const connection = await amqp.connect(options.amqpUrl, {
          recovery: { maxDelay: 2_000, waitForConnect: false },
          timeout: options.connectTimeout * 1000,
        });
        const link = brokerLink("rabbitmq");
        connection.on("error", link.lost);
        connection.on("disconnect", link.lost);
        connection.on("connect-failed", link.lost);
        connection.on("connect", link.back);
        connection.on("blocked", link.blocked);
        connection.on("unblocked", link.unblocked);
        await connection.waitForConnect();
        return {
          handler: () =>
            rabbitmqRelay(connection, {
              exchange: options.exchange,
              routingKey: options.routingKey,
              idPrefix: options.idPrefix,
            }),
          close: () => connection.close(),
        };
      }),
    );

  relayOptions(command.command("redis"), "redis")
    .description("into Redis Streams: each job added once (a dedup mark written with the entry)")
    .option("--redis-url <url>", "Redis URL", "redis://127.0.0.1:6379")
    .requiredOption("--stream <template>", "stream of each entry, with {topic} and {key}: orders:{topic}")
    .option("--dedup-window <seconds>", "how long a message id is remembered", parsePositiveInteger)
    .action((options: RelayOptions & { redisUrl: string; stream: string; dedupWindow?: number }) =>
      runRelay(options, "redis", async () => {
        const { createClient } = await peer<typeof import("redis")>("redis", "redis");
        const { redisStreamsRelay } = await import("../../relays/redis-streams.js");
        const client = createClient({ url: options.redisUrl });
        const link = brokerLink("redis");
        client.on("error", link.lost);
        client.on("ready", link.back);
        await client.connect();
        return {
          handler: () =>
            redisStreamsRelay(client, {
              stream: options.stream,
              idPrefix: options.idPrefix,
              dedupWindow: options.dedupWindow,
            }),
          close: async () => client.destroy(),
        };
      }),
    );

  defineMqttRelay(command);
}

function defineMqttRelay(command: Command): void {
  relayOptions(command.command("mqtt"), "mqtt")
    .description("into an MQTT 5 broker at QoS 1: at least once, acknowledged (PUBACK)")
    .option("--mqtt-url <url>", "MQTT URL", "mqtt://127.0.0.1:1883")
    .requiredOption("--topic <template>", "topic of each message, with {topic} and {key}: orders/{topic}")
    .action((options: RelayOptions & { mqttUrl: string; topic: string }) =>
      runRelay(options, "mqtt", async () => {
        const mqtt = await peer<typeof import("mqtt")>("mqtt", "mqtt");
        const { mqttRelay } = await import("../../relays/mqtt.js");
        // Reconnects by itself (every second) and sends unacknowledged QoS 1 messages again.
        const client = await mqtt.connectAsync(options.mqttUrl, { protocolVersion: 5 });
        const link = brokerLink("mqtt");
        client.on("error", link.lost);
        client.on("offline", () => link.lost(new Error("connection lost")));
        client.on("connect", link.back);
        return {
          handler: () => mqttRelay(client, { topic: options.topic, idPrefix: options.idPrefix }),
          close: () => client.endAsync(),
        };
      }),
    );
}

/** The broker's client, an optional peer dependency: said plainly when it is not installed. */
async function peer<Module>(name: string, broker: string): Promise<Module> {
  try {
    return (await import(name)) as Module;
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_MODULE_NOT_FOUND") {
      throw new CommandError(`the ${broker} relay needs the package ${name}: npm install ${name}`);
    }
    throw error;
  }
}

async function runRelay(options: RelayOptions, broker: string, open: () => Promise<OpenRelay>): Promise<void> {
  const name = options.name ?? `relay-${broker}`;
  const pool = new pg.Pool({
    connectionString: databaseUrl(options),
    connectionTimeoutMillis: options.connectTimeout * 1000,
    application_name: `poutbox-relay-${broker}`,
  });
  pool.on("error", () => {});
  const relay = await open();
  let consumer: Consumer<unknown>;
  try {
    consumer = new Consumer(pool, relay.handler(), {
      schema: options.schema,
      name,
      mode: options.mode,
      ordering: options.ordering,
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      maxAttempts: options.maxAttempts,
      backoff: { max: options.backoffMax },
      ...(options.subscribe === undefined ? {} : { subscribe: options.subscribe }),
    });
  } catch (error) {
    // A bad template or option: let go of the broker and the pool, or the process would not exit.
    await relay.close().catch(() => undefined);
    await pool.end();
    throw error;
  }
  try {
    await consumer.start();
    process.stderr.write(`poutbox: relaying into ${broker} as consumer "${name}"; SIGTERM or Ctrl-C stops it\n`);
    const signal = await new Promise<string>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
    });
    process.stderr.write(`poutbox: ${signal}: finishing the batch in hand, then stopping\n`);
  } finally {
    await consumer.stop();
    await relay.close().catch(() => undefined);
    await pool.end();
  }
}
