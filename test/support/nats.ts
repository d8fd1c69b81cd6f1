import { randomBytes } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";

/** The NATS server with JetStream the relay tests publish to (.ci/start-brokers starts it). */
export const natsUrl = process.env.POUTBOX_NATS_URL ?? "127.0.0.1:4222";

export interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  readonly headers: Record<string, string>;
  readonly data: string;
}

/** A connection and a stream of its own (subjects `<prefix>.>`), deleted by `close()`. */
export async function testStream(
  config: { maxMsgSize?: number; duplicateWindowMs?: number; createNow?: boolean } = {},
) {
  const nc: NatsConnection = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  const name = `poutbox_test_${randomBytes(5).toString("hex")}`;
  const prefix = name;
  const create = () =>
    jsm.streams.add({
      name,
      subjects: [`${prefix}.>`],
      duplicate_window: (config.duplicateWindowMs ?? 120_000) * 1_000_000,
      ...(config.maxMsgSize === undefined ? {} : { max_msg_size: config.maxMsgSize }),
    });
  if (config.createNow !== false) await create();
  return {
    /** Creates the stream, for a test that started without it. */
    create,
    nc,
    js: jetstream(nc),
    name,
    prefix,
    /** Every message in the stream, in stream order. */
    async messages(): Promise<StoredMessage[]> {
      const info = await jsm.streams.info(name);
      const found: StoredMessage[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const message = await jsm.streams.getMessage(name, { seq });
        if (!message) continue;
        const headers: Record<string, string> = {};
        for (const [key, values] of message.header ?? []) headers[key] = values[0] ?? "";
        found.push({ seq, subject: message.subject, headers, data: message.string() });
      }
      return found;
    },
    async close(): Promise<void> {
      await jsm.streams.delete(name).catch(() => undefined);
      await nc.close();
    },
  };
}
