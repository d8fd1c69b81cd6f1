import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { metrics, trace } from "@opentelemetry/api";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { TracerProvider } from "@opentelemetry/sdk-trace";
import { otelInUse } from "./in-use.js";

describe("otelInUse", () => {
  it("is undefined while no SDK is registered, and the API once a tracer or a meter provider is", () => {
    assert.equal(otelInUse(), undefined);
    trace.setGlobalTracerProvider(new TracerProvider());
    try {
      assert.ok(otelInUse());
    } finally {
      trace.disable();
    }
    assert.equal(otelInUse(), undefined);
    metrics.setGlobalMeterProvider(new MeterProvider());
    try {
      assert.ok(otelInUse());
    } finally {
      metrics.disable();
    }
    assert.equal(otelInUse(), undefined);
  });
});
