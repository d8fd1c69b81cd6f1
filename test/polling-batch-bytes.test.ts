// A polling consumer's batches bounded by bytes (maxBatchBytes) as well as by batchSize: the
// bound holds with compressible megabyte payloads, a job larger than the bound comes alone,
// and a page cut short by bytes resumes where it stopped, also inside a window's holes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidOptionError, type Job } from "../src/index.js";
import { missing } from "./support/jobs.js";
import { quickConsumer } from "./support/quick-consumer.js";
import { recorder } from "./support/recorder.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

/** Bytes of a job's payload as the server stores it (uncompressed JSON text). */
function bytesOf(job: Job<unknown>): number {
  return Buffer.byteLength(JSON.stringify(job.payload));
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}

/** Inserts `count` jobs whose payload is `{ i, data }` with `size` bytes of data, in one transaction; their ids. */
async function insertSized(schema: string, from: number, count: number, size: number): Promise<bigint[]> {
  // Written by the server, so that the test process holds no payload but what the consumer
  // hands it. repeat() compresses to almost nothing: the bound must count the text, not the
  // stored size.
  const { rows } = await db.pool.query(
    `INSERT INTO ${schema}.immediate (payload)
     SELECT json_build_object('i', i, 'data', repeat(chr(97 + i % 26), $3::int))
       FROM generate_series($1::int, $1::int + $2::int - 1) AS i
     RETURNING id::text AS id`,
    [from, count, size],
  );
  return rows.map((row) => BigInt(row.id));
}

describe("polling consumer, maxBatchBytes", () => {
  it("delivers 40 payloads of 1 MB in batches of at most maxBatchBytes (4 MiB), each once, in order", async (t) => {
    const { schema } = await db.freshSchema("bytes");
    const maxBatchBytes = 4 * 1024 * 1024;
    // Both transactions commit before the consumer starts: its first pages could take 100
    // jobs (40 MB) but for the byte bound.
    const ids = [...(await insertSized(schema, 0, 20, 1_000_000)), ...(await insertSized(schema, 20, 20, 1_000_000))];
    const record = recorder();
    let peakRss = process.memoryUsage().rss;
    const baseRss = peakRss;
    const sampling = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 5);
    const consumer = quickConsumer(db.pool, record.handler, { schema, batchSize: 100, maxBatchBytes });
    try {
      await consumer.start();
      await waitFor(() => missing(record.ids(), ids) === 0, { timeout: 30_000, what: "every 1 MB job" });
    } finally {
      clearInterval(sampling);
      await consumer.stop();
    }
    const sizes = record.batches.map((batch) => batch.reduce((sum, job) => sum + bytesOf(job), 0));
    t.diagnostic(
      `${record.batches.length} batches of ${record.batches.map((batch) => batch.length).join(", ")} jobs, ` +
        `largest ${Math.max(...sizes)} bytes; RSS ${mb(baseRss)} MB before, peak ${mb(peakRss)} MB`,
    );
    record.batches.forEach((batch, i) => {
      assert.ok((sizes[i] as number) <= maxBatchBytes, `batch ${i}: ${batch.length} jobs, ${sizes[i]} bytes`);
    });
    assert.ok(
      record.batches.every((batch) => batch.length === 4),
      "each batch takes as many 1 MB jobs as fit in 4 MiB",
    );
    assert.deepEqual(record.ids(), ids, "each job once, in commit order");
    for (const job of record.deliveries) {
      const payload = job.payload as { i: number; data: string };
      assert.equal(payload.data.length, 1_000_000);
      assert.equal(payload.data[0], String.fromCharCode(97 + (payload.i % 26)));
    }
  });

  it("hands a job larger than maxBatchBytes over alone, and the jobs after it in their own batches", async () => {
    const { schema } = await db.freshSchema("bytes_large");
    const small = await insertSized(schema, 0, 2, 10_000);
    const [large] = await insertSized(schema, 2, 1, 200_000);
    const after = await insertSized(schema, 3, 3, 10_000);
    const ids = [...small, large as bigint, ...after];
    const record = recorder();
    const consumer = quickConsumer(db.pool, record.handler, { schema, batchSize: 100, maxBatchBytes: 50_000 });
    try {
      await consumer.start();
      await waitFor(() => missing(record.ids(), ids) === 0, { what: "every job" });
    } finally {
      await consumer.stop();
    }
    assert.deepEqual(
      record.batches.map((batch) => batch.map((job) => job.id)),
      [small, [large], after],
    );
  });

  it("resumes a page cut by bytes inside a window's holes and its newer transactions, losing and repeating nothing", async () => {
    const { schema } = await db.freshSchema("bytes_holes");
    const record = recorder();
    // Three 10 kB jobs per batch at most.
    const consumer = quickConsumer(db.pool, record.handler, { schema, batchSize: 100, maxBatchBytes: 35_000 });
    const open = await db.pool.connect();
    try {
      await consumer.start();
      // A transaction that stays open while the consumer polls becomes a hole of its progress
      // snapshot; its jobs come through the page query's hole part once it commits.
      await open.query("BEGIN");
      const { rows: held } = await open.query(
        `INSERT INTO ${schema}.immediate (payload)
         SELECT json_build_object('i', i, 'data', repeat('h', 10000)) FROM generate_series(1, 8) AS i
         RETURNING id::text AS id`,
      );
      const before = await insertSized(schema, 0, 7, 10_000);
      await waitFor(() => missing(record.ids(), before) === 0, {
        what: "the jobs committed around the open transaction",
      });
      await open.query("COMMIT");
      const later = await insertSized(schema, 10, 5, 10_000);
      const all = [...before, ...held.map((row) => BigInt(row.id)), ...later];
      await waitFor(() => missing(record.ids(), all) === 0, { what: "the held jobs and the later ones" });
      await consumer.stop();
      assert.equal(record.deliveries.length, all.length, "each job once");
      for (const [i, batch] of record.batches.entries()) {
        assert.ok(batch.length <= 3, `batch ${i} holds ${batch.length} jobs`);
      }
    } finally {
      open.release();
      await consumer.stop();
    }
  });

  it("rejects a maxBatchBytes that is not a positive integer", () => {
    for (const maxBatchBytes of [0, -1, 1.5]) {
      assert.throws(
        () => quickConsumer(db.pool, async () => {}, { maxBatchBytes }),
        (e: unknown) => e instanceof InvalidOptionError && e.option === "maxBatchBytes",
      );
    }
  });
});
