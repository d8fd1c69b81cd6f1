import type { ChildProcess } from "node:child_process";
import { once } from "node:events";

/** How a child process ended, and all it wrote. */
export interface ChildOutput {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Collects what `child` writes to stdout and stderr until it exits. Called right after
 * spawn(), it misses nothing, and the caller may still feed stdin or watch the child.
 */
export async function outputOf(child: ChildProcess): Promise<ChildOutput> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const [code] = await once(child, "exit");
  return { code: code as number | null, stdout, stderr };
}
