// `npm test`: runs every *.test.ts under test/ and src/ with Node's test runner, against
// DATABASE_URL when it is set, otherwise against an embedded PostgreSQL started for the run
// and removed after it. Arguments narrow the run to the given test files.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { startEmbeddedCluster } from "../dev/embedded-cluster.js";

const requested = process.argv.slice(2);
const files =
  requested.length > 0
    ? requested
    : ["src", "test"].flatMap((root) =>
        readdirSync(root, { recursive: true, encoding: "utf8" })
          .filter((file) => file.endsWith(".test.ts"))
          .map((file) => join(root, file))
          .sort(),
      );

const cluster = process.env.DATABASE_URL ? undefined : await startEmbeddedCluster();
const databaseUrl = process.env.DATABASE_URL ?? cluster?.url;
console.log(
  `poutbox tests: ${files.length} files on ${cluster ? "embedded PostgreSQL 17" : "DATABASE_URL"}, node ${process.version}`,
);

// Test files spend most of their time waiting on PostgreSQL, so run more of them than cores.
const concurrency = Math.max(2, availableParallelism() * 2);
const child = spawn(
  process.execPath,
  ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...files],
  { stdio: "inherit", env: { ...process.env, DATABASE_URL: databaseUrl } },
);
const stopSignals = ["SIGINT", "SIGTERM"] as const;
for (const signal of stopSignals) process.on(signal, () => child.kill(signal));
const code = await new Promise<number>((resolve) =>
  child.on("exit", (status, signal) => resolve(status ?? (signal ? 1 : 0))),
);
await cluster?.stop();
process.exit(code);
