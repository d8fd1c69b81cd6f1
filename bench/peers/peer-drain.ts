import type { Drained, PeerDrainTask } from "../tasks/task.js";
import { peakRssMb } from "../tasks/task.js";
import { graphileRunOptions, importGraphileWorker } from "./graphile-worker.js";
import { peerQueue } from "./peer.js";
import { pgBossWorkOptions, startPgBoss } from "./pg-boss.js";

/** A peer's worker, with its best documented throughput settings, handles `n` queued jobs. */
export async function drainWithPeer(task: PeerDrainTask): Promise<Drained> {
  let seen = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const count = (jobs: number) => {
    seen += jobs;
    if (seen >= task.n) done();
  };
  if (task.peer === "pg-boss") {
    const boss = await startPgBoss(task.url);
    // Timed from its worker's start: start() checks and upgrades pg-boss's schema first.
    const started = performance.now();
    await boss.work(peerQueue, pgBossWorkOptions, async (jobs) => count(jobs.length));
    await finished;
    const seconds = (performance.now() - started) / 1000;
    await boss.stop({ graceful: false, timeout: 1000 });
    return { seconds, peakRssMb: peakRssMb() };
  }
  const worker = await importGraphileWorker();
  const started = performance.now();
  const runner = await worker.run({
    ...graphileRunOptions(worker, task.url),
    taskList: { [peerQueue]: async () => count(1) },
  });
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await runner.stop();
  return { seconds, peakRssMb: peakRssMb() };
}
