/**
 * Attribute names and values of the OpenTelemetry semantic conventions for messaging that the
 * library sets, and its own (`poutbox.*`). Written out here rather than imported from
 * `@opentelemetry/semantic-conventions`, which would be one more dependency for a few strings.
 */
export const messaging = {
  system: "messaging.system",
  operationName: "messaging.operation.name",
  operationType: "messaging.operation.type",
  destinationName: "messaging.destination.name",
  messageId: "messaging.message.id",
  batchCount: "messaging.batch.message_count",
  consumerGroup: "messaging.consumer.group.name",
  errorType: "error.type",
} as const;

export const poutboxAttributes = {
  schema: "poutbox.schema",
  consumer: "poutbox.consumer",
  attempt: "poutbox.job.attempt",
  key: "poutbox.job.key",
  deadLetter: "poutbox.job.dead_letter",
  outcome: "poutbox.outcome",
} as const;

/** `messaging.system`: no registered value fits an outbox table, so the library's name. */
export const systemName = "poutbox";
