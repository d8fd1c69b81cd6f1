import { SlotLostError } from "../core/errors.js";
import { parseLsn } from "../replication/lsn.js";
import { type SlotState, slotState } from "../slots/slot-admin.js";
import { slotLossReason, slotLossText } from "../slots/slot-loss.js";
import type { PollingProgress } from "../sources/polling-source.js";
import type { ReplicationProgress } from "../sources/replication-source.js";
import type { LeaderTerm } from "./polling-leader.js";
import { ensureFailoverSlot } from "./replication-failover-slot.js";
import { startSlot } from "./replication-start-slot.js";

/** The stored state of a replication consumer, as claimed. */
export interface ReplicationClaim {
  readonly ackedLsn: string | null;
  readonly partialLsn: string | null;
  readonly partialCount: number | null;
}

/** Where a term starts: what polling must catch up on first, then where the slot streams from. */
export interface ResumePoint {
  readonly catchUp: PollingProgress;
  readonly from: ReplicationProgress;
}

/**
 * Resumes from the claimed position while its slot still holds the WAL after it; otherwise
 * (never started, or the slot was lost) starts a new slot, with a catch-up up to its snapshot.
 */
export async function resumePoint(term: LeaderTerm, claim: ReplicationClaim, slot: string): Promise<ResumePoint> {
  const claimed = claimedProgress(claim);
  if (claimed !== null) {
    const kept = await slotKept(term, slot);
    if (kept) {
      await ensureFailoverSlot(term, slot, kept);
      return { catchUp: term.progress, from: claimed };
    }
  }
  const started = await startSlot(term, slot);
  return {
    catchUp: { ...term.progress, window: started.snapshot, afterXid: "0", afterId: "0" },
    from: { ackedLsn: started.consistentPoint, partialLsn: null, partialCount: 0 },
  };
}

/** The claimed position, or null before the consumer's first slot; a malformed one throws. */
function claimedProgress(claim: ReplicationClaim): ReplicationProgress | null {
  // Both positions are parsed whether or not they are used, so a malformed one always fails.
  const ackedLsn = claim.ackedLsn === null ? null : parseLsn(claim.ackedLsn);
  const partialLsn = claim.partialLsn === null ? null : parseLsn(claim.partialLsn);
  return ackedLsn === null ? null : { ackedLsn, partialLsn, partialCount: claim.partialCount ?? 0 };
}

/**
 * The slot's state while it can be resumed from; false when it is gone or invalidated and the
 * consumer is configured to recover from that. Whether it is, and why, is read from
 * pg_replication_slots (see slotState), so it does not depend on the language of the server's
 * messages.
 */
async function slotKept(term: LeaderTerm, slot: string): Promise<SlotState | false> {
  const { pool, options } = term;
  const state = await slotState(pool, slot);
  const reason = slotLossReason(state);
  if (reason === null) return state as SlotState;
  const explanation = slotLossText(reason);
  options.slotLostListener?.({ slot, reason, explanation, recovery: options.slotLost });
  if (options.slotLost === "fail") throw new SlotLostError(slot, reason, explanation);
  // Configured to recover: the progress snapshot says which jobs are surely done, so a
  // new slot plus a catch-up by polling from that snapshot loses nothing (jobs done
  // after the snapshot was recorded are delivered again).
  options.logger.warn?.(
    `replication slot ${explanation}; catching up by polling from the progress snapshot, then streaming from a new slot`,
    { epoch: term.epoch, slot, reason },
  );
  return false;
}
