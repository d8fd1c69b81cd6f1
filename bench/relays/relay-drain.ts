import pg from "pg";
import { Consumer } from "../../src/index.js";
import { relayHeaders } from "../../src/relays/relay-message.js";
import { payload } from "../database.js";
import type { Drained, RawPublishTask, RelayDrainTask } from "../tasks/task.js";
import { peakRssMb } from "../tasks/task.js";
import { openBroker, type RawMessage } from "./brokers.js";

/** Times a relay from start() until it has published `n` jobs (its batches' count). */
export async function drainWithRelay(task: RelayDrainTask): Promise<Drained> {
  const broker = await openBroker(task.broker, task.destination);
  const pool = new pg.Pool({ connectionString: task.url, max: 4 });
  let published = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const relay = new Consumer(pool, broker.relay(), {
    schema: task.schema,
    name: task.name,
    batchSize: task.batchSize,
    maintenance: false,
  });
  relay.on("batch", (batch) => {
    if (batch.failed > 0) throw new Error(`the relay failed ${batch.failed} publishes`);
    published += batch.jobs;
    if (published >= task.n) done();
  });
  const started = performance.now();
  await relay.start();
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await relay.stop();
  await pool.end();
  await broker.close();
  return { seconds, peakRssMb: peakRssMb() };
}

/** Publishes `n` messages shaped as the relay's, `batchSize` outstanding at a time, and times it. */
export async function publishRaw(task: RawPublishTask): Promise<Drained> {
  const broker = await openBroker(task.broker, task.destination);
  const enqueuedAt = new Date().toISOString();
  const started = performance.now();
  for (let first = 1; first <= task.n; first += task.batchSize) {
    const window: RawMessage[] = [];
    for (let index = first; index < Math.min(first + task.batchSize, task.n + 1); index++) {
      window.push({
        id: `${index}-${Date.now()}`,
        body: JSON.stringify(payload(index)),
        headers: {
          [relayHeaders.id]: String(index),
          [relayHeaders.topic]: "orders",
          [relayHeaders.enqueuedAt]: enqueuedAt,
          [relayHeaders.attempt]: "1",
          [relayHeaders.contentType]: "application/json",
        },
      });
    }
    await broker.publishRaw(window);
  }
  const seconds = (performance.now() - started) / 1000;
  await broker.close();
  return { seconds, peakRssMb: peakRssMb() };
}
