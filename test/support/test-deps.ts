// The libraries only the tests use (the ORMs, Prisma's generator, PostgreSQL 15) are a package
// of their own, test/package.json with its lock file, so that `npm install` at the root stays
// small. `npm test`, `npm run lint` and the fault suite on PostgreSQL 15 install it here before
// they need it; run alone (`npx tsx test/support/test-deps.ts`) it does just that.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const folder = fileURLToPath(new URL("../", import.meta.url));
const modules = join(folder, "node_modules");
/** Written after a successful install: the hash of the lock file it installed. */
const marker = join(modules, ".poutbox-installed");

/**
 * Runs `npm ci` in test/ when its node_modules are missing or were installed from another lock
 * file. npm's output is shown only when the install fails: on Node 20 it warns that a package
 * of Prisma's CLI (@prisma/streams-local, for `prisma dev`, which the tests never run) wants
 * Node 22, a warning about nothing the tests use.
 */
export function installTestDeps(log: (line: string) => void): void {
  const lock = createHash("sha256")
    .update(readFileSync(join(folder, "package-lock.json")))
    .digest("hex");
  if (existsSync(marker) && readFileSync(marker, "utf8") === lock) return;
  log("installing the test libraries into test/node_modules (npm ci, once)");
  const started = Date.now();
  const npm = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--prefix", folder], {
    cwd: folder,
    encoding: "utf8",
  });
  if (npm.status !== 0) {
    process.stderr.write(`${npm.stdout ?? ""}${npm.stderr ?? ""}`);
    throw new Error(`npm ci in ${folder} failed (${npm.error?.message ?? `exit status ${npm.status}`})`);
  }
  // test/package.json is the nearest package.json of every test file, so "poutbox" no longer
  // refers to the package itself there; a link makes it resolve to the root package, as a
  // user's node_modules/poutbox would (test/package.test.ts and its fixtures import it so).
  symlinkSync(join("..", ".."), join(modules, "poutbox"), "dir");
  writeFileSync(marker, lock);
  log(`test libraries installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  installTestDeps((line) => console.log(`poutbox: ${line}`));
}
