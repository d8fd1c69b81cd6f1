// poutbox/prometheus and `poutbox metrics`: the figures of status() served to Prometheus,
// scraped with a real fetch and read back with a Prometheus text-format parser.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import type { ConnectionSource, Logger } from "../src/index.js";
import { prometheusHandler, prometheusMetrics } from "../src/metrics/prometheus.js";
import { outputOf } from "./support/child-output.js";
import { runWorkload, workload } from "./support/metrics-workload.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots, replicationConsumer } from "./support/replication.js";
import { scrape, serveHandler } from "./support/scrape.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

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

/** A logger that keeps what it is told. */
function keptLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (message: string) => lines.push(`${level}: ${message}`);
  return { lines, info: keep("info"), warn: keep("warn"), error: keep("error") };
}

/** Asserts the workload's figures (test/support/metrics-workload.ts) in a scrape. */
function assertWorkload(found: Awaited<ReturnType<typeof scrape>>, schema: string, elapsed: number): void {
  const mailer = `poutbox_consumer=${workload.consumer},poutbox_schema=${schema}`;
  const perSchema = `poutbox_schema=${schema}`;
  assert.deepEqual(found.values("poutbox_consumer_pending_jobs"), { [mailer]: workload.pendingJobs });
  assert.deepEqual(found.values("poutbox_consumer_retrying_jobs"), { [mailer]: workload.retrying });
  assert.deepEqual(found.values("poutbox_consumer_blocked_keys"), { [mailer]: workload.blockedKeys });
  assert.deepEqual(found.values("poutbox_consumer_jobs_behind_blocked_keys"), { [mailer]: workload.waitingBehindKeys });
  assert.deepEqual(found.values("poutbox_consumer_dead_letters"), { [mailer]: workload.deadLetters });
  assert.deepEqual(found.values("poutbox_consumer_held_outcomes"), { [mailer]: workload.heldOutcomes });
  assert.deepEqual(found.values("poutbox_consumer_leader"), { [mailer]: 0 });
  assert.deepEqual(found.values("poutbox_scheduled_jobs"), { [perSchema]: workload.scheduled.rows });
  assert.deepEqual(found.values("poutbox_scheduled_due_jobs"), { [perSchema]: workload.scheduled.due });
  assert.deepEqual(found.values("poutbox_failed_jobs"), { [perSchema]: workload.failed.rows });
  assert.deepEqual(found.values("poutbox_failed_due_jobs"), { [perSchema]: workload.failed.due });
  assert.deepEqual(found.values("poutbox_dead_letter_jobs"), { [perSchema]: workload.deadLetterRows });
  assert.deepEqual(found.values("poutbox_immediate_jobs"), { [perSchema]: workload.immediateRows });
  // The oldest pending job waits since the backlog was enqueued, within the workload's run.
  const lag = found.values("poutbox_consumer_lag_seconds")?.[mailer] ?? Number.NaN;
  assert.ok(lag > 0 && lag <= elapsed / 1000, `lag ${lag} s, workload ${elapsed} ms`);
  // A polling consumer has no slot: its families are served, without samples.
  for (const name of [
    "poutbox_consumer_ack_lag_bytes",
    "poutbox_consumer_slot_retained_wal_bytes",
    "poutbox_consumer_slot_active",
    "poutbox_consumer_slot_wal_status",
  ]) {
    assert.deepEqual(found.values(name) ?? {}, {}, name);
  }
}

describe("poutbox/prometheus", () => {
  it("serves the outbox's figures, one status read per scrape", async () => {
    const { schema, client } = await db.freshSchema("prom_workload");
    const started = Date.now();
    await runWorkload(db, schema, client);
    const pool = countingPool();
    const server = await serveHandler(prometheusHandler(pool, { schema }));
    try {
      const found = await scrape(server.url);
      const elapsed = Date.now() - started;
      assert.equal(found.status, 200);
      assert.equal(found.contentType, new Registry().contentType);
      assert.equal(pool.connects, 1, "one status() for every gauge of the scrape");
      assertWorkload(found, schema, elapsed);
      const pending = found.families.get("poutbox_consumer_pending_jobs");
      assert.equal(pending?.type, "GAUGE");
      assert.match(pending?.help ?? "", /not handled yet/);
      // Every scrape reads again: the backlog grows by one.
      await client.enqueue("one more");
      const again = await scrape(server.url);
      assert.equal(pool.connects, 2);
      assert.deepEqual(again.values("poutbox_consumer_pending_jobs"), {
        [`poutbox_consumer=mailer,poutbox_schema=${schema}`]: workload.pendingJobs + 1,
      });
    } finally {
      await server.close();
    }
  });

  it("answers 405 to anything but GET, without reading", async () => {
    const { schema } = await db.freshSchema("prom_method");
    const pool = countingPool();
    const handler = prometheusHandler(pool, { schema });
    const reply = await handler(new Request("http://localhost/metrics", { method: "POST" }));
    assert.equal(reply.status, 405);
    assert.equal(reply.headers.get("allow"), "GET");
    assert.equal(pool.connects, 0);
  });

  it("adds its gauges to a given registry, with a prefix, beside the application's metrics", async () => {
    const { schema, client } = await db.freshSchema("prom_registry");
    await client.enqueueMany([1, 2, 3]);
    const registry = new Registry();
    registry.setDefaultLabels({ service: "shop" });
    assert.equal(prometheusMetrics(db.pool, { schema, registry, prefix: "app_" }), registry);
    const server = await serveHandler(async () => new Response(await registry.metrics()));
    try {
      const found = await scrape(server.url);
      assert.deepEqual(found.values("app_poutbox_immediate_jobs"), { [`poutbox_schema=${schema},service=shop`]: 3 });
      assert.equal(found.families.has("poutbox_immediate_jobs"), false);
    } finally {
      await server.close();
    }
    // A second schema in the same registry needs names of its own.
    assert.throws(() => prometheusMetrics(db.pool, { schema, registry, prefix: "app_" }), {
      code: "INVALID_OPTION",
      option: "registry",
      message: /already holds app_poutbox_consumer_pending_jobs and \d+ more: give each schema its own prefix/,
    });
    prometheusMetrics(db.pool, { schema, registry, prefix: "other_" });
  });

  it("refuses bad options with InvalidOptionError", () => {
    assert.throws(() => prometheusMetrics(db.pool, { prefix: "9lives" }), { code: "INVALID_OPTION", option: "prefix" });
    assert.throws(() => prometheusMetrics(db.pool, { prefix: "a-b" }), { code: "INVALID_OPTION", option: "prefix" });
    assert.throws(() => prometheusMetrics(db.pool, { schema: "bad name" }), {
      code: "INVALID_OPTION",
      option: "schema",
    });
    assert.throws(() => prometheusMetrics(db.pool, { registry: {} as Registry }), {
      code: "INVALID_OPTION",
      option: "registry",
    });
  });

  it("still serves, without the outbox's samples, while the database cannot be read; says so once", async () => {
    const { schema, client } = await db.freshSchema("prom_down");
    await client.enqueueMany([1, 2]);
    let down = true;
    const pool: ConnectionSource = {
      connect: () => (down ? Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432")) : db.pool.connect()),
    };
    const logger = keptLogger();
    const server = await serveHandler(prometheusHandler(pool, { schema, logger }));
    try {
      for (const _ of [1, 2]) {
        const found = await scrape(server.url);
        assert.equal(found.status, 200);
        assert.deepEqual(found.values("poutbox_immediate_jobs"), {}, "served, without a sample");
      }
      assert.deepEqual(logger.lines, ["error: metrics: cannot read the outbox status; no outbox metrics until it can"]);
      down = false;
      const back = await scrape(server.url);
      assert.deepEqual(back.values("poutbox_immediate_jobs"), { [`poutbox_schema=${schema}`]: 2 });
      assert.equal(logger.lines.at(-1), "info: metrics: the outbox status can be read again");
    } finally {
      await server.close();
    }
  });

  it("serves a replication consumer's slot", needs("logical-replication"), async () => {
    const { schema, client } = await db.freshSchema("prom_slot");
    const record = recorder();
    const consumer = replicationConsumer(db.pool, schema, record.handler, { name: "stream" });
    await consumer.start();
    const server = await serveHandler(prometheusHandler(db.pool, { schema }));
    try {
      await client.enqueueMany([1, 2]);
      await waitFor(() => record.deliveries.length === 2, { what: "two deliveries" });
      const labels = `poutbox_consumer=stream,poutbox_schema=${schema}`;
      const found = await waitFor(
        async () => {
          const each = await scrape(server.url);
          return each.values("poutbox_consumer_slot_active")?.[labels] === 1 ? each : undefined;
        },
        { what: "an active slot" },
      );
      assert.deepEqual(found.values("poutbox_consumer_leader"), { [labels]: 1 });
      assert.deepEqual(found.values("poutbox_consumer_slot_wal_status"), {
        [`${labels},poutbox_slot_wal_status=reserved`]: 1,
        [`${labels},poutbox_slot_wal_status=extended`]: 0,
        [`${labels},poutbox_slot_wal_status=unreserved`]: 0,
        [`${labels},poutbox_slot_wal_status=lost`]: 0,
      });
      const retained = found.values("poutbox_consumer_slot_retained_wal_bytes")?.[labels];
      assert.ok(Number.isInteger(retained) && (retained as number) >= 0, `retained ${retained}`);
      const ackLag = found.values("poutbox_consumer_ack_lag_bytes")?.[labels];
      assert.ok(ackLag === undefined || (Number.isInteger(ackLag) && ackLag >= 0), `ack lag ${ackLag}`);
    } finally {
      await server.close();
      await consumer.stop();
      await dropSlots(db.pool, schema, "stream");
    }
  });
});

/** `poutbox metrics`, the built command (dist/cli/main.js), on a free port. */
function metricsCommand(args: readonly string[]) {
  const child = spawn(process.execPath, ["dist/cli/main.js", "metrics", ...args], {
    env: { ...process.env, DATABASE_URL: db.url, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  return { child, output: outputOf(child), stderr: () => stderr };
}

describe("poutbox metrics", () => {
  it("serves /metrics until SIGTERM, then exits 0", async () => {
    const { schema, client } = await db.freshSchema("prom_cli");
    const started = Date.now();
    await runWorkload(db, schema, client);
    const run = metricsCommand(["--schema", schema, "--port", "0"]);
    try {
      const url = await waitFor(() => /on (http:\/\/\S+\/metrics);/.exec(run.stderr())?.[1], {
        what: `the command to listen (stderr: ${run.stderr()})`,
      });
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      assertWorkload(await scrape(url), schema, Date.now() - started);
      assert.equal((await fetch(url.replace(/\/metrics$/, "/other"))).status, 404);
      assert.equal((await fetch(url, { method: "POST" })).status, 405);
    } finally {
      run.child.kill("SIGTERM");
    }
    const ended = await run.output;
    assert.equal(ended.code, 0, `exit status (stderr: ${ended.stderr})`);
    assert.match(ended.stderr, /SIGTERM: answering the scrapes in hand, then stopping/);
  });

  it("fails at once, in one line, on a schema that was never migrated or a bad port", async () => {
    const missing = await metricsCommand(["--schema", "prom_nowhere", "--port", "0"]).output;
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr.trim(), /^poutbox: .*prom_nowhere.*\[SCHEMA_MISSING\]$/);
    const port = await metricsCommand(["--port", "70000"]).output;
    assert.equal(port.code, 2, port.stderr);
    assert.match(port.stderr, /expected a port from 0 to 65535/);
    const noPort = await metricsCommand([]).output;
    assert.equal(noPort.code, 2, noPort.stderr);
    assert.match(noPort.stderr, /--port/);
  });
});
