import pg from "pg";
import { runChild } from "../child-process.js";
import type { Scenario } from "../context.js";
import { dropSchema, fillInOneTransaction, fillInTransactions, freshSchema } from "../database.js";
import { drainRow, type Row, rate } from "../report.js";
import { fastestOf, rounds } from "../stats.js";
import type { Drained } from "../tasks/task.js";

const batchSize = 1000;

/** Consumed rows before each measurement: 0, 5n and 25n (1M and 5M at the default n). */
export function historySizes(n: number): number[] {
  return [0, 5 * n, 25 * n];
}

function label(rows: number): string {
  if (rows >= 1_000_000) return `${rows / 1_000_000}M consumed`;
  if (rows >= 1000) return `${rows / 1000}k consumed`;
  return `${rows} consumed`;
}

/**
 * growth_polling: the polling drain rate (batch 1,000) of n new jobs with 0, 5n and 25n rows
 * already consumed in the table, then once more with a transaction left open (holding a
 * hole in every snapshot) from before those n jobs until after the drain. Each measurement
 * uses a new consumer name whose progress starts after the rows already there: they count
 * as consumed. Baseline: the rate with nothing consumed; the rate should stay flat. Each
 * measurement runs twice (two consumers); the faster run counts.
 */
export const growthPolling: Scenario = {
  steps: ({ options }) => historySizes(options.n).length + 1,
  async run(context) {
    const { pool, progress, url, options } = context;
    const { n } = options;
    const schema = await freshSchema(pool, "growth");
    const rows: Row[] = [];
    let present = 0;
    let baseline = 0;
    const measure = async (variant: string, name: string) => {
      // One consumer per run, whose progress snapshot says everything committed so far is done.
      const names = Array.from({ length: rounds }, (_, round) => `${name}_${round}`);
      for (const each of names) {
        await pool.query(
          `INSERT INTO "${schema}".consumers (name, mode, snapshot) VALUES ($1, 'polling', pg_current_snapshot())`,
          [each],
        );
      }
      await fillInTransactions(pool, schema, n, 1000);
      await pool.query(`ANALYZE "${schema}".immediate`);
      const { drained } = await fastestOf({
        drained: (round) =>
          runChild<Drained>(
            { kind: "consumer-drain", url, schema, name: names[round] as string, mode: "polling", batchSize, n },
            { cpuProfileDir: options.cpuProfileDir },
          ),
      });
      present += n;
      const jobs = rate(n, drained.seconds);
      if (baseline === 0) baseline = jobs;
      rows.push(drainRow("growth_polling", { variant, batchSize, n, baseline }, drained, 0.8));
    };
    for (const [index, history] of historySizes(n).entries()) {
      progress.step(`growth_polling: ${label(history)}`);
      // Earlier measurements' jobs count towards the history too.
      while (present < history) {
        // In transactions of at most 1M rows, to keep each one's memory and WAL moderate.
        const rowsNow = Math.min(1_000_000, history - present);
        await fillInOneTransaction(pool, schema, rowsNow, present);
        present += rowsNow;
      }
      // As autovacuum would have by then: a visibility map, and statistics.
      await pool.query(`VACUUM ANALYZE "${schema}".immediate`);
      await measure(label(history), `history_${index}`);
    }
    progress.step("growth_polling: a transaction held open");
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`INSERT INTO "${schema}".immediate (payload) VALUES ('{}')`);
      await measure(`${label(present)}, open transaction`, "open_transaction");
      await holder.query("COMMIT");
    } finally {
      await holder.end();
    }
    await dropSchema(pool, schema);
    return rows;
  },
};
