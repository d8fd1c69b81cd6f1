import { runChild } from "../child-process.js";
import type { Scenario } from "../context.js";
import { dropSchema, fillInTransactions, freshSchema } from "../database.js";
import { peerQueue } from "../peers/peer.js";
import { drainRow, peerRow, type Row, rate } from "../report.js";
import { settledRounds } from "../stats.js";
import type { Drained } from "../tasks/task.js";
import { inBatches } from "./enqueue.js";

export const pollingBatchSizes = [100, 1000, 5000] as const;
const minRatio = 1.0;

/**
 * drain_polling: n jobs committed in transactions of 1,000, drained by a polling consumer
 * with a no-op handler at each batch size (each consumer name gets every job). Baseline:
 * keyset pagination over the same rows at the same page size. They run in alternating rounds
 * until the rounds' ratios settle (settledRounds); the line shows their median and range. Peers: n jobs queued with
 * their bulk call, drained by their worker.
 */
export const drainPolling: Scenario = {
  steps: ({ peers }) => 1 + pollingBatchSizes.length + peers.length,
  async run(context) {
    const { pool, progress, url, options } = context;
    const { n } = options;
    progress.step(`drain_polling: filling ${n} jobs`);
    const schema = await freshSchema(pool, "drain_polling");
    await fillInTransactions(pool, schema, n, 1000);
    await pool.query(`VACUUM ANALYZE "${schema}".immediate`);
    const child = { cpuProfileDir: options.cpuProfileDir };
    const rows: Row[] = [];
    let baselineAt1000: number | null = null;
    for (const batchSize of pollingBatchSizes) {
      progress.step(`drain_polling: batch ${batchSize}, poutbox and keyset pagination`);
      const { best, ratios } = await settledRounds(
        {
          // Each round's consumer has a name of its own, so each gets every job.
          ours: (round) =>
            runChild<Drained>(
              { kind: "consumer-drain", url, schema, name: `b${batchSize}_${round}`, mode: "polling", batchSize, n },
              child,
            ),
          keyset: () => runChild<Drained>({ kind: "keyset-drain", url, schema, batchSize, n }, child),
        },
        (round) => round.keyset.seconds / round.ours.seconds,
      );
      const base = rate(n, best.keyset.seconds);
      if (batchSize === 1000) baselineAt1000 = base;
      rows.push(drainRow("drain_polling", { batchSize, n, baseline: base, roundRatios: ratios }, best.ours, minRatio));
    }
    await dropSchema(pool, schema);
    for (const peer of context.peers) {
      progress.step(`drain_polling: ${peer.name}`);
      await peer.clear();
      await inBatches(n, (batch) => peer.enqueueMany(batch));
      const drained = await runChild<Drained>({ kind: "peer-drain", peer: peer.name, url, queue: peerQueue, n }, child);
      await peer.clear();
      rows.push({
        ...peerRow("drain_polling", peer, n, drained.seconds, baselineAt1000),
        variant: "its best settings",
        peak_rss_mb: drained.peakRssMb,
      });
    }
    return rows;
  },
};
