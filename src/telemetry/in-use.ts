import { instruments } from "./instruments.js";
import { type OtelApi, otel, tracing } from "./otel-api.js";

/**
 * `@opentelemetry/api` when the application has registered an SDK to trace or measure with,
 * else undefined. With the API installed and no SDK registered, every span and instrument is a
 * no-op, and a job's handling (a call per job for a perJob handler) should not pay for making
 * them.
 */
export function otelInUse(): OtelApi | undefined {
  const api = otel;
  if (!api) return undefined;
  return tracing(api) || instruments() !== undefined ? api : undefined;
}
