import type { Attributes, Span } from "@opentelemetry/api";
import { messaging } from "./attributes.js";
import type { OtelApi } from "./otel-api.js";

/** `error.type`: the SQLSTATE of a database error, or the library's error code, else the error's class name. */
export function errorType(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === "string") return code;
  return (error as Error)?.name ?? "Error";
}

/**
 * Marks `span` failed by `error`: the exception event and an error status; with `metric`, the
 * attributes its duration is recorded with, also `error.type`, on the span and on them.
 */
export function recordFailure(api: OtelApi, span: Span, error: unknown, metric?: Attributes): void {
  if (metric) {
    const type = errorType(error);
    metric[messaging.errorType] = type;
    span.setAttribute(messaging.errorType, type);
  }
  span.recordException(error as Error);
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: (error as Error)?.message });
}
