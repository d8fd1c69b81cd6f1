import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface EmbeddedServer {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts cluster-process.ts detached (its own process group, see there) and waits for its
 * connection string. stop() closes its stdin, which makes it stop the server and remove the
 * data folder, and waits for it to exit.
 */
export async function startEmbeddedServer(): Promise<EmbeddedServer> {
  const script = fileURLToPath(new URL("./cluster-process.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), script], {
    detached: true,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = once(child, "exit");
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, "line").then(([line]) => line as string),
    exited.then(([code]) => {
      throw new Error(`the embedded PostgreSQL could not start (its process exited with ${code})`);
    }),
  ]);
  lines.close();
  const { url } = JSON.parse(first) as { url: string };
  return {
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      await exited;
    },
  };
}
