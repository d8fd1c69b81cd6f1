// Runs the README's quick start as a user pastes it: the first TypeScript block under
// "## Quick start", saved as a file of its own, run with tsx against this file's database,
// stopped with SIGTERM once it has delivered the order's job.
//
// tsx runs as a loader in the one process (`node --import tsx`), not as its command, which
// runs the script in a child and relays signals to it: when that child does not confirm a
// signal within 30 ms (a loaded machine), the command kills it and exits 143. That is tsx's
// affair; what is tested here is the example's own shutdown.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();
const root = new URL("..", import.meta.url).pathname;

function quickStartCode(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.split("\n## Quick start\n")[1]?.split("\n## ")[0];
  const code = section?.match(/```ts\n([\s\S]*?)```/)?.[1];
  if (!code) throw new Error("README.md has no ```ts block under ## Quick start");
  return code;
}

describe("the README's quick start", () => {
  // Inside test/, so that "poutbox" and "pg" resolve as in a user's project (test/node_modules
  // links the built package).
  const folder = mkdtempSync(join(root, "test", ".quick-start-"));
  after(() => rmSync(folder, { recursive: true, force: true }));

  it("saves an order with its job, delivers the job, and stops cleanly on SIGTERM", async () => {
    const file = join(folder, "outbox.mts");
    writeFileSync(file, quickStartCode());
    const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), file], {
      env: { ...process.env, DATABASE_URL: db.url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const delivered = new Promise<void>((resolve) =>
      child.stdout.on("data", (chunk) => {
        stdout += chunk;
        if (/order \d+: confirmation to ada@example\.com/.test(stdout)) resolve();
      }),
    );
    const early = exited.then((code) => {
      throw new Error(`the quick start ended (${code}) before delivering:\n${stdout}\n${stderr}`);
    });
    await Promise.race([delivered, early]);
    child.kill("SIGTERM");
    assert.equal(await exited, 0, stderr);
    assert.match(stdout, /^order 1: confirmation to ada@example\.com$/m);
    const { rows } = await db.pool.query("SELECT email FROM orders");
    assert.deepEqual(rows, [{ email: "ada@example.com" }]);
  });
});
