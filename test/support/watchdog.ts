// Loaded by test/run.ts into every test file's process (node --import), so that no file can
// keep the run waiting forever:
//
// - A test still running POUTBOX_TEST_TIMEOUT ms after it started is reported by name, what
//   its file started is cleaned up (test/support/abandon.ts), and the process exits with
//   status 1, which fails the file. (Node's --test-timeout is no substitute on Node 20: there
//   it bounds each whole file, and the failure names only the file.) A test's own `timeout`
//   option, when shorter, applies first.
// - A process still alive two minutes after its file's last test (its after() hooks have
//   timeouts of their own, up to a minute) is kept alive by something a test started and did
//   not stop: what is still open is reported, and it exits with status 1.
import { relative } from "node:path";
import { after, afterEach, beforeEach } from "node:test";
import { abandon } from "./abandon.js";

const limit = Number(process.env.POUTBOX_TEST_TIMEOUT);
const lingerLimit = 120_000;
const file = relative(process.cwd(), process.argv[1] ?? "");

// Only in the processes that run test files (node --test sets NODE_TEST_CONTEXT there).
if (process.env.NODE_TEST_CONTEXT && limit > 0) {
  const timers = new Map<object, NodeJS.Timeout>();
  beforeEach((t) => {
    const name = (t as { fullName?: string }).fullName ?? t.name;
    const timer = setTimeout(() => void timedOut(name), limit);
    timer.unref();
    timers.set(t, timer);
  });
  afterEach((t) => {
    clearTimeout(timers.get(t));
    timers.delete(t);
  });
  // Registered before the test file's own after() hooks, so it runs first among them.
  after(() => {
    setTimeout(() => {
      // Less this process's own stdout and stderr.
      const open = process.getActiveResourcesInfo().filter((each) => each !== "TTYWrap" && each !== "PipeWrap");
      stop(`${file} is still running ${lingerLimit / 1000} s after its last test, held by: ${open.join(", ")}`);
    }, lingerLimit).unref();
  });
}

async function timedOut(name: string): Promise<void> {
  process.stderr.write(
    `poutbox tests: "${name}" was still running after ${limit / 1000} s, the limit for one test: ` +
      `stopping ${file} (the rest of its tests do not run)\n`,
  );
  await abandon(15_000);
  process.exit(1);
}

function stop(message: string): void {
  process.stderr.write(`poutbox tests: ${message}: something a test started was not stopped\n`);
  process.exit(1);
}
