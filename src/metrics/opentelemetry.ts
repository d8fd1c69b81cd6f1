/**
 * `poutbox/opentelemetry`: the outbox's figures as OpenTelemetry metrics. Needs the optional
 * peer dependency `@opentelemetry/api`.
 *
 * @example
 * ```ts
 * import { observeOutbox } from "poutbox/opentelemetry";
 *
 * observeOutbox(pool, { schema: "poutbox" });
 * ```
 *
 * @module
 */
export { type ObserveOutboxOptions, type OutboxObservation, observeOutbox } from "./observe-outbox.js";
export type { MetricSample, OutboxMetric, OutboxMetricDescriptor } from "./outbox-metrics.js";
export { outboxMetricDescriptors, outboxMetrics } from "./outbox-metrics.js";
