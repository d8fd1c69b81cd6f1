import { context, metrics, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";

/** A data point of a collected metric: its attributes and value (a number, or a histogram's count and sum). */
export interface Point {
  readonly attributes: Record<string, unknown>;
  readonly value: number | { count: number; sum?: number };
}

/**
 * Registers an OpenTelemetry SDK for the whole process, as an application would at start:
 * W3C trace context and baggage propagation, async-hooks context, spans kept in memory,
 * metrics collected on demand. Registration is global, so a test file calls it once.
 */
export function registerSdk() {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] });
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return {
    tracer: trace.getTracer("test"),
    /** The spans ended so far. */
    spans: (): ReadableSpan[] => spans.getFinishedSpans(),
    /** Every data point of the metric `name`, as of now. */
    async points(name: string): Promise<Point[]> {
      const { resourceMetrics } = await reader.collect();
      const found: Point[] = [];
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          if (metric.descriptor.name !== name) continue;
          for (const point of metric.dataPoints) {
            found.push({ attributes: point.attributes, value: point.value as Point["value"] });
          }
        }
      }
      return found;
    },
  };
}

/** The sum of the points whose attributes include `match` (histograms: their counts). */
export function total(points: readonly Point[], match: Record<string, unknown> = {}): number {
  return points
    .filter((point) => Object.entries(match).every(([name, value]) => point.attributes[name] === value))
    .reduce((sum, point) => sum + (typeof point.value === "number" ? point.value : point.value.count), 0);
}
