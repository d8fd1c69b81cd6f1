import type { Scenario } from "../run.js";
import { batchesSeen, bound, errors, leading, progress, recordedLeader, sleep } from "./steps.js";

/** 3. pg_terminate_backend on every connection the consumer holds, one at a time, under load. */
export const terminateEachConnection: Scenario = {
  name: "terminate-each-connection",
  modes: ["polling", "replication"],
  async run(run) {
    const consumer = run.consumer("a", { sleep: 20 });
    await leading(consumer);
    const producing = run.produce({ transactions: 800, pause: 3 });
    await batchesSeen(consumer, 3);
    const killed: string[] = [];
    // One backend per round, each kind in turn: a pooled connection, the walsender
    // (replication), the leader lock's session; new ones replace them as it recovers.
    const kinds = ["pool", "walsender", "lock", "pool", "walsender", "lock"];
    for (const [round, kind] of kinds.entries()) {
      if (kind === "walsender" && run.mode !== "replication") continue;
      const { rows } = await run.pool.query(
        `SELECT a.pid, a.backend_type, pg_terminate_backend(a.pid) AS done FROM pg_stat_activity a
         WHERE a.pid = (
           SELECT b.pid FROM pg_stat_activity b
           WHERE b.application_name = $1
             AND CASE $2 WHEN 'walsender' THEN b.backend_type = 'walsender'
                         WHEN 'lock' THEN EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = b.pid AND l.locktype = 'advisory' AND l.granted)
                         ELSE b.backend_type = 'client backend'
                              AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = b.pid AND l.locktype = 'advisory' AND l.granted) END
           ORDER BY b.backend_start LIMIT 1)`,
        [`fault-${consumer.label}`, kind],
      );
      if (round === 0) run.fault();
      if (rows[0]) killed.push(kind);
      await sleep(400);
    }
    await producing;
    return {
      bound: bound(killed.length),
      notes: `terminated one at a time: ${killed.join(", ")}; process alive: ${consumer.running}`,
    };
  },
};

/**
 * 3. The network between the leader and the server is cut, then partitioned (bytes held,
 * sockets open: half-open connections) for longer than the leader timeout while a standby
 * with its own route takes over; then healed. The old leader must not commit.
 */
export const networkPartition: Scenario = {
  name: "network-cut-and-partition",
  modes: ["polling", "replication"],
  async run(run) {
    const proxy = await run.proxy();
    // A short wal_sender_timeout, so the partitioned leader's walsender lets the slot go.
    const options = run.mode === "replication" ? "?options=-c%20wal_sender_timeout%3D2s" : "";
    // The partitioned leader must lose its lock soon; a standby that takes over must keep it,
    // even through a stall of its own on a loaded machine.
    const settings = { sleep: 30, leaderTimeout: 1000, takeoverInterval: 100 };
    const standbySettings = { ...settings, leaderTimeout: 5000 };
    const a = run.consumer("a", { ...settings, url: proxy.url(run.suite.url) + options });
    await leading(a);
    let standby = run.consumer("b", { ...standbySettings, url: run.suite.url + options });
    await standby.waitForLine("READY");
    const producing = run.produce({ transactions: 1200, pause: 3 });
    await progress(run, 60);
    const cut = proxy.cut();
    run.fault();
    await progress(run, 40);
    // The partition must hit the leader: if the standby took over after the cut, kill it
    // (one more fault) so that the process behind the proxy leads again.
    let faults = 1;
    if ((await recordedLeader(run, [a, standby])) !== a) {
      standby.signal("SIGKILL");
      faults++;
      standby = run.consumer("c", { ...standbySettings, url: run.suite.url + options });
      await recordedLeader(run, [a]);
    }
    await progress(run, 40);
    proxy.blackhole();
    faults++;
    const next = await recordedLeader(run, [standby]);
    await progress(run, 40);
    proxy.heal();
    await producing;
    return {
      bound: bound(faults),
      notes: `${cut} connections cut; partitioned for the takeover by ${next.label}; errors of a after healing: ${errors(a).length}`,
    };
  },
};

/** 4. PostgreSQL restarted (fast shutdown) and crashed (immediate shutdown) under load. */
function restart(mode: "fast" | "immediate"): Scenario {
  return {
    name: `server-restart-${mode}`,
    modes: ["polling", "replication"],
    async run(run) {
      const consumer = run.consumer("a", { sleep: 10 });
      await leading(consumer);
      const producing = run.produce({ transactions: 1000, pause: 2, concurrency: 3 });
      await batchesSeen(consumer, 5);
      await run.suite.reconnectAfter(() => run.suite.cluster.restart(mode));
      run.fault();
      await producing;
      return {
        bound: bound(1),
        notes: `unknown outcomes resolved by order rows: ${run.ledger.count("unknown")}; consumer errors: ${errors(consumer).length}`,
      };
    },
  };
}

export const serverRestartFast = restart("fast");
export const serverRestartImmediate = restart("immediate");

/**
 * 14. Enqueue atomicity: rollbacks, rollback to a savepoint that held a job, and producer
 * connections cut right after COMMIT was sent: a job is delivered if and only if its order
 * row exists.
 */
export const enqueueAtomicity: Scenario = {
  name: "enqueue-atomicity",
  modes: ["polling", "replication"],
  async run(run) {
    const consumer = run.consumer("a");
    await leading(consumer);
    const proxy = await run.proxy();
    proxy.cutAfterCommit(25);
    await run.produce(
      { transactions: 400, rollbackEvery: 4, savepoint: true, concurrency: 4 },
      proxy.url(run.suite.url),
    );
    const unknown = run.ledger.count("unknown");
    const before = run.ledger.committed().size;
    await run.ledger.resolve(run.pool, run.schema);
    const landed = run.ledger.committed().size - before;
    return {
      bound: 0,
      notes: `${proxy.commitsCut} connections cut after COMMIT; ${landed} of those ${unknown} commits had landed (order row found), the others had not; ${run.ledger.count("rolled back")} jobs rolled back in all`,
    };
  },
};
