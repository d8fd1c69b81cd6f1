import { appendFile, readFile, writeFile } from "node:fs/promises";
import type { Handler, Job, JobFailure } from "../src/index.js";
import type { OrderJob } from "./producers.js";

/** One line of the output file: a job the handler finished, as JSON. */
export interface DeliveryLine {
  readonly job: string;
  readonly run: string;
  readonly order: string;
  readonly attempt: number;
  readonly topic: string | null;
  readonly email: string;
}

/** Running totals, read by the progress display. */
export class DeliveryCounts {
  /** Jobs handled successfully, repeats included. */
  deliveries = 0;
  /** Distinct orders delivered. */
  readonly orders = new Set<string>();
  /** Jobs failed on purpose, to be retried. */
  failed = 0;
}

/** Starts the file afresh. */
export async function createDeliveryLog(file: string): Promise<void> {
  await writeFile(file, "");
}

/**
 * The consumer's handler: fails a share of first attempts on purpose (they come back after a
 * backoff, with attempt 2), and appends every other job to the file, with one write per batch
 * before returning, so a job is on disk before its batch is acknowledged.
 */
export function deliveryHandler(file: string, failRate: number, counts: DeliveryCounts): Handler<OrderJob> {
  return async (jobs) => {
    const failures: JobFailure[] = [];
    const lines: string[] = [];
    const done: Job<OrderJob>[] = [];
    for (const job of jobs) {
      if (job.attempt === 1 && Math.random() < failRate) {
        failures.push({ job, error: new Error("failed on purpose by the demo (--fail-rate); it will be retried") });
        continue;
      }
      done.push(job);
      const line: DeliveryLine = {
        job: String(job.id),
        run: job.payload.run,
        order: job.payload.order,
        attempt: job.attempt,
        topic: job.topic,
        email: job.payload.email,
      };
      lines.push(JSON.stringify(line));
    }
    if (lines.length > 0) await appendFile(file, `${lines.join("\n")}\n`);
    for (const job of done) {
      counts.deliveries++;
      counts.orders.add(job.payload.order);
    }
    counts.failed += failures.length;
    return failures;
  };
}

/** Reads the file back: the record the summary checks. */
export async function readDeliveryLog(file: string): Promise<DeliveryLine[]> {
  const text = await readFile(file, "utf8");
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as DeliveryLine);
}
