import { randomBytes } from "node:crypto";
import amqp from "amqplib";

/** The RabbitMQ broker the relay tests publish to (.ci/start-brokers starts it). */
export const rabbitmqUrl = process.env.POUTBOX_RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672";

export interface ReceivedMessage {
  readonly routingKey: string;
  readonly messageId: string | undefined;
  readonly headers: Record<string, unknown>;
  readonly contentType: string | undefined;
  readonly deliveryMode: number | undefined;
  readonly data: string;
}

/**
 * A connection, a topic exchange of its own and (unless `bind: false`) a queue bound to every
 * routing key, all deleted by `close()`. `queueArguments` go to the queue's declaration.
 */
export async function testExchange(config: { bind?: boolean; queueArguments?: Record<string, unknown> } = {}) {
  const connection = await amqp.connect(rabbitmqUrl);
  const admin = await connection.createChannel();
  const name = `poutbox_test_${randomBytes(5).toString("hex")}`;
  await admin.assertExchange(name, "topic", { durable: false });
  const bind = async () => {
    await admin.assertQueue(name, { durable: false, arguments: config.queueArguments });
    await admin.bindQueue(name, name, "#");
  };
  if (config.bind !== false) await bind();
  const received: ReceivedMessage[] = [];
  return {
    connection,
    name,
    bind,
    /** Takes every message waiting in the queue; returns all taken so far, in queue order. */
    async messages(): Promise<ReceivedMessage[]> {
      for (;;) {
        const message = await admin.get(name, { noAck: true });
        if (message === false) return received;
        received.push({
          routingKey: message.fields.routingKey,
          messageId: message.properties.messageId,
          headers: message.properties.headers ?? {},
          contentType: message.properties.contentType,
          deliveryMode: message.properties.deliveryMode,
          data: message.content.toString("utf8"),
        });
      }
    },
    async close(): Promise<void> {
      await admin.deleteQueue(name).catch(() => undefined);
      await admin.deleteExchange(name).catch(() => undefined);
      await connection.close().catch(() => undefined);
    },
  };
}
