import type pg from "pg";
import { runChild } from "../child-process.js";
import type { Scenario } from "../context.js";
import { createConsumerSlot, dropSchema, freshSchema, waitForIdleSlots } from "../database.js";
import { type Row, rate, roundSeconds } from "../report.js";
import type { Drained } from "../tasks/task.js";

const kib = 1024;
const mib = 1024 * kib;
const payloadSizes = [1 * kib, 64 * kib, 1 * mib] as const;
const batchSize = 1000;
/** maxBatchBytes as large as it goes: batches bounded by batchSize alone. */
const unbounded = 2 ** 31 - 1;
const limits = [
  { label: "maxBatchBytes 16 MiB (default)", maxBatchBytes: undefined },
  { label: "no byte bound", maxBatchBytes: unbounded },
] as const;
const modes = ["polling", "replication"] as const;

/**
 * batch_memory: the consumer's peak RSS against payload size, in both modes, with the default
 * byte bound and without one (batches of 1,000 jobs at any size). Each size drains about 128 MiB
 * of payloads at n = 200,000 (less at smaller n, never fewer than 16 jobs), committed in
 * transactions of about 16 MiB, with a no-op handler. Memory has no baseline; jobs/s is shown
 * for what the bound costs in speed.
 */
export const batchMemory: Scenario = {
  steps: () => payloadSizes.length,
  async run(context) {
    const { pool, progress, url, options } = context;
    const child = { cpuProfileDir: options.cpuProfileDir };
    const budget = 128 * mib * Math.min(1, options.n / 200_000);
    const rows: Row[] = [];
    for (const size of payloadSizes) {
      const n = Math.max(16, Math.min(options.n, Math.floor(budget / size)));
      progress.step(`batch_memory: ${n} payloads of ${sizeLabel(size)}`);
      const schema = await freshSchema(pool, "batch_memory");
      const names = limits.map((_, index) => `limit_${index}`);
      // A replication consumer's slot exists before the jobs commit, or it would not receive them.
      for (const name of names) await createConsumerSlot(pool, schema, `r_${name}`);
      await waitForIdleSlots(pool);
      await fillSized(pool, schema, n, size);
      for (const mode of modes) {
        for (const [index, limit] of limits.entries()) {
          const drained = await runChild<Drained>(
            {
              kind: "consumer-drain",
              url,
              schema,
              name: `${mode === "replication" ? "r_" : "p_"}${names[index]}`,
              mode,
              batchSize,
              n,
              ...(limit.maxBatchBytes === undefined ? {} : { maxBatchBytes: limit.maxBatchBytes }),
            },
            child,
          );
          if (mode === "replication") await waitForIdleSlots(pool);
          rows.push({
            scenario: "batch_memory",
            subject: "poutbox",
            variant: `${mode}, ${sizeLabel(size)} payloads, ${limit.label}`,
            batch_size: batchSize,
            n,
            seconds: roundSeconds(drained.seconds),
            jobs_per_s: rate(n, drained.seconds),
            baseline_jobs_per_s: null,
            ratio: null,
            peak_rss_mb: drained.peakRssMb,
          });
        }
      }
      await dropSchema(pool, schema, { consumers: names.map((name) => `r_${name}`) });
    }
    return rows;
  },
};

function sizeLabel(size: number): string {
  return size >= mib ? `${size / mib} MiB` : `${size / kib} KiB`;
}

/** Commits n jobs with payloads of about `size` bytes, built by the server, in transactions of about 16 MiB. */
async function fillSized(pool: pg.Pool, schema: string, n: number, size: number): Promise<void> {
  const perTransaction = Math.max(1, Math.floor((16 * mib) / size));
  for (let from = 0; from < n; from += perTransaction) {
    await pool.query(
      `INSERT INTO "${schema}".immediate (payload)
       SELECT json_build_object('i', i, 'data', repeat('x', $3::int)) FROM generate_series($1::int, $2::int - 1) AS i`,
      [from, Math.min(n, from + perTransaction), size - 20],
    );
  }
}
