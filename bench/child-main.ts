// The child side of child-process.ts: takes one task over IPC, runs it, sends its result, exits.

import { drainWithConsumer } from "./tasks/consumer-drain.js";
import { enqueueInChild } from "./tasks/enqueue.js";
import { drainWithKeyset } from "./tasks/keyset-drain.js";
import { runLiveConsumer } from "./tasks/live-consumer.js";
import { drainWithRawReader } from "./tasks/raw-replication-drain.js";
import type { ChildMessage, Task } from "./tasks/task.js";

async function run(task: Task): Promise<unknown> {
  switch (task.kind) {
    case "consumer-drain":
      return drainWithConsumer(task);
    case "keyset-drain":
      return drainWithKeyset(task);
    case "raw-replication-drain":
      return drainWithRawReader(task);
    case "live-consumer":
      return runLiveConsumer(task);
    case "enqueue":
      return enqueueInChild(task);
    case "relay-drain":
    case "raw-publish": {
      // Imported only here: the broker clients load only for the relay scenario.
      const { drainWithRelay, publishRaw } = await import("./relays/relay-drain.js");
      return task.kind === "relay-drain" ? drainWithRelay(task) : publishRaw(task);
    }
    case "peer-drain": {
      // Imported only here: the peers live in their own package (bench/peers).
      const { drainWithPeer } = await import("./peers/peer-drain.js");
      return drainWithPeer(task);
    }
  }
}

/**
 * With `telemetry: true`, the task runs with an OpenTelemetry SDK registered first (before it
 * makes a client or a consumer), and its result carries what the SDK exported.
 */
async function runTask(task: Task): Promise<unknown> {
  if (!("telemetry" in task && task.telemetry)) return run(task);
  // Imported only here: other children load no SDK (their RSS stays theirs).
  const { registerTelemetrySdk } = await import("./telemetry-sdk.js");
  const sdk = registerTelemetrySdk();
  const result = await run(task);
  return { ...(result as object), telemetry: await sdk.finish() };
}

process.once("message", (task: Task) => {
  runTask(task).then(
    (result) => process.send?.({ type: "result", result } satisfies ChildMessage, () => process.exit(0)),
    (error: Error) => {
      console.error(error);
      process.exit(1);
    },
  );
});
