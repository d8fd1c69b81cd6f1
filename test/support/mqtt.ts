import { randomBytes } from "node:crypto";
import mqtt from "mqtt";

/** The MQTT broker the relay tests publish to (Mosquitto; .ci/start-brokers starts it). */
export const mqttUrl = process.env.POUTBOX_MQTT_URL ?? "mqtt://127.0.0.1:1883";

export interface ReceivedMqttMessage {
  readonly topic: string;
  readonly properties: Record<string, string>;
  readonly contentType: string | undefined;
  readonly data: string;
}

/**
 * An MQTT 5 connection to publish with, and a subscriber at QoS 1 to every topic under a
 * prefix of its own, which keeps what arrives in order; `close()` ends both.
 */
export async function testTopics() {
  const prefix = `poutbox_test_${randomBytes(5).toString("hex")}`;
  const client = await mqtt.connectAsync(mqttUrl, { protocolVersion: 5 });
  const subscriber = await mqtt.connectAsync(mqttUrl, { protocolVersion: 5 });
  const received: ReceivedMqttMessage[] = [];
  subscriber.on("message", (topic, payload, packet) => {
    const properties: Record<string, string> = {};
    for (const [name, value] of Object.entries(packet.properties?.userProperties ?? {})) {
      properties[name] = Array.isArray(value) ? (value[0] ?? "") : value;
    }
    received.push({ topic, properties, contentType: packet.properties?.contentType, data: payload.toString("utf8") });
  });
  await subscriber.subscribeAsync(`${prefix}/#`, { qos: 1 });
  return {
    client,
    prefix,
    received,
    async close(): Promise<void> {
      await Promise.all([client.endAsync(true), subscriber.endAsync(true)]);
    },
  };
}
