import type { RelayMessage } from "./relay-message.js";

/** The user property that carries the message id (MQTT has no message id of its own). */
export const mqttMessageIdProperty = "message-id";

/** How a message is published over MQTT 5, shared by the relay and the benchmark's raw publisher. */
export interface MqttPublishOptions {
  qos: 1;
  properties: { userProperties: Record<string, string>; contentType: string; payloadFormatIndicator: boolean };
}

/** QoS 1, the contract's headers and the message id as user properties, the payload marked UTF-8 JSON. */
export function mqttPublishOptions(message: Pick<RelayMessage, "id" | "headers">): MqttPublishOptions {
  return {
    qos: 1,
    properties: {
      userProperties: { ...message.headers, [mqttMessageIdProperty]: message.id },
      contentType: "application/json",
      payloadFormatIndicator: true,
    },
  };
}
