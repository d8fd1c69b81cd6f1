import { type Periodic, repeat } from "../core/periodic.js";
import { queryRow } from "../database/query-rows.js";
import type { LeaderTerm } from "./polling-leader.js";

// Jobs moved per statement: a full round means more are due, and the next round runs at once.
const promoteLimit = 1000;

/** Moves due scheduled and failed jobs into immediate, every promoteInterval, until stopped. */
export function startPromoter(term: LeaderTerm): Periodic {
  return repeat(
    term.options.promoteInterval,
    async () => {
      const { moved } = await queryRow(term.pool, term.queries.jobsPromote, [promoteLimit]);
      return moved >= promoteLimit;
    },
    (error) => term.events.error(error as Error),
  );
}
