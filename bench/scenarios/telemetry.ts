import { runChild } from "../child-process.js";
import type { Scenario } from "../context.js";
import { dropSchema, fillInTransactions, freshSchema } from "../database.js";
import { hundredths, type Row, rate, roundSeconds } from "../report.js";
import { alternating, median } from "../stats.js";
import type { ConsumerDrainTask, Drained, EnqueueTask } from "../tasks/task.js";
import { createBusinessTables, singleCount } from "./enqueue.js";

/** Runs of each side, alternating: off, on; on, off; off, on... */
export const telemetryRounds = 5;

const batchSize = 1000;

/**
 * telemetry: what the library's OpenTelemetry instrumentation costs once an application has
 * registered an SDK (bench/telemetry-sdk.ts) in the process doing the work. Each line runs
 * the same work `telemetryRounds` times with the SDK registered and as often without it (the
 * API installed, no SDK: the library's no-op path), alternating, each run in a child process
 * of its own; the ratio is the median of the rounds' ratios (with the SDK to without it).
 * - enqueue: n/10 transactions (at least 2,000) over 8 connections, as enqueue_single;
 * - enqueueMany: n jobs in calls of 1,000, as enqueue_bulk;
 * - drain: n jobs drained by a polling consumer at batch 1,000 with a no-op handler, as
 *   drain_polling; and the same with jobs that carry a `traceparent`, as an instrumented
 *   producer writes them (each batch's span then links to the jobs' producers).
 */
export const telemetry: Scenario = {
  steps: () => 4,
  async run(context) {
    const { pool, progress, options } = context;
    const { n } = options;
    const rows: Row[] = [];
    const count = singleCount(n);

    progress.step(`telemetry: enqueue, ${count} transactions, ${telemetryRounds} rounds with and without an SDK`);
    const schema = await freshSchema(pool, "telemetry_enqueue");
    await createBusinessTables(pool, schema);
    const enqueue = (shape: EnqueueTask["shape"], jobs: number) =>
      compare(jobs, async (telemetry) => {
        // Each run starts from empty tables, whichever ran before it.
        await pool.query(`TRUNCATE "${schema}".immediate, "${schema}".orders`);
        return runChild<Drained>(
          { kind: "enqueue", shape, url: context.url, schema, n: jobs, telemetry },
          { cpuProfileDir: options.cpuProfileDir },
        );
      });
    rows.push(
      line(
        { variant: "enqueue in a transaction, 8 connections, SDK registered", n: count },
        await enqueue("single", count),
      ),
    );
    progress.step(`telemetry: enqueueMany, ${n} jobs in calls of 1,000, with and without an SDK`);
    const many = await enqueue("many", n);
    rows.push(line({ variant: "enqueueMany, SDK registered", n, batchSize }, many));
    await dropSchema(pool, schema);

    for (const traceparents of [false, true]) {
      progress.step(
        `telemetry: polling drain of ${n} jobs${traceparents ? " carrying a traceparent" : ""}, with and without an SDK`,
      );
      const drained = await freshSchema(pool, "telemetry_drain");
      await fillInTransactions(pool, drained, n, 1000, 0, 0, traceparents);
      await pool.query(`VACUUM ANALYZE "${drained}".immediate`);
      const runs = await compare(n, (telemetry, round) => {
        // Each consumer name gets every job.
        const task: ConsumerDrainTask = {
          kind: "consumer-drain",
          url: context.url,
          schema: drained,
          name: `t_${telemetry ? "on" : "off"}_${round}`,
          mode: "polling",
          batchSize,
          n,
          telemetry,
        };
        return runChild<Drained>(task, { cpuProfileDir: options.cpuProfileDir });
      });
      const variant = `polling drain${traceparents ? ", jobs with a traceparent" : ""}, SDK registered`;
      rows.push({
        ...line({ variant, n, batchSize }, runs),
        peak_rss_mb: Math.max(...runs.on.map((run) => run.peakRssMb)),
      });
      await dropSchema(pool, drained);
    }
    return rows;
  },
};

interface Runs {
  readonly off: readonly Drained[];
  readonly on: readonly Drained[];
}

/** Alternating runs without the SDK (off) and with it (on); each on run must have exported spans. */
async function compare(jobs: number, measure: (telemetry: boolean, round: number) => Promise<Drained>): Promise<Runs> {
  const runs = await alternating(telemetryRounds, {
    off: (round) => measure(false, round),
    on: (round) => measure(true, round),
  });
  for (const run of runs.on) {
    if (!run.telemetry || run.telemetry.spans === 0 || run.telemetry.metricPoints === 0) {
      throw new Error(`the SDK exported nothing in a run of ${jobs} jobs: ${JSON.stringify(run.telemetry)}`);
    }
  }
  if (runs.off.some((run) => run.telemetry !== undefined)) throw new Error("an SDK was registered without telemetry");
  return runs;
}

/**
 * The line of one comparison: the median rates of each side, and as its ratio the median of
 * the rounds' ratios (each round's on and off ran one after the other, so a machine that slows
 * down or speeds up between rounds moves both), target 0.90.
 */
function line(shape: { readonly variant: string; readonly n: number; readonly batchSize?: number }, runs: Runs): Row {
  const seconds = (list: readonly Drained[]) => median(list.map((run) => run.seconds));
  const rounds = runs.on.map((on, index) => (runs.off[index] as Drained).seconds / on.seconds);
  const onToOff = median(rounds);
  return {
    scenario: "telemetry",
    subject: "poutbox",
    variant: shape.variant,
    ...(shape.batchSize === undefined ? {} : { batch_size: shape.batchSize }),
    n: shape.n,
    seconds: roundSeconds(seconds(runs.on)),
    jobs_per_s: rate(shape.n, seconds(runs.on)),
    baseline_jobs_per_s: rate(shape.n, seconds(runs.off)),
    ratio: hundredths(onToOff),
    round_ratios: rounds.map(hundredths),
    spans_per_run: runs.on.map((on) => on.telemetry?.spans ?? 0),
    target: ">= 0.90",
    met: onToOff >= 0.9,
  };
}
