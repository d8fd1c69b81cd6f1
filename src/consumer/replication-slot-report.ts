import { slotState } from "../slots/slot-admin.js";
import type { LeaderTerm } from "./polling-leader.js";

// How often the slot's state (and the WAL it retains) is reported.
const slotReportInterval = 10_000;

/** Reports the slot's state (and the WAL it retains) as a `slot` event until the returned stop is called. */
export function reportSlot(term: LeaderTerm, slot: string): () => void {
  const timer = setInterval(() => {
    slotState(term.pool, slot).then(
      (state) => state && term.events.slot({ name: slot, ...state }),
      (error: Error) => term.events.error(error),
    );
  }, slotReportInterval);
  // A report is no reason to keep the process alive.
  timer.unref();
  return () => clearInterval(timer);
}
