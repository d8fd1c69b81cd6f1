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
