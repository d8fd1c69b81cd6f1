import type { Scenario } from "../run.js";
import { firstLeader } from "./crashes.js";
import { batchesSeen, bound, errors, leading, sleep } from "./steps.js";

/**
 * 5. A handler slower than wal_sender_timeout (set to 2 s on the consumer's connections; 1 s
 * would leave a loaded machine too little slack): reading pauses for backpressure, yet the
 * walsender must stay alive.
 */
export const slowHandler: Scenario = {
  name: "handler-slower-than-wal-sender-timeout",
  modes: ["polling", "replication"],
  async run(run) {
    const url = `${run.suite.url}?options=-c%20wal_sender_timeout%3D2s`;
    const consumer = run.consumer("a", { url, sleep: 5000, batchSize: 50 });
    await leading(consumer);
    await run.produce({ transactions: 200, concurrency: 2 });
    await batchesSeen(consumer, 3);
    return { bound: 0, notes: `errors during 5 s batches: ${errors(consumer).length}` };
  },
};

/**
 * 5. A handler that blocks the event loop (3 s, longer than leaderTimeout): heartbeats stop,
 * the server ends the lock session, the standby takes over, the blocked leader is fenced.
 */
export const blockingHandler: Scenario = {
  name: "handler-blocks-event-loop",
  modes: ["polling", "replication"],
  async run(run) {
    const settings = { leaderTimeout: 1000, takeoverInterval: 100, flags: ["--handler", "block"], sleep: 3000 };
    const a = run.consumer("a", settings);
    await leading(a);
    const b = run.consumer("b", settings);
    await b.waitForLine("READY");
    const producing = run.produce({ transactions: 300, pause: 3 });
    await batchesSeen(a, 1);
    run.fault();
    await producing;
    const leader = await firstLeader([a, b]);
    // Each process blocks on its first batch: two lost leaderships at most.
    return { bound: bound(2), notes: `leader at the end: ${leader.label}; errors of a: ${errors(a).length}` };
  },
};

/** 5. A handler that never settles and ignores its AbortSignal: handlerTimeout fails the batch; it is retried. */
export const hangingHandler: Scenario = {
  name: "handler-never-settles",
  modes: ["polling", "replication"],
  async run(run) {
    const consumer = run.consumer("a", { flags: ["--handler", "hang-once", "--handler-timeout", "1000"] });
    await leading(consumer);
    await run.produce({ transactions: 200, pause: 2 });
    run.fault();
    return { bound: 0, notes: `process alive: ${consumer.running}` };
  },
};

/**
 * 13. Handler results: partial failures, a throw for a whole batch, failures naming ids not
 * in the batch. The process survives, the error text is stored, attempt counts are exact, and
 * jobs that always fail reach dead_letter after maxAttempts (3).
 */
export const handlerResults: Scenario = {
  name: "handler-results",
  modes: ["polling", "replication"],
  async run(run) {
    const consumer = run.consumer("a", { flags: ["--handler", "chaos", "--max-attempts", "3"] });
    await leading(consumer);
    await run.produce({ transactions: 300, pause: 1 });
    await run.drain();
    await sleep(300);
    const { rows } = await run.pool.query(
      `SELECT id::text, attempts, last_error FROM "${run.schema}".dead_letter ORDER BY id`,
    );
    const committed = run.ledger.committed();
    const expectedDead = [...committed].filter((id) => id % 7n === 0n);
    const wrong = rows.filter(
      (row) => BigInt(row.id) % 7n !== 0n || row.attempts !== 3 || !String(row.last_error).includes("always fails"),
    );
    const ok = wrong.length === 0 && rows.length === expectedDead.length;
    return {
      bound: 0,
      notes: `dead letters ${rows.length} of ${expectedDead.length} expected, ${wrong.length} with a wrong attempt count or error; process alive: ${consumer.running}${ok ? "" : ` MISMATCH: ${JSON.stringify(wrong.slice(0, 4))}`}`,
      failed: !ok,
    };
  },
};

/**
 * 13. A rejected promise the handler leaves floating. Node's default for an unhandled
 * rejection ends the process; the library does not install a process-wide handler that would
 * hide the application's bug. What must hold: nothing is lost, the next process goes on.
 */
export const floatingRejection: Scenario = {
  name: "handler-floating-rejection",
  modes: ["polling", "replication"],
  async run(run) {
    const a = run.consumer("a", { flags: ["--handler", "float"], sleep: 50 });
    await leading(a);
    const producing = run.produce({ transactions: 200, pause: 2 });
    await a.closed;
    run.fault();
    const code = a.child.exitCode;
    run.consumer("b");
    await producing;
    return {
      bound: bound(1),
      notes: `the process exited with code ${code} (Node's default policy); the next one resumed`,
    };
  },
};
