// The demo's embedded PostgreSQL, in a process of its own that the demo starts in a new process
// group. Ctrl-C in a terminal signals the whole foreground group: a server in it would shut
// down at once and cut the demo's connections before the demo could drain and stop in order.
// Out here only the demo ends it: by closing this process's stdin, which also happens when the
// demo dies without cleaning up, so the server never outlives it.
//
// Prints one line on stdout once the server accepts connections: {"url": "postgres://..."}.
import { startEmbeddedCluster } from "../test/support/embedded-cluster.js";

const cluster = await startEmbeddedCluster();
process.stdout.write(`${JSON.stringify({ url: cluster.url })}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await cluster.stop();
  process.exit(0);
}

process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
