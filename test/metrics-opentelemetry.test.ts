// poutbox/opentelemetry: observeOutbox() reports the figures of status() as observable gauges,
// collected on demand through a real MeterProvider of @opentelemetry/sdk-metrics.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { type Meter, metrics } from "@opentelemetry/api";
import { DataPointType, MeterProvider, type MetricData, MetricReader } from "@opentelemetry/sdk-metrics";
import type { ConnectionSource, Logger } from "../src/index.js";
import { observeOutbox } from "../src/metrics/opentelemetry.js";
import { outboxMetricDescriptors } from "../src/metrics/outbox-metrics.js";
import { runWorkload, workload } from "./support/metrics-workload.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots, replicationConsumer } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

/** A reader that exports nowhere: the test collects when it wants. */
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** A MeterProvider of its own, and what one collection of it gives, metric by metric. */
function sdk() {
  const reader = new OnDemandReader();
  const provider = new MeterProvider({ readers: [reader] });
  after(() => provider.shutdown());
  return {
    meter: provider.getMeter("poutbox"),
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      assert.deepEqual(errors, [], "no collection error");
      const found = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) found.set(metric.descriptor.name, metric);
      }
      return {
        found,
        /** The values of metric `name`, by attribute text (`a=1,b=2`, sorted). */
        values(name: string): Record<string, number> {
          const metric = found.get(name);
          return Object.fromEntries(
            (metric?.dataPoints ?? []).map((point) => [attributeText(point.attributes), point.value as number]),
          );
        },
      };
    },
  };
}

function attributeText(attributes: Readonly<Record<string, unknown>>): string {
  return Object.entries(attributes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}=${String(value)}`)
    .join(",");
}

/** db.pool, counting the connections taken: status() takes one per read. */
function countingPool(): ConnectionSource & { connects: number } {
  const source = {
    connects: 0,
    connect: () => {
      source.connects++;
      return db.pool.connect();
    },
  };
  return source;
}

function keptLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (message: string) => lines.push(`${level}: ${message}`);
  return { lines, info: keep("info"), warn: keep("warn"), error: keep("error") };
}

describe("observeOutbox()", () => {
  it("reports the outbox's figures as gauges, one status read per collection", async () => {
    const { schema, client } = await db.freshSchema("otel_workload");
    const started = Date.now();
    await runWorkload(db, schema, client);
    const { meter, collect } = sdk();
    const pool = countingPool();
    const observation = observeOutbox(pool, { schema, meter });
    try {
      const { found, values } = await collect();
      const elapsed = Date.now() - started;
      assert.equal(pool.connects, 1, "one status() for every gauge of the collection");
      const mailer = `poutbox.consumer=${workload.consumer},poutbox.schema=${schema}`;
      const perSchema = `poutbox.schema=${schema}`;
      assert.deepEqual(values("poutbox.consumer.pending_jobs"), { [mailer]: workload.pendingJobs });
      assert.deepEqual(values("poutbox.consumer.retrying_jobs"), { [mailer]: workload.retrying });
      assert.deepEqual(values("poutbox.consumer.blocked_keys"), { [mailer]: workload.blockedKeys });
      assert.deepEqual(values("poutbox.consumer.jobs_behind_blocked_keys"), { [mailer]: workload.waitingBehindKeys });
      assert.deepEqual(values("poutbox.consumer.dead_letters"), { [mailer]: workload.deadLetters });
      assert.deepEqual(values("poutbox.consumer.held_outcomes"), { [mailer]: workload.heldOutcomes });
      assert.deepEqual(values("poutbox.consumer.leader"), { [mailer]: 0 });
      assert.deepEqual(values("poutbox.scheduled.jobs"), { [perSchema]: workload.scheduled.rows });
      assert.deepEqual(values("poutbox.scheduled.due_jobs"), { [perSchema]: workload.scheduled.due });
      assert.deepEqual(values("poutbox.failed.jobs"), { [perSchema]: workload.failed.rows });
      assert.deepEqual(values("poutbox.failed.due_jobs"), { [perSchema]: workload.failed.due });
      assert.deepEqual(values("poutbox.dead_letter.jobs"), { [perSchema]: workload.deadLetterRows });
      assert.deepEqual(values("poutbox.immediate.jobs"), { [perSchema]: workload.immediateRows });
      const lag = values("poutbox.consumer.lag")[mailer] ?? Number.NaN;
      assert.ok(lag > 0 && lag <= elapsed / 1000, `lag ${lag} s, workload ${elapsed} ms`);
      // No slot, no slot figures; and every gauge is described, with its unit.
      assert.deepEqual(values("poutbox.consumer.slot.retained_wal"), {});
      assert.deepEqual(values("poutbox.consumer.ack_lag"), {});
      const lagDescriptor = found.get("poutbox.consumer.lag")?.descriptor;
      assert.equal(lagDescriptor?.unit, "s");
      assert.match(lagDescriptor?.description ?? "", /oldest pending job/);
      assert.equal(found.get("poutbox.consumer.pending_jobs")?.descriptor.unit, "{job}");
      assert.equal(found.get("poutbox.consumer.pending_jobs")?.dataPointType, DataPointType.GAUGE);
      // Every collection reads again.
      await client.enqueue("one more");
      const again = await collect();
      assert.equal(pool.connects, 2);
      assert.deepEqual(again.values("poutbox.consumer.pending_jobs"), { [mailer]: workload.pendingJobs + 1 });
    } finally {
      observation.stop();
    }
    await collect();
    assert.equal(pool.connects, 2, "stopped: no more reads");
  });

  it("does not throw into the SDK while the database cannot be read; says so once, then that it recovered", async () => {
    const { schema, client } = await db.freshSchema("otel_down");
    await client.enqueueMany([1, 2]);
    let down = true;
    const pool: ConnectionSource = {
      connect: () => (down ? Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432")) : db.pool.connect()),
    };
    const logger = keptLogger();
    const { meter, collect } = sdk();
    const observation = observeOutbox(pool, { schema, meter, logger });
    try {
      for (const _ of [1, 2]) {
        // collect() asserts that the SDK saw no error.
        const { found } = await collect();
        assert.equal(found.size, 0, "nothing reported");
      }
      assert.deepEqual(logger.lines, ["error: metrics: cannot read the outbox status; no outbox metrics until it can"]);
      down = false;
      const { values } = await collect();
      assert.deepEqual(values("poutbox.immediate.jobs"), { [`poutbox.schema=${schema}`]: 2 });
      assert.equal(logger.lines.at(-1), "info: metrics: the outbox status can be read again");
    } finally {
      observation.stop();
    }
  });

  it("reports a replication consumer's slot", needs("logical-replication"), async () => {
    const { schema, client } = await db.freshSchema("otel_slot");
    const record = recorder();
    const consumer = replicationConsumer(db.pool, schema, record.handler, { name: "stream" });
    const { meter, collect } = sdk();
    const observation = observeOutbox(db.pool, { schema, meter });
    await consumer.start();
    try {
      await client.enqueueMany([1, 2]);
      await waitFor(() => record.deliveries.length === 2, { what: "two deliveries" });
      const attributes = `poutbox.consumer=stream,poutbox.schema=${schema}`;
      const { values } = await waitFor(
        async () => {
          const each = await collect();
          return each.values("poutbox.consumer.slot.active")[attributes] === 1 ? each : undefined;
        },
        { what: "an active slot" },
      );
      assert.deepEqual(values("poutbox.consumer.leader"), { [attributes]: 1 });
      assert.deepEqual(values("poutbox.consumer.slot.wal_status"), {
        [`${attributes},poutbox.slot.wal_status=reserved`]: 1,
        [`${attributes},poutbox.slot.wal_status=extended`]: 0,
        [`${attributes},poutbox.slot.wal_status=unreserved`]: 0,
        [`${attributes},poutbox.slot.wal_status=lost`]: 0,
      });
      const retained = values("poutbox.consumer.slot.retained_wal")[attributes];
      assert.ok(Number.isInteger(retained) && (retained as number) >= 0, `retained ${retained}`);
      const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM pg_replication_slots WHERE database = $1", [
        db.name,
      ]);
      assert.equal(rows[0].n, 1, "the one slot");
    } finally {
      observation.stop();
      await consumer.stop();
      await dropSlots(db.pool, schema, "stream");
    }
  });

  it("registers on the global MeterProvider by default", async () => {
    const { schema, client } = await db.freshSchema("otel_global");
    await client.enqueue(1);
    const reader = new OnDemandReader();
    const provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    const observation = observeOutbox(db.pool, { schema });
    try {
      const { resourceMetrics } = await reader.collect();
      const [scope] = resourceMetrics.scopeMetrics;
      assert.equal(scope?.scope.name, "poutbox");
      assert.deepEqual(
        scope.metrics.map((each) => each.descriptor.name).sort(),
        outboxMetricDescriptors
          .map((each) => each.name)
          .filter((name) => !/slot|ack_lag/.test(name) && !name.startsWith("poutbox.consumer."))
          .sort(),
        "a schema without consumers: the table figures",
      );
    } finally {
      observation.stop();
      metrics.disable();
      await provider.shutdown();
    }
  });

  it("refuses bad options with InvalidOptionError", () => {
    assert.throws(() => observeOutbox(db.pool, { schema: "bad name" }), { code: "INVALID_OPTION", option: "schema" });
    assert.throws(() => observeOutbox(db.pool, { meter: {} as Meter }), { code: "INVALID_OPTION", option: "meter" });
  });
});
