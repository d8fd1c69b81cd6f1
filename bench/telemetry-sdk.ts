// The OpenTelemetry SDK of the telemetry scenario, registered in a child process as an
// application registers it at start: spans through a BatchSpanProcessor, metrics read every
// second, both kept in memory (emptied every second so that memory stays bounded), W3C trace
// context and baggage propagation, async-hooks context.
import { context, metrics, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { BatchSpanProcessor, InMemorySpanExporter, TracerProvider } from "@opentelemetry/sdk-trace";
import type { Telemetry } from "./tasks/task.js";

export interface RegisteredSdk {
  /** Exports what is pending, unregisters the SDK and says how much it exported in all. */
  finish(): Promise<Telemetry>;
}

/** Registers the SDK globally, for the whole process. Call it before the library does anything. */
export function registerTelemetrySdk(): RegisteredSdk {
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    // Defaults: a queue of 2,048 spans, exported 512 at a time or every 5 s.
    spanProcessors: [new BatchSpanProcessor({ exporter: spanExporter })],
  });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 1000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);

  let spans = 0;
  let metricExports = 0;
  let metricPoints = 0;
  const empty = () => {
    spans += spanExporter.getFinishedSpans().length;
    spanExporter.reset();
    for (const resourceMetrics of metricExporter.getMetrics()) {
      metricExports++;
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) metricPoints += metric.dataPoints.length;
      }
    }
    metricExporter.reset();
  };
  const timer = setInterval(empty, 1000);
  timer.unref();
  return {
    async finish() {
      clearInterval(timer);
      await tracerProvider.forceFlush();
      await reader.forceFlush();
      empty();
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
      trace.disable();
      metrics.disable();
      propagation.disable();
      context.disable();
      return { spans, metricExports, metricPoints };
    },
  };
}
