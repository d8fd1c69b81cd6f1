import { sleep } from "../core/sleep.js";
import { queryRow } from "../database/query-rows.js";
import type { LeaderTerm } from "./polling-leader.js";

/** Moves due scheduled and failed jobs into immediate, every promoteInterval, until stopped. */
export function startPromoter(term: LeaderTerm): { stop(): Promise<void> } {
  const done = new AbortController();
  const loop = (async () => {
    while (!done.signal.aborted) {
      try {
        const { moved } = await queryRow<{ moved: number }>(term.pool, term.queries.jobsPromote, [1000]);
        // A full round means more are due: go again at once.
        if (moved >= 1000) continue;
      } catch (error) {
        term.events.error(error as Error);
      }
      await sleep(term.options.promoteInterval, done.signal);
    }
  })();
  return {
    async stop() {
      done.abort();
      await loop;
    },
  };
}
