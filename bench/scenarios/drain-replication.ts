import { publicationName } from "../../src/replication/names.js";
import { runChild } from "../child-process.js";
import type { Scenario } from "../context.js";
import { createConsumerSlot, dropSchema, fillInTransactions, freshSchema, waitForIdleSlots } from "../database.js";
import { type Row, rate, ratio, roundSeconds } from "../report.js";
import type { Drained } from "../tasks/task.js";

const shapes = [
  { variant: "single-job transactions", perTransaction: 1 },
  { variant: "1,000-job transactions", perTransaction: 1000 },
] as const;

const batchSize = 1000;

/**
 * drain_replication: n jobs waiting in a replication consumer's slot, committed after the
 * slot existed, drained with a no-op handler; as n single-job transactions and as n/1000
 * transactions of 1,000. Baseline: the faster of two raw readers of a slot that received the
 * same changes (one reading as data comes, one pausing 1 ms after each read to take larger
 * chunks), which count inserts without decoding them.
 */
export const drainReplication: Scenario = {
  steps: () => shapes.length * 2,
  async run(context) {
    const { pool, progress, url, options } = context;
    const { n } = options;
    const child = { cpuProfileDir: options.cpuProfileDir };
    const rows: Row[] = [];
    for (const shape of shapes) {
      progress.step(`drain_replication, ${shape.variant}: slots and ${n} jobs`);
      const schema = await freshSchema(pool, "drain_replication");
      const name = `b${batchSize}`;
      await createConsumerSlot(pool, schema, name);
      const rawSlots = [`bench_raw_${process.pid}_plain`, `bench_raw_${process.pid}_coalesced`];
      for (const slot of rawSlots)
        await pool.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
      await waitForIdleSlots(pool);
      await fillInTransactions(pool, schema, n, shape.perTransaction);
      progress.step(`drain_replication, ${shape.variant}: poutbox and raw readers`);
      const raw = (slot: string, coalesce: boolean) =>
        runChild<Drained>(
          { kind: "raw-replication-drain", url, slot, publication: publicationName(schema), coalesce, n },
          child,
        );
      const plain = await raw(rawSlots[0] as string, false);
      await waitForIdleSlots(pool);
      const drained = await runChild<Drained>(
        { kind: "consumer-drain", url, schema, name, mode: "replication", batchSize, n },
        child,
      );
      await waitForIdleSlots(pool);
      const coalesced = await raw(rawSlots[1] as string, true);
      const baseline = Math.max(rate(n, plain.seconds), rate(n, coalesced.seconds));
      const jobs = rate(n, drained.seconds);
      rows.push({
        scenario: "drain_replication",
        subject: "poutbox",
        variant: shape.variant,
        batch_size: batchSize,
        n,
        seconds: roundSeconds(drained.seconds),
        jobs_per_s: jobs,
        baseline_jobs_per_s: baseline,
        ratio: ratio(jobs, baseline),
        peak_rss_mb: drained.peakRssMb,
        target: ">= 0.70",
        met: jobs / baseline >= 0.7,
      });
      await dropSchema(pool, schema, { consumers: [name], raw: rawSlots });
    }
    return rows;
  },
};
