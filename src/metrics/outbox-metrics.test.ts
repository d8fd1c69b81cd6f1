import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ConsumerStatus, OutboxStatus } from "../status/status.js";
import { type OutboxMetric, outboxMetricDescriptors, outboxMetrics } from "./outbox-metrics.js";
import { prometheusLabel, prometheusName } from "./prometheus-names.js";

const at = new Date("2026-05-01T12:00:00Z");

function consumer(name: string, fields: Partial<ConsumerStatus> = {}): ConsumerStatus {
  return {
    name,
    mode: "polling",
    leader: null,
    lastLeaderId: null,
    heartbeatAt: null,
    snapshot: null,
    window: null,
    ackedLsn: null,
    ackLagBytes: null,
    pendingJobs: null,
    oldestPendingAt: null,
    lagMs: null,
    retrying: 0,
    blockedKeys: 0,
    waitingBehindKeys: 0,
    deadLetters: 0,
    heldOutcomes: 0,
    lastMove: null,
    slot: null,
    ...fields,
  };
}

function outbox(consumers: ConsumerStatus[]): OutboxStatus {
  return {
    schema: "shop",
    version: 9,
    at,
    tables: {
      immediate: { rows: 120, estimated: false },
      scheduled: { rows: 7, due: 2 },
      failed: { rows: 5, due: 1 },
      deadLetter: { rows: 4 },
    },
    consumers,
    partitions: [],
  };
}

/** name -> "attribute=value,..." -> value, for comparing whole results at a glance. */
function flat(metrics: readonly OutboxMetric[]): Record<string, Record<string, number>> {
  return Object.fromEntries(
    metrics.map((metric) => [
      metric.name,
      Object.fromEntries(
        metric.samples.map((sample) => [
          Object.entries(sample.attributes)
            .map(([name, value]) => `${name}=${value}`)
            .join(","),
          sample.value,
        ]),
      ),
    ]),
  );
}

const mailer = "poutbox.schema=shop,poutbox.consumer=mailer";
const stream = "poutbox.schema=shop,poutbox.consumer=stream";
const shop = "poutbox.schema=shop";

describe("outboxMetrics", () => {
  it("reports each consumer's figures and each table's rows", () => {
    const metrics = outboxMetrics(
      outbox([
        consumer("mailer", {
          leader: { pid: 42, id: "host:1:abc", epoch: 3n },
          pendingJobs: 10,
          oldestPendingAt: new Date(at.getTime() - 2500),
          lagMs: 2500,
          retrying: 3,
          blockedKeys: 2,
          waitingBehindKeys: 6,
          deadLetters: 4,
          heldOutcomes: 1,
        }),
        consumer("stream", {
          mode: "replication",
          pendingJobs: 0,
          lagMs: 0,
          ackLagBytes: 4096n,
          slot: {
            name: "poutbox_db_shop_stream_1",
            active: true,
            activePid: 77,
            confirmedFlush: 1n,
            walStatus: "extended",
            retainedBytes: 123_456_789_012n,
            invalidationReason: null,
            failover: false,
          },
        }),
      ]),
    );
    assert.deepEqual(flat(metrics), {
      "poutbox.consumer.pending_jobs": { [mailer]: 10, [stream]: 0 },
      "poutbox.consumer.lag": { [mailer]: 2.5, [stream]: 0 },
      "poutbox.consumer.retrying_jobs": { [mailer]: 3, [stream]: 0 },
      "poutbox.consumer.blocked_keys": { [mailer]: 2, [stream]: 0 },
      "poutbox.consumer.jobs_behind_blocked_keys": { [mailer]: 6, [stream]: 0 },
      "poutbox.consumer.dead_letters": { [mailer]: 4, [stream]: 0 },
      "poutbox.consumer.held_outcomes": { [mailer]: 1, [stream]: 0 },
      "poutbox.consumer.leader": { [mailer]: 1, [stream]: 0 },
      "poutbox.consumer.ack_lag": { [stream]: 4096 },
      "poutbox.consumer.slot.retained_wal": { [stream]: 123_456_789_012 },
      "poutbox.consumer.slot.active": { [stream]: 1 },
      "poutbox.consumer.slot.wal_status": {
        [`${stream},poutbox.slot.wal_status=reserved`]: 0,
        [`${stream},poutbox.slot.wal_status=extended`]: 1,
        [`${stream},poutbox.slot.wal_status=unreserved`]: 0,
        [`${stream},poutbox.slot.wal_status=lost`]: 0,
      },
      "poutbox.scheduled.jobs": { [shop]: 7 },
      "poutbox.scheduled.due_jobs": { [shop]: 2 },
      "poutbox.failed.jobs": { [shop]: 5 },
      "poutbox.failed.due_jobs": { [shop]: 1 },
      "poutbox.dead_letter.jobs": { [shop]: 4 },
      "poutbox.immediate.jobs": { [shop]: 120 },
    });
  });

  it("leaves out what is not known instead of reporting 0", () => {
    const metrics = flat(outboxMetrics(outbox([consumer("fresh", { mode: "replication" })])));
    // Nothing recorded yet: no backlog, no lag; a replication consumer whose slot is not there yet: no slot figures.
    for (const name of [
      "poutbox.consumer.pending_jobs",
      "poutbox.consumer.lag",
      "poutbox.consumer.ack_lag",
      "poutbox.consumer.slot.retained_wal",
      "poutbox.consumer.slot.active",
      "poutbox.consumer.slot.wal_status",
    ]) {
      assert.deepEqual(metrics[name], {}, name);
    }
    assert.deepEqual(metrics["poutbox.consumer.leader"], { "poutbox.schema=shop,poutbox.consumer=fresh": 0 });
  });

  it("reports a slot whose wal_status is unknown, and none for a null one", () => {
    const slot = {
      name: "s",
      active: false,
      activePid: null,
      confirmedFlush: null,
      retainedBytes: 0n,
      invalidationReason: null,
      failover: false,
    };
    const odd = flat(outboxMetrics(outbox([consumer("a", { slot: { ...slot, walStatus: "someday" } })])));
    const statuses = Object.entries(odd["poutbox.consumer.slot.wal_status"] ?? {});
    assert.deepEqual(
      statuses.filter(([, value]) => value === 1).map(([key]) => key.split("=").pop()),
      ["someday"],
    );
    assert.equal(statuses.length, 5);
    assert.deepEqual(odd["poutbox.consumer.slot.active"], { "poutbox.schema=shop,poutbox.consumer=a": 0 });
    const none = flat(outboxMetrics(outbox([consumer("a", { slot: { ...slot, walStatus: null } })])));
    assert.deepEqual(none["poutbox.consumer.slot.wal_status"], {});
  });

  it("returns every described metric, in order, with the attributes its samples carry", () => {
    const metrics = outboxMetrics(outbox([]));
    assert.deepEqual(
      metrics.map((each) => each.name),
      outboxMetricDescriptors.map((each) => each.name),
    );
    assert.equal(new Set(metrics.map((each) => each.name)).size, metrics.length, "names are unique");
    for (const metric of outboxMetrics(
      outbox([
        consumer("a", {
          slot: {
            name: "s",
            active: true,
            activePid: 1,
            confirmedFlush: null,
            walStatus: "lost",
            retainedBytes: 1n,
            invalidationReason: "wal_removed",
            failover: false,
          },
        }),
      ]),
    )) {
      assert.match(metric.name, /^poutbox(\.[a-z_]+)+$/);
      assert.ok(["{job}", "{key}", "s", "By", "1"].includes(metric.unit), `${metric.name}: ${metric.unit}`);
      for (const sample of metric.samples) assert.deepEqual(Object.keys(sample.attributes), metric.attributes);
    }
  });
});

describe("Prometheus names", () => {
  it("turns dots into underscores and adds the unit Prometheus names", () => {
    const named = Object.fromEntries(outboxMetricDescriptors.map((each) => [each.name, prometheusName(each)]));
    assert.equal(named["poutbox.consumer.lag"], "poutbox_consumer_lag_seconds");
    assert.equal(named["poutbox.consumer.slot.retained_wal"], "poutbox_consumer_slot_retained_wal_bytes");
    assert.equal(named["poutbox.consumer.ack_lag"], "poutbox_consumer_ack_lag_bytes");
    assert.equal(named["poutbox.consumer.pending_jobs"], "poutbox_consumer_pending_jobs");
    assert.equal(named["poutbox.consumer.leader"], "poutbox_consumer_leader");
    assert.equal(
      prometheusName({ name: "poutbox.scheduled.jobs", unit: "{job}" }, "app_"),
      "app_poutbox_scheduled_jobs",
    );
    assert.equal(prometheusName({ name: "x.wait_seconds", unit: "s" }), "x_wait_seconds");
    assert.equal(prometheusLabel("poutbox.slot.wal_status"), "poutbox_slot_wal_status");
  });
});
