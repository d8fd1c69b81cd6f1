import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { Client, Consumer, type ConsumerOptions, forEachJob, type Handler, type Job } from "../src/index.js";
import { natsRelay } from "../src/relays/nats.js";
import { testStream } from "./support/nats.js";
import { needs } from "./support/needs.js";
import { registerSdk } from "./support/otel-sdk.js";
import { withRelay } from "./support/relay-consumer.js";
import { stopAndDropSlot } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const sdk = registerSdk();
const db = useTestDatabase();

// What an upstream service (or a browser) sends: the trace the request belongs to.
const upstreamTraces = { polling: "4bf92f3577b34da6a3ce929d0e0e4736", replication: "5cf92f3577b34da6a3ce929d0e0e4737" };
const upstreamTrace = upstreamTraces.polling;
const upstreamSpan = "00f067aa0ba902b7";

/**
 * An HTTP service that saves an order and enqueues its event in the same transaction, as an
 * instrumented server would run it: in a server span continuing the caller's trace.
 */
async function orderService(client: Client): Promise<{ url: string; server: Server }> {
  const tracer = trace.getTracer("orders-service");
  const server = createServer((request, response) => {
    const parent = propagation.extract(context.active(), request.headers);
    const span = tracer.startSpan("POST /orders", { kind: SpanKind.SERVER }, parent);
    context.with(trace.setSpan(parent, span), async () => {
      const tx = await db.pool.connect();
      try {
        await tx.query("BEGIN");
        const id = await client.enqueue({ order: 1 }, { tx, topic: "order.created", key: "order-1" });
        await tx.query("COMMIT");
        response.end(String(id));
      } catch (error) {
        await tx.query("ROLLBACK");
        response.statusCode = 500;
        response.end(String(error));
      } finally {
        tx.release();
        span.end();
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`, server };
}

function spanNamed(spans: readonly ReadableSpan[], name: string, traceId?: string): ReadableSpan {
  const found = spans.find((span) => span.name === name && (!traceId || span.spanContext().traceId === traceId));
  assert.ok(found, `a span "${name}" among ${spans.map((span) => span.name).join(", ")}`);
  return found;
}

function childOf(child: ReadableSpan, parent: ReadableSpan): void {
  assert.equal(child.spanContext().traceId, parent.spanContext().traceId, `${child.name} in ${parent.name}'s trace`);
  assert.equal(child.parentSpanContext?.spanId, parent.spanContext().spanId, `${child.name} a child of ${parent.name}`);
}

const modes: { mode: "polling" | "replication"; options: ConsumerOptions; needs: { skip?: string } }[] = [
  { mode: "polling", options: { pollInterval: 10 }, needs: {} },
  { mode: "replication", options: { mode: "replication" }, needs: needs("logical-replication") },
];

for (const { mode, options, needs: required } of modes) {
  describe(`traces (${mode})`, required, () => {
    async function consumerFor(schema: string, handler: Handler, extra: ConsumerOptions = {}) {
      const consumer = new Consumer(db.pool, handler, {
        schema,
        name: `traced_${mode}`,
        promoteInterval: 20,
        backoff: { base: 20, jitter: 0 },
        ...options,
        ...extra,
      });
      await consumer.start();
      return consumer;
    }
    const stop = (schema: string, consumer: Consumer) =>
      mode === "replication" ? stopAndDropSlot(db.pool, schema, consumer) : consumer.stop();

    it("follows one order from the HTTP request through enqueue to the handler's own work, in one trace", async (t) => {
      const upstreamTrace = upstreamTraces[mode];
      const { schema } = await db.freshSchema(`tree_${mode}`);
      const client = new Client(db.pool, { schema });
      const { url, server } = await orderService(client);
      t.after(() => server.close());
      const seen: Job[] = [];
      const handlerTracer = trace.getTracer("email");
      const consumer = await consumerFor(schema, async (jobs) => {
        seen.push(...jobs);
        await handlerTracer.startActiveSpan("send confirmation email", async (span) => span.end());
      });
      t.after(() => stop(schema, consumer));

      const response = await fetch(url, {
        method: "POST",
        headers: { traceparent: `00-${upstreamTrace}-${upstreamSpan}-01`, baggage: "tenant=acme" },
      });
      assert.equal(response.status, 200, await response.clone().text());
      const id = BigInt(await response.text());
      await waitFor(() => seen.some((job) => job.id === id), { what: "the order's job" });
      await waitFor(() => sdk.spans().some((span) => span.name === "send confirmation email"), {
        what: "the handler's span",
      });

      const spans = sdk.spans().filter((span) => span.spanContext().traceId === upstreamTrace);
      const request = spanNamed(spans, "POST /orders");
      const send = spanNamed(spans, "send order.created");
      const process = spanNamed(spans, "process order.created");
      const email = spanNamed(spans, "send confirmation email");
      assert.equal(request.parentSpanContext?.spanId, upstreamSpan);
      childOf(send, request);
      childOf(process, send);
      childOf(email, process);

      assert.equal(send.kind, SpanKind.PRODUCER);
      assert.deepEqual(
        {
          system: send.attributes["messaging.system"],
          operation: send.attributes["messaging.operation.type"],
          destination: send.attributes["messaging.destination.name"],
          id: send.attributes["messaging.message.id"],
        },
        { system: "poutbox", operation: "send", destination: "order.created", id: String(id) },
      );
      assert.equal(process.kind, SpanKind.CONSUMER);
      assert.deepEqual(
        {
          operation: process.attributes["messaging.operation.type"],
          name: process.attributes["messaging.operation.name"],
          destination: process.attributes["messaging.destination.name"],
          id: process.attributes["messaging.message.id"],
          group: process.attributes["messaging.consumer.group.name"],
          attempt: process.attributes["poutbox.job.attempt"],
          key: process.attributes["poutbox.job.key"],
          outcome: process.attributes["poutbox.outcome"],
        },
        {
          operation: "process",
          name: "process",
          destination: "order.created",
          id: String(id),
          group: `traced_${mode}`,
          attempt: 1,
          key: "order-1",
          outcome: "success",
        },
      );
      assert.deepEqual(
        process.links.map((link) => link.context.spanId),
        [send.spanContext().spanId],
      );
      // The job carries the producer's context in its headers, baggage included.
      const job = seen.find((each) => each.id === id) as Job;
      assert.match(job.headers.traceparent ?? "", new RegExp(`^00-${upstreamTrace}-${send.spanContext().spanId}-01$`));
      assert.equal(job.headers.baggage, "tenant=acme");
      await waitFor(() => sdk.spans().some((span) => span.name === `commit traced_${mode}`), {
        what: "the settle span",
      });
      const settle = spanNamed(sdk.spans(), `commit traced_${mode}`);
      assert.equal(settle.attributes["messaging.operation.type"], "settle");
      assert.deepEqual(
        settle.links.map((link) => link.context.spanId),
        [process.spanContext().spanId],
        "the commit links to the call that handled its batch",
      );
    });

    it("links a batch's process span to every producer, and forEachJob gives each job a span in its own trace", async (t) => {
      const { schema, client } = await db.freshSchema(`batch_${mode}`);
      const tracer = trace.getTracer("producer");
      const ids: bigint[] = [];
      const sends: string[] = [];
      // Three producers, each in a trace of its own; committed together so one batch holds them.
      const tx = await db.pool.connect();
      await tx.query("BEGIN");
      for (const n of [1, 2, 3]) {
        await tracer.startActiveSpan(`request ${n}`, async (span) => {
          ids.push(await client.enqueue({ n }, { tx, topic: "invoice.paid" }));
          sends.push(span.spanContext().traceId);
          span.end();
        });
      }
      await tx.query("COMMIT");
      tx.release();
      const calls: number[] = [];
      const consumer = await consumerFor(schema, (jobs) => {
        calls.push(jobs.length);
        return forEachJob(jobs, async () => {}, { concurrency: 3 });
      });
      t.after(() => stop(schema, consumer));
      await waitFor(() => calls.reduce((sum, n) => sum + n, 0) >= 3, { what: "the three jobs" });
      assert.deepEqual(calls, [3]);
      const batch = await waitFor(
        () =>
          sdk
            .spans()
            .find(
              (span) =>
                span.kind === SpanKind.CONSUMER &&
                span.attributes["messaging.batch.message_count"] === 3 &&
                span.attributes["poutbox.schema"] === schema,
            ),
        { what: "the batch's process span" },
      );
      const producers = sdk
        .spans()
        .filter((span) => span.name === "send invoice.paid" && sends.includes(span.spanContext().traceId));
      assert.equal(producers.length, 3);
      assert.deepEqual(
        batch.links.map((link) => link.context.spanId).sort(),
        producers.map((span) => span.spanContext().spanId).sort(),
      );
      assert.deepEqual(
        batch.links.map((link) => link.attributes?.["messaging.message.id"]).sort(),
        ids.map(String).sort(),
      );
      for (const producer of producers) {
        const own = sdk
          .spans()
          .find(
            (span) =>
              span.name === "process invoice.paid" && span.parentSpanContext?.spanId === producer.spanContext().spanId,
          );
        assert.ok(own, "a per-job span under each producer");
        childOf(own, producer);
        assert.deepEqual(
          own.links.map((link) => link.context.spanId),
          [batch.spanContext().spanId],
        );
      }
    });

    it("shows each retry on the producer's trace, and the dead letter at the last attempt", async (t) => {
      const { schema, client } = await db.freshSchema(`retry_${mode}`);
      const tracer = trace.getTracer("producer");
      const { id, traceId } = await tracer.startActiveSpan("request", async (span) => {
        const enqueued = await client.enqueue({ fails: true }, { topic: "payment.capture" });
        span.end();
        return { id: enqueued, traceId: span.spanContext().traceId };
      });
      const consumer = await consumerFor(
        schema,
        async (jobs) => jobs.map((job) => ({ job, error: new Error("card declined") })),
        { maxAttempts: 3 },
      );
      t.after(() => stop(schema, consumer));
      const attempts = await waitFor(
        () => {
          const found = sdk
            .spans()
            .filter((span) => span.name === "process payment.capture" && span.spanContext().traceId === traceId);
          return found.length >= 3 ? found : undefined;
        },
        { what: "three attempts on the producer's trace" },
      );
      assert.deepEqual(
        attempts.map((span) => span.attributes["poutbox.job.attempt"]),
        [1, 2, 3],
      );
      for (const span of attempts) {
        assert.equal(span.status.code, SpanStatusCode.ERROR);
        assert.equal(span.status.message, "Error: card declined");
        const failed = span.events.find((event) => event.name === "poutbox.job.failed");
        assert.equal(failed?.attributes?.["messaging.message.id"], String(id));
        assert.equal(failed?.attributes?.["exception.message"], "Error: card declined");
        assert.match(String(failed?.attributes?.["exception.stacktrace"]), /^Error: card declined\n\s+at /);
      }
      assert.deepEqual(
        attempts.map(
          (span) =>
            span.events.find((event) => event.name === "poutbox.job.failed")?.attributes?.["poutbox.job.dead_letter"],
        ),
        [false, false, true],
      );
      assert.deepEqual(
        attempts.map((span) => span.attributes["poutbox.outcome"]),
        ["retry", "retry", "dead_letter"],
      );
    });
  });
}

describe("traces at enqueue", () => {
  it("keeps the caller's own traceparent header, and marks a failed enqueue as an error", async () => {
    const { schema, client } = await db.freshSchema("own_header");
    const tracer = trace.getTracer("producer");
    await tracer.startActiveSpan("request", async (span) => {
      const id = await client.enqueue({}, { headers: { traceparent: `00-${upstreamTrace}-${upstreamSpan}-01` } });
      const { rows } = await db.pool.query(`SELECT headers FROM "${schema}".immediate WHERE id = $1`, [String(id)]);
      assert.equal(rows[0].headers.traceparent, `00-${upstreamTrace}-${upstreamSpan}-01`);
      span.end();
    });
    const broken = new Client(db.pool, { schema: "never_migrated" });
    await assert.rejects(broken.enqueue({}, { topic: "x" }));
    const failed = sdk.spans().find((span) => span.name === "send x");
    assert.equal(failed?.status.code, SpanStatusCode.ERROR);
    // error.type: the library's stable error code (a SQLSTATE for a database error).
    assert.equal(failed?.attributes["error.type"], "SCHEMA_MISSING");
  });
});

describe("traces through a relay", () => {
  it("the NATS relay's message carries the producer's trace context, and its publish is the producer's child", async () => {
    const { schema, client } = await db.freshSchema("relayed");
    const stream = await testStream();
    try {
      const { id, send } = await trace.getTracer("producer").startActiveSpan("request", async (span) => {
        const enqueued = await client.enqueue({ order: 9 }, { topic: "order.shipped" });
        span.end();
        return { id: enqueued, send: span };
      });
      await withRelay(
        db.pool,
        natsRelay(stream.js, { subject: `${stream.prefix}.{topic}` }),
        { schema, name: "relay" },
        {},
        () => waitFor(async () => (await stream.messages()).length === 1, { what: "the message in the stream" }),
      );
      const [message] = await stream.messages();
      const traceId = send.spanContext().traceId;
      const producer = spanNamed(sdk.spans(), "send order.shipped", traceId);
      assert.equal(message?.headers.traceparent, `00-${traceId}-${producer.spanContext().spanId}-01`);
      const relayed = spanNamed(sdk.spans(), "process order.shipped", traceId);
      childOf(relayed, producer);
      assert.equal(relayed.attributes["messaging.message.id"], String(id));
    } finally {
      await stream.close();
    }
  });
});
