import type { ConsumerProcess } from "../../support/consumer-child.js";
import { waitFor } from "../../support/wait-for.js";
import type { Run, Scenario } from "../run.js";
import { batchesSeen, bound, inBatch, leading, sleep } from "./steps.js";

/** 1. SIGKILL of the consumer mid-batch, after side effects, before its progress is saved. */
export const sigkillMidBatch: Scenario = {
  name: "sigkill-mid-batch",
  modes: ["polling", "replication"],
  async run(run) {
    const first = run.consumer("a", { sleep: 100 });
    await leading(first);
    const producing = run.produce({ transactions: 400, pause: 2 });
    await batchesSeen(first, 3);
    await inBatch(first);
    first.signal("SIGKILL");
    run.fault();
    run.consumer("b");
    await producing;
    return { bound: bound(1) };
  },
};

/**
 * 2. A 1,000-job transaction split across handler batches; SIGKILL inside it; then the new
 * process's walsender terminated inside it too. The Go seed loses the rest of the
 * transaction here.
 */
export const splitTransaction: Scenario = {
  name: "split-transaction",
  modes: ["replication"],
  async run(run) {
    const size = 100;
    const first = run.consumer("a", { batchSize: size, sleep: 50 });
    await leading(first);
    await run.produce({ transactions: 1, size: 1000, rollbackEvery: 0 });
    await batchesSeen(first, 3);
    first.signal("SIGKILL");
    run.fault();
    const second = run.consumer("b", { batchSize: size, sleep: 200 });
    await batchesSeen(second, 2);
    // Its walsender, found once it streams, is terminated inside the same transaction.
    const terminated = await waitFor(
      async () => {
        const { rows } = await run.pool.query(
          "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE backend_type = 'walsender' AND application_name = $1",
          [`fault-${second.label}`],
        );
        return rows.length > 0;
      },
      { what: "the second process's walsender" },
    );
    return {
      bound: bound(2, size),
      notes: `walsender terminated: ${terminated}; the process goes on: ${second.running}`,
    };
  },
};

/** 6. SIGTERM while the handler is in a batch, with a grace period shorter and longer than the batch. */
function sigterm(name: string, grace: number): Scenario {
  return {
    name,
    modes: ["polling", "replication"],
    async run(run) {
      const first = run.consumer("a", { sleep: 1000, flags: ["--shutdown-timeout", String(grace)] });
      await leading(first);
      const producing = run.produce({ transactions: 200, pause: 2 });
      await batchesSeen(first, 2);
      await inBatch(first);
      const asked = Date.now();
      first.signal("SIGTERM");
      run.fault();
      await first.closed;
      const took = Date.now() - asked;
      const stopped = first.has("STOPPED");
      run.consumer("b");
      await producing;
      // A long grace lets the batch finish and commit: nothing comes back. A short one
      // abandons it: it comes back once.
      return { bound: grace >= 1000 ? 0 : bound(1), notes: `stopped cleanly: ${stopped}, in ${took} ms` };
    },
  };
}

export const sigtermShortGrace = sigterm("sigterm-short-grace", 100);
export const sigtermLongGrace = sigterm("sigterm-long-grace", 5000);

/**
 * 7. Three processes of one name: SIGKILL the leader; then SIGSTOP the next leader for
 * longer than the takeover time and SIGCONT it: it must not commit anything (fencing), and
 * progress never moves backwards.
 */
export const standbysAndPauses: Scenario = {
  name: "standbys-kill-and-pause",
  modes: ["polling", "replication"],
  async run(run) {
    const settings = { sleep: 50, leaderTimeout: 1000, takeoverInterval: 100 };
    const processes = ["a", "b", "c"].map((label) => run.consumer(label, settings));
    await Promise.all(processes.map((each) => each.waitForLine("READY")));
    const watch = watchProgress(run);
    const producing = run.produce({ transactions: 1500, pause: 3 });
    const leader = await firstLeader(processes);
    await batchesSeen(leader, 3);
    leader.signal("SIGKILL");
    run.fault();
    const second = await firstLeader(processes.filter((each) => each !== leader));
    await batchesSeen(second, 3);
    await inBatch(second);
    second.signal("SIGSTOP");
    const third = await firstLeader(processes.filter((each) => each !== leader && each !== second));
    await batchesSeen(third, 2);
    const stoppedAt = second.lines.length;
    second.signal("SIGCONT");
    await producing;
    await sleep(500);
    const backwards = await watch.stop();
    const resumed = second.lines.slice(stoppedAt).map((line) => line.text);
    return {
      bound: bound(2),
      notes: `progress moved backwards ${backwards} times; the paused leader after SIGCONT: ${summarise(resumed)}`,
    };
  },
};

/**
 * 8. The leader's lock connection is terminated while its handler runs: a standby takes
 * over at once, and the old leader must not commit the batch it was handling.
 */
export const lockConnectionKilled: Scenario = {
  name: "lock-connection-killed",
  modes: ["polling", "replication"],
  async run(run) {
    const settings = { sleep: 300, takeoverInterval: 50 };
    const processes = ["a", "b"].map((label) => run.consumer(label, settings));
    await Promise.all(processes.map((each) => each.waitForLine("READY")));
    const producing = run.produce({ transactions: 300, pause: 3 });
    const leader = await firstLeader(processes);
    await batchesSeen(leader, 2);
    await inBatch(leader);
    const { rows } = await run.pool.query(
      `SELECT pg_terminate_backend(l.pid) AS done FROM pg_locks l JOIN pg_stat_activity a USING (pid)
       WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1`,
      [`fault-${leader.label}`],
    );
    run.fault();
    await producing;
    return { bound: bound(1), notes: `lock sessions terminated: ${rows.length}` };
  },
};

/** The process that leads now: alive, and its last LEADER line not followed by STANDBY. */
export function firstLeader(processes: ConsumerProcess[]): Promise<ConsumerProcess> {
  return waitFor(() => processes.find((each) => each.running && isCurrent(each)), {
    timeout: 30_000,
    what: "a leader",
  });
}

function isCurrent(child: ConsumerProcess): boolean {
  const last = child.lines.findLast((line) => line.text.startsWith("LEADER") || line.text === "STANDBY");
  return last?.text.startsWith("LEADER") === true;
}

function summarise(lines: string[]): string {
  const batches = lines.filter((line) => line.startsWith("BATCH ")).length;
  const fenced = lines.filter((line) => /lost leadership|fenced/i.test(line)).length;
  return `${batches} batches started, ${fenced} fenced commits reported`;
}

/** Samples the consumers' progress rows and counts any step backwards. */
function watchProgress(run: Run): { stop(): Promise<number> } {
  let backwards = 0;
  let last: { xmin: bigint; lsn: bigint } | undefined;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await run.pool.query(
        `SELECT pg_snapshot_xmin(snapshot)::text AS xmin, coalesce(acked_lsn - '0/0', 0)::text AS lsn
         FROM "${run.schema}".consumers WHERE name = 'default'`,
      );
      const row = rows[0];
      if (row) {
        const now = { xmin: BigInt(row.xmin), lsn: BigInt(String(row.lsn).split(".")[0] ?? "0") };
        if (last && (now.xmin < last.xmin || now.lsn < last.lsn)) backwards++;
        last = now;
      }
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return backwards;
    },
  };
}
