import { type BatchObservableCallback, type Meter, metrics, type ObservableGauge } from "@opentelemetry/api";
import { InvalidOptionError } from "../core/errors.js";
import { asLogger, defaultLogger, type Logger } from "../core/logger.js";
import type { ConnectionSource } from "../database/queryable.js";
import { resolveSchema } from "../schema/schema-name.js";
import { metricsReader } from "./metrics-reader.js";
import { outboxMetricDescriptors } from "./outbox-metrics.js";

export interface ObserveOutboxOptions {
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
  /** Where the gauges are registered. Default `metrics.getMeter("poutbox")`: the global MeterProvider's. */
  readonly meter?: Meter;
  /** Where a failed read is reported. Default `consoleLogger("warn")`. */
  readonly logger?: Logger;
}

/** What observeOutbox() registered. */
export interface OutboxObservation {
  /** Removes the callback: no more reads, no more values. The gauges stay registered on the meter (the API cannot remove them). */
  stop(): void;
}

/**
 * Reports the outbox's figures to OpenTelemetry: one observable gauge per metric of
 * outboxMetrics() (`poutbox.consumer.pending_jobs`, `poutbox.consumer.lag`...), all fed by one
 * batch callback that reads status() once per collection. Nothing is read between
 * collections, so the cost is one status() per export interval (it counts each consumer's
 * backlog row by row). A read that fails (the database down) is logged and reports nothing
 * for that collection; it never throws into the SDK. Under cumulative temporality (the
 * default) the JavaScript SDK goes on exporting the last value of every attribute set it was
 * once given, so a consumer removed, or a collection that read nothing, leaves its last values
 * in place; `poutbox.consumer.slot.wal_status` reports every status (1 or 0) for that reason.
 *
 * @throws {InvalidOptionError} for a bad schema name or a `meter` that is not a Meter.
 * @example
 * ```ts
 * import { observeOutbox } from "poutbox/opentelemetry";
 *
 * // With a MeterProvider registered (the Node SDK, or metrics.setGlobalMeterProvider):
 * const observation = observeOutbox(pool, { schema: "poutbox" });
 * // ...on shutdown:
 * observation.stop();
 * ```
 */
export function observeOutbox(pool: ConnectionSource, options: ObserveOutboxOptions = {}): OutboxObservation {
  const { schema } = resolveSchema(options.schema);
  const meter = options.meter ?? metrics.getMeter("poutbox");
  if (typeof meter?.createObservableGauge !== "function" || typeof meter.addBatchObservableCallback !== "function") {
    throw new InvalidOptionError("meter", "expected an OpenTelemetry Meter (provider.getMeter(name))");
  }
  const read = metricsReader(pool, schema, asLogger(options.logger ?? defaultLogger));
  const gauges = new Map<string, ObservableGauge>(
    outboxMetricDescriptors.map((each) => [
      each.name,
      meter.createObservableGauge(each.name, { description: each.description, unit: each.unit }),
    ]),
  );
  const observables = [...gauges.values()];
  const callback: BatchObservableCallback = async (result) => {
    for (const metric of (await read()) ?? []) {
      const gauge = gauges.get(metric.name);
      if (!gauge) continue;
      for (const sample of metric.samples) result.observe(gauge, sample.value, sample.attributes);
    }
  };
  meter.addBatchObservableCallback(callback, observables);
  return { stop: () => meter.removeBatchObservableCallback(callback, observables) };
}
