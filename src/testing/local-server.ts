import { chmodSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, parse } from "node:path";

/** A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no free port")),
      );
    });
  });
}

/** How many ports onFreePort tries before it gives up. */
const portTries = 3;

/** Whether a server's log says it could not listen on its port (something else took it). */
export function couldNotBind(log: string): boolean {
  return /could not bind|could not create any TCP\/IP sockets/.test(log);
}

/**
 * Starts a server on a free port, and again on another when `portTaken` says of its failure
 * that the port was gone: a port freePort() found free can be taken before the server binds
 * it (outgoing connections draw their local ports from the same range), and the server then
 * exits as it starts. `portTries` ports in all; any other failure is thrown at once.
 */
export async function onFreePort<T>(
  start: (port: number) => Promise<T>,
  portTaken: (error: unknown) => boolean,
  choosePort: () => Promise<number> = freePort,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await choosePort();
    try {
      return await start(port);
    } catch (error) {
      if (attempt === portTries || !portTaken(error)) throw error;
    }
  }
}

/**
 * Gives `folder` and every folder above it the search bit for others, so that a server run as
 * another user (PostgreSQL as `postgres` when we are root) can walk down to what it holds.
 */
export function letOthersReach(folder: string): void {
  const { root } = parse(folder);
  for (let current = folder; current !== root; current = dirname(current)) {
    const { mode } = statSync(current);
    if ((mode & 0o001) === 0) chmodSync(current, mode | 0o001);
  }
}
