// Installs the packed package into two fresh applications in a temporary folder, as a user
// would: an ES module one and a CommonJS one (which loads Poutbox through require()). Each
// gets the tarball, one driver (postgres.js; pg comes as Poutbox's own dependency) and the
// TypeScript tools, type-checks a strict program that uses the main entry and the pg and
// postgres.js subpaths (test/fixtures/installed-app/), runs it as a producer and as a consumer
// against this file's database, and runs the installed `poutbox` command. Everything runs on
// the Node.js running this file, with its own npm, so each CI leg (Node 20, Node 24) tests its
// Node.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, delimiter, dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { useTestDatabase } from "./support/test-database.js";

const execFileAsync = promisify(execFile);
const db = useTestDatabase();
const root = fileURLToPath(new URL("../", import.meta.url));
const fixtures = fileURLToPath(new URL("./fixtures/installed-app/", import.meta.url));
const ownPackage = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string;
  devDependencies: Record<string, string>;
};

/**
 * Children get this Node.js first on PATH (so npm's scripts and the `poutbox` bin's
 * `#!/usr/bin/env node` run on it) and none of the npm_* variables `npm test` set, such as
 * npm_config_local_prefix, which names this repository. Nor FORCE_COLOR or NO_COLOR: the
 * installed command decides for itself that output into a pipe is plain text.
 */
const env = Object.fromEntries(
  Object.entries({ ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}` }).filter(
    ([name]) => !name.startsWith("npm_") && name !== "FORCE_COLOR" && name !== "NO_COLOR",
  ),
);

/** The npm of this Node.js: the one running `npm test` (npm_execpath), else the one beside node. */
const npm: [string, ...string[]] = (() => {
  const cli = process.env.npm_execpath;
  if (cli && basename(cli) === "npm-cli.js") return [process.execPath, cli];
  const beside = join(dirname(process.execPath), "npm");
  return [existsSync(beside) ? beside : "npm"];
})();

async function runWithStderr(
  command: string,
  args: string[],
  cwd: string,
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(command, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    assert.fail(`${[command, ...args].join(" ")} in ${cwd} failed: ${error}\n${stdout ?? ""}${stderr ?? ""}`);
  }
}

const run = async (command: string, args: string[], cwd: string) => (await runWithStderr(command, args, cwd)).stdout;
const runNpm = (args: string[], cwd: string) => runWithStderr(npm[0], [...npm.slice(1), ...args], cwd);

const flavours = [
  { name: "esm", type: "module" },
  { name: "cjs", type: "commonjs" },
] as const;

const folder = mkdtempSync(join(tmpdir(), "poutbox-install-"));
after(() => rmSync(folder, { recursive: true, force: true }));

// One tarball for both applications, installed into both at once. `npm test` has just built
// dist/, so the pack skips `prepare`; test/package.test.ts and the package check cover the rest.
before(
  async () => {
    assert.ok(existsSync(join(root, "dist/index.js")), "dist/ is missing: run the tests with `npm test`, which builds");
    const { stdout } = await runNpm(["pack", "--ignore-scripts", "--json", "--pack-destination", folder], root);
    const [packed] = JSON.parse(stdout) as { filename: string }[];
    const tarball = join(folder, packed?.filename ?? "");
    // Versions the repository itself installs, so that npm's cache serves them.
    const tools = ["postgres", "typescript", "@types/node", "@types/pg"].map(
      (name) => `${name}@${ownPackage.devDependencies[name]}`,
    );
    await Promise.all(
      flavours.map(async ({ name, type }) => {
        const app = join(folder, name);
        mkdirSync(app);
        // Installed from a file, Poutbox's `prepare` (which builds a clone) counts as an install
        // script, which npm 11 lists as not yet reviewed unless denied by the tarball's path;
        // from the registry it does not count.
        const allowScripts = { [`file:${tarball}`]: false };
        writeFileSync(
          join(app, "package.json"),
          JSON.stringify({ name: `${name}-app`, private: true, type, allowScripts }),
        );
        cpSync(join(fixtures, "tsconfig.json"), join(app, "tsconfig.json"));
        cpSync(join(fixtures, name, "app.ts"), join(app, "app.ts"));
        const { stderr } = await runNpm(
          ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball, ...tools],
          app,
        );
        assert.doesNotMatch(
          stderr,
          /npm warn/i,
          `npm install printed a warning in the ${name} application:\n${stderr}`,
        );
      }),
    );
  },
  { timeout: 300_000 },
);

for (const { name, type } of flavours) {
  describe(`a fresh ${type === "module" ? "ES module" : "CommonJS"} application with the packed package`, () => {
    const app = join(folder, name);
    const schema = `app_${name}`;
    const node = (...args: string[]) => run(process.execPath, args, app);

    it("type-checks a strict program using the main entry and two adapters, and compiles it", async () => {
      const installed = JSON.parse(readFileSync(join(app, "node_modules/poutbox/package.json"), "utf8"));
      assert.equal(installed.version, ownPackage.version);
      await node("node_modules/typescript/bin/tsc", "-p", ".");
      const compiled = readFileSync(join(app, "build/app.js"), "utf8");
      if (type === "commonjs") {
        for (const entry of ["poutbox", "poutbox/pg", "poutbox/postgres-js"]) {
          assert.match(compiled, new RegExp(`= require\\("${entry}"\\);`), `${entry} is loaded by require()`);
        }
      } else {
        assert.match(compiled, /^import \{ Client, Consumer, migrate \} from "poutbox";$/m);
      }
    });

    it("enqueues through pg and postgres.js in transactions, and a consumer delivers what committed", async () => {
      // Optional peers stay out: this also runs the library without @opentelemetry/api.
      assert.equal(existsSync(join(app, "node_modules/@opentelemetry/api")), false);
      const ids = JSON.parse(await node("build/app.js", "produce", db.url, schema)) as string[];
      assert.equal(ids.length, 2);
      const { rows } = await db.pool.query(`SELECT payload FROM ${schema}.immediate ORDER BY id`);
      assert.deepEqual(
        rows.map((row) => row.payload.via),
        ["pg", "postgres.js"],
        "stored: the two committed jobs, not the rolled-back one",
      );
      const delivered = (await node("build/app.js", "consume", db.url, schema, "2"))
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line));
      assert.deepEqual(delivered, [
        { id: ids[0], payload: { orderId: 1, via: "pg" } },
        { id: ids[1], payload: { orderId: 2, via: "postgres.js" } },
      ]);
    });

    it("runs the installed poutbox command", async () => {
      const bin = join(app, "node_modules/.bin/poutbox");
      assert.equal((await run(bin, ["--version"], app)).trim(), ownPackage.version);
      const shown = await run(bin, ["status", "--database-url", db.url, "--schema", schema], app);
      assert.match(shown, new RegExp(`^Poutbox schema "${schema}", migration \\d+, at `));
      assert.match(shown, /│ app +│ polling +│ none running +│ +0 │/, "the consumer, with nothing pending");
    });
  });
}
