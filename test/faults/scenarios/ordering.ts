import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Ledger } from "../ledger.js";
import type { Check, Scenario } from "../run.js";
import { batchesSeen, bound, inBatch, leading, sleep } from "./steps.js";

/**
 * Ordering keys through SIGKILL, takeover and restart: consumers with `ordering: "key"` (and a
 * handler failing every fifth job's first attempt) drain keyed jobs from two producers while
 * the leader is killed mid-batch, a standby takes over, and the new leader is stopped and
 * replaced. Every delivery of every process goes to one shared log in the order it happened;
 * the check: no job is delivered before every earlier committed job of its key succeeded,
 * whichever process handled either.
 */
export const orderedKeys: Scenario = {
  name: "ordered-keys",
  modes: ["polling", "replication"],
  async run(run) {
    const log = join(run.directory, "order.log");
    const flags = ["--ordering", "key", "--handler", "ordered", "--order-log", log];
    const first = run.consumer("a", { sleep: 20, flags });
    await leading(first);
    const standby = run.consumer("b", { sleep: 20, flags });
    const producing = run.produce({ transactions: 600, pause: 2, keys: 4 });
    await batchesSeen(first, 5);
    await inBatch(first);
    first.signal("SIGKILL");
    run.fault();
    await leading(standby);
    await batchesSeen(standby, 5);
    const third = run.consumer("c", { sleep: 20, flags });
    await sleep(100);
    standby.signal("SIGTERM");
    await standby.closed;
    await leading(third);
    await producing;
    return { bound: bound(2), check: () => checkOrder(run.ledger, log) };
  },
};

/** Reads the shared log and finds every delivery that came before an earlier job of its key succeeded. */
function checkOrder(ledger: Ledger, log: string): Check {
  const committed = ledger.committed();
  const succeeded = new Map<string, Set<number>>();
  const seqsOf = new Map<string, number[]>();
  for (const [id, { key, seq }] of ledger.keys) {
    if (committed.has(id)) seqsOf.set(key, [...(seqsOf.get(key) ?? []), seq]);
  }
  const violations: string[] = [];
  let deliveries = 0;
  for (const line of readFileSync(log, "utf8").split("\n")) {
    if (line === "") continue;
    deliveries++;
    const [id, key, seqText, attempt, ok] = line.split(" ");
    const seq = Number(seqText);
    const done = succeeded.get(key as string) ?? new Set<number>();
    const missing = (seqsOf.get(key as string) ?? []).filter((earlier) => earlier < seq && !done.has(earlier));
    if (missing.length > 0) {
      violations.push(`job ${id} (${key} #${seq}, attempt ${attempt}) before #${missing.join(", #")} succeeded`);
    }
    if (ok === "1") succeeded.set(key as string, done.add(seq));
  }
  const notes = `${deliveries} deliveries over ${seqsOf.size} keys; order ${violations.length === 0 ? "kept" : `broken: ${violations.slice(0, 3).join("; ")}`}`;
  return { failed: violations.length > 0 || deliveries === 0, notes };
}
