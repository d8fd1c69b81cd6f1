// `npm run docs:api`: builds the API reference from the TSDoc comments into build/api/ with
// TypeDoc, one module per entry of package.json's exports map, so a new subpath gets its page
// without a second list to keep. Any TypeDoc warning fails it (typedoc.json): a type the
// public API names but does not export, or a broken {@link}, is found in CI, not by a reader.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { installTools, tools } from "./tools.mjs";

const say = (line) => console.log(`docs:api: ${line}`);
installTools(say);

const { exports } = JSON.parse(readFileSync("package.json", "utf8"));
const entryPoints = Object.values(exports)
  .filter((entry) => typeof entry === "object")
  .map((entry) => entry.default.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts"));

const typedoc = join(tools, "node_modules/typedoc/bin/typedoc");
const run = spawnSync(process.execPath, [typedoc, "--options", "typedoc.json", ...entryPoints], { stdio: "inherit" });
if (run.status !== 0) {
  say("failed: see TypeDoc's messages above");
  process.exit(1);
}
say(`${entryPoints.length} entry points documented in build/api/index.html`);
