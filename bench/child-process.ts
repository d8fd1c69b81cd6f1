import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ChildMessage, ParentMessage, Task } from "./tasks/task.js";

export interface ChildOptions {
  /** Write a .cpuprofile of the child into this folder. */
  readonly cpuProfileDir?: string | undefined;
  /** Runs when the child says it is ready; its result is sent to the child (see ParentMessage). */
  readonly onReady?: () => Promise<ParentMessage | undefined>;
  /** The child is killed after this long, ms. */
  readonly timeout?: number;
}

const childMain = fileURLToPath(new URL("./child-main.ts", import.meta.url));

/**
 * Runs a task in a child process of its own, so that its peak RSS and CPU profile are the
 * task's alone, and a consumer does not share a core with the producers measuring it.
 */
export function runChild<Result>(task: Task, options: ChildOptions = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const profile = options.cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
    // process.execArgv carries tsx's loader, so the child runs TypeScript as this process does.
    const child = fork(childMain, [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: [...process.execArgv, ...profile],
    });
    let result: { value: unknown } | undefined;
    let failure: Error | undefined;
    const timer = setTimeout(() => {
      failure = new Error(`${task.kind} did not finish within ${options.timeout} ms`);
      child.kill();
    }, options.timeout ?? 600_000);
    child.on("message", (message: ChildMessage) => {
      if (message.type === "result") {
        result = { value: message.result };
        return;
      }
      (options.onReady?.() ?? Promise.resolve(undefined)).then(
        (reply) => {
          if (reply) child.send(reply);
        },
        (error: Error) => {
          failure = error;
          child.kill();
        },
      );
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (failure) reject(failure);
      else if (result) resolve(result.value as Result);
      else reject(new Error(`${task.kind} child exited with code ${code} and no result`));
    });
    child.send(task);
  });
}
