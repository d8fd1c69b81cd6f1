import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { metrics } from "@opentelemetry/api";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { SentCounter } from "./instruments.js";

async function sentPoints(reader: PeriodicExportingMetricReader): Promise<Map<string, number>> {
  const { resourceMetrics } = await reader.collect();
  const points = new Map<string, number>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== "messaging.client.sent.messages") continue;
      for (const point of metric.dataPoints) points.set(JSON.stringify(point.attributes), point.value as number);
    }
  }
  return points;
}

describe("SentCounter", () => {
  it("reports each series' running total when collected, and folds series past its limit into one", async () => {
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const provider = new MeterProvider({ readers: [reader] });
    try {
      const sent = new SentCounter(provider.getMeter("test"));
      sent.add(1, "a", { topic: "a" });
      sent.add(1000, "b", { topic: "b" });
      sent.add(2, "a", { topic: "a" });
      let points = await sentPoints(reader);
      assert.equal(points.get(JSON.stringify({ topic: "a" })), 3);
      assert.equal(points.get(JSON.stringify({ topic: "b" })), 1000);
      sent.add(1, "a", { topic: "a" });
      points = await sentPoints(reader);
      assert.equal(points.get(JSON.stringify({ topic: "a" })), 4, "a running total, not the last add");

      for (let index = 0; index < 2100; index++) sent.add(1, `t${index}`, { topic: `t${index}` });
      points = await sentPoints(reader);
      const overflow = points.get(JSON.stringify({ "otel.metric.overflow": true }));
      // 1,999 series and the overflow one (the SDK's limit, 2,000): a and b, then 1,997 of the
      // t series; the other 103 fold into one.
      assert.equal(overflow, 103);
      assert.equal(points.get(JSON.stringify({ topic: "t1996" })), 1);
      assert.equal(points.get(JSON.stringify({ topic: "t1997" })), undefined);
      assert.equal(points.size, 2000);
      sent.add(5, "a", { topic: "a" });
      assert.equal((await sentPoints(reader)).get(JSON.stringify({ topic: "a" })), 9, "known series still count");
    } finally {
      await provider.shutdown();
      metrics.disable();
    }
  });
});
