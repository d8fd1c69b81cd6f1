import type { OutboxMetricDescriptor } from "./outbox-metrics.js";

// OpenTelemetry names to Prometheus names: dots to underscores, the unit as a suffix where
// Prometheus names one (`_seconds`, `_bytes`; a count in braces or the flag `1` adds nothing).
// Exporters of OpenTelemetry metrics translate much the same way, with differences of their
// own (a `_ratio` suffix for unit `1`, in some), so the names of what observeOutbox() exports
// are the exporter's to say.

const unitSuffixes: Readonly<Record<string, string>> = { s: "seconds", By: "bytes" };

/** `poutbox.consumer.lag` (unit `s`) -> `poutbox_consumer_lag_seconds`; `prefix` goes before it. */
export function prometheusName(metric: Pick<OutboxMetricDescriptor, "name" | "unit">, prefix = ""): string {
  const suffix = unitSuffixes[metric.unit];
  const name = metric.name.replace(/\./g, "_");
  return `${prefix}${suffix && !name.endsWith(`_${suffix}`) ? `${name}_${suffix}` : name}`;
}

/** `poutbox.slot.wal_status` -> `poutbox_slot_wal_status`. */
export function prometheusLabel(attribute: string): string {
  return attribute.replace(/\./g, "_");
}

/** A valid start of a metric name, or nothing: letters, digits, underscores and colons, not starting with a digit. */
export const prometheusPrefixPattern = /^([A-Za-z_:][A-Za-z0-9_:]*)?$/;
