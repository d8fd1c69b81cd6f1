import type { Handler, Job } from "../../src/index.js";

/** A handler that records every delivery, with an optional per-batch behaviour. */
export function recorder<Payload = unknown>(
  behaviour?: (jobs: readonly Job<Payload>[], signal: AbortSignal) => ReturnType<Handler<Payload>>,
) {
  const deliveries: Job<Payload>[] = [];
  const batches: Job<Payload>[][] = [];
  const handler: Handler<Payload> = async (jobs, { signal }) => {
    deliveries.push(...jobs);
    batches.push([...jobs]);
    return behaviour?.(jobs, signal);
  };
  return {
    handler,
    deliveries,
    batches,
    /** How many times each job id was delivered. */
    counts(): Map<bigint, number> {
      const counts = new Map<bigint, number>();
      for (const job of deliveries) counts.set(job.id, (counts.get(job.id) ?? 0) + 1);
      return counts;
    },
    ids(): bigint[] {
      return deliveries.map((job) => job.id);
    },
  };
}
