import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Peer, PeerName } from "./peer.js";

const folder = fileURLToPath(new URL(".", import.meta.url));

/**
 * The peers live in a package of their own (bench/peers/package.json), so that Poutbox never
 * depends on them; it is installed from its lock file the first time the benchmark needs it.
 */
export function installPeers(log: (line: string) => void): void {
  if (existsSync(`${folder}node_modules/pg-boss`) && existsSync(`${folder}node_modules/graphile-worker`)) return;
  log("installing bench/peers (npm ci)");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--prefix", folder], {
    stdio: ["ignore", "ignore", "inherit"],
  });
}

export async function loadPeer(name: PeerName, url: string): Promise<Peer> {
  if (name === "pg-boss") {
    const { openPgBoss } = await import("./pg-boss.js");
    return openPgBoss(url);
  }
  const { openGraphileWorker } = await import("./graphile-worker.js");
  return openGraphileWorker(url);
}
