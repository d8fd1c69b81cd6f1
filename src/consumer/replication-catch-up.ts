import type { PollingProgress } from "../sources/polling-source.js";
import { type LeaderTerm, leadPolling } from "./polling-leader.js";

/**
 * Delivers by polling what the slot cannot see. Returns true when the term must end here
 * (stop() was called during the catch-up).
 */
export async function catchUp(term: LeaderTerm, progress: PollingProgress): Promise<boolean> {
  // A stored window in replication mode is the snapshot the slot started from: every job it
  // shows and the consumer's snapshot does not was committed before the slot existed.
  if (progress.window === null) return false;
  await leadPolling({ ...term, progress, until: progress.window });
  return term.stopping.aborted;
}
