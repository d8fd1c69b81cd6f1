import type { ConsumerProcess } from "../../support/consumer-child.js";
import { waitFor } from "../../support/wait-for.js";
import type { Run } from "../run.js";

/** Batch size of every scenario's consumers unless it says otherwise. */
export const batchSize = 20;

/**
 * The documented bound: a consumer has at most two batches handled but not committed (the
 * one in the handler and the one being committed), so each crash or lost leadership can
 * bring back at most two batches.
 */
export function bound(faults: number, size = batchSize): number {
  return faults * 2 * size;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function batchesSeen(child: ConsumerProcess, count: number, timeout = 30_000): Promise<void> {
  await waitFor(() => child.linesFrom("BATCH").length >= count, {
    timeout,
    what: `${child.label} to start ${count} batches (${child.describe()})`,
  });
}

export async function leading(child: ConsumerProcess, timeout = 30_000): Promise<void> {
  await child.waitForLine("LEADER", { timeout });
}

/** Waits until the handler of `child` is inside a batch. */
export async function inBatch(child: ConsumerProcess, timeout = 30_000): Promise<void> {
  await waitFor(() => child.inBatch, { timeout, what: `${child.label} to be inside a batch` });
}

export function errors(child: ConsumerProcess): string[] {
  return child.linesFrom("ERROR").map((line) => line.text.slice(6));
}

/** Peak RSS the child reported, in MB. */
export function peakRssMb(child: ConsumerProcess): number {
  const values = child.linesFrom("RSS").map((line) => Number(line.text.slice(4)));
  return Math.round(Math.max(0, ...values) / 1e6);
}

/** Waits until the consumers of the run have handled `count` more jobs than now. */
export async function progress(run: Run, count: number, timeout = 30_000): Promise<void> {
  const target = run.handled().length + count;
  await waitFor(() => run.handled().length >= target, { timeout, what: `${count} more jobs handled` });
}

/** The process whose id is the leader recorded in the consumer's row, once one of `processes` is. */
export async function recordedLeader(
  run: Run,
  processes: ConsumerProcess[],
  timeout = 30_000,
): Promise<ConsumerProcess> {
  return waitFor(
    async () => {
      const { rows } = await run.pool.query(`SELECT leader_id FROM "${run.schema}".consumers WHERE name = 'default'`);
      const id = rows[0]?.leader_id as string | undefined;
      return processes.find((each) => each.running && id?.startsWith(each.leaderIdPrefix));
    },
    { timeout, interval: 20, what: "a recorded leader" },
  );
}
