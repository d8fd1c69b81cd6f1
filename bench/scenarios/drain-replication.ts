import { publicationName } from "../../src/schema/server-names.js";
import { runChild } from "../child-process.js";
import type { Scenario } from "../context.js";
import { createConsumerSlot, dropSchema, fillInTransactions, freshSchema, waitForIdleSlots } from "../database.js";
import { drainRow, type Row, rate } from "../report.js";
import { settledRounds } from "../stats.js";
import type { Drained } from "../tasks/task.js";

const shapes = [
  { variant: "single-job transactions", perTransaction: 1, minRatio: 0.7 },
  { variant: "1,000-job transactions", perTransaction: 1000, minRatio: 0.9 },
] as const;

const batchSize = 1000;
// Every run reads a slot of its own, created before the jobs commit: the rounds are fixed.
const rounds = 3;

/**
 * drain_replication: n jobs waiting in a replication consumer's slot, committed after the
 * slot existed, drained with a no-op handler; as n single-job transactions and as n/1000
 * transactions of 1,000. Baseline: the faster of two raw readers of a slot that received the
 * same changes (one reading as data comes, one pausing 1 ms after each read to take larger
 * chunks), which count inserts without decoding them. Every reader runs three rounds,
 * alternating; the line shows the median of the rounds' ratios and their range.
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
      // Reading a slot uses it up, so every run of every reader has its own, all created
      // before the jobs are committed: each receives the same changes.
      const names = Array.from({ length: rounds }, (_, round) => `b${batchSize}_${round}`);
      for (const name of names) await createConsumerSlot(pool, schema, name);
      const rawSlot = (kind: "plain" | "coalesced", round: number) => `bench_raw_${process.pid}_${kind}_${round}`;
      const rawSlots = names.flatMap((_, round) => [rawSlot("plain", round), rawSlot("coalesced", round)]);
      for (const slot of rawSlots)
        await pool.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
      await waitForIdleSlots(pool);
      await fillInTransactions(pool, schema, n, shape.perTransaction);
      progress.step(`drain_replication, ${shape.variant}: poutbox and raw readers`);
      const raw = async (kind: "plain" | "coalesced", round: number) => {
        const slot = rawSlot(kind, round);
        const drained = await runChild<Drained>(
          {
            kind: "raw-replication-drain",
            url,
            slot,
            publication: publicationName(schema),
            coalesce: kind === "coalesced",
            n,
          },
          child,
        );
        await waitForIdleSlots(pool);
        return drained;
      };
      const { best, ratios } = await settledRounds(
        {
          plain: (round) => raw("plain", round),
          ours: async (round) => {
            const drained = await runChild<Drained>(
              { kind: "consumer-drain", url, schema, name: names[round] as string, mode: "replication", batchSize, n },
              child,
            );
            await waitForIdleSlots(pool);
            return drained;
          },
          coalesced: (round) => raw("coalesced", round),
        },
        (round) => Math.min(round.plain.seconds, round.coalesced.seconds) / round.ours.seconds,
        { minRounds: rounds, maxRounds: rounds },
      );
      const baseline = Math.max(rate(n, best.plain.seconds), rate(n, best.coalesced.seconds));
      const line = { variant: shape.variant, batchSize, n, baseline, roundRatios: ratios };
      rows.push(drainRow("drain_replication", line, best.ours, shape.minRatio));
      await dropSchema(pool, schema, { consumers: names, raw: rawSlots });
    }
    return rows;
  },
};
