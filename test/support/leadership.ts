import assert from "node:assert/strict";
import type { ConsumerProcess } from "./consumer-child.js";
import { waitFor } from "./wait-for.js";

/**
 * Waits until two consumer processes sharing a name have each become leader or standby, and
 * checks that exactly one of them leads; the tests that kill the leader start from here.
 */
export async function settleLeadership(
  p: ConsumerProcess,
  q: ConsumerProcess,
): Promise<{ leader: ConsumerProcess; standby: ConsumerProcess }> {
  await waitFor(() => [p, q].every((child) => child.has("LEADER") || child.has("STANDBY")), {
    what: `both processes to settle (${p.describe()} / ${q.describe()})`,
  });
  const leaders = [p, q].filter((child) => child.has("LEADER"));
  assert.equal(leaders.length, 1, `exactly one leader: ${p.describe()} / ${q.describe()}`);
  const leader = leaders[0] as ConsumerProcess;
  const standby = leader === p ? q : p;
  assert.ok(standby.has("STANDBY"));
  return { leader, standby };
}
