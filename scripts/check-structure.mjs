// Part of `npm run lint`: the import structure of src/ stays a building whose floors only
// import downwards. With madge (scripts/tools/, installed on demand) it fails on
//   - a cycle between files;
//   - a cycle between folders (src/a/ imports src/b/ and src/b/ imports src/a/, directly or
//     round a longer loop), which a file cycle check alone lets through;
//   - an import that a folder's rule below forbids;
//   - a layout table in docs/architecture.md that names a folder of src/ that is not there,
//     or leaves one out.
// Test files are left out: they may import from anywhere.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { installTools, tools } from "./tools.mjs";

const say = (line) => console.log(`check:structure: ${line}`);
installTools(say);
const madge = createRequire(join(tools, "package.json"))("madge");

/**
 * What some folders may import besides themselves. core/ is the ground floor; the replication
 * protocol, like a driver's protocol package, knows nothing of consumers, slots or schemas.
 */
const allowed = {
  "src/core": [],
  "src/replication": ["src/core"],
  "src/database": ["src/core"],
  "src/telemetry": ["src/core"],
};

const result = await madge("src", {
  fileExtensions: ["ts"],
  tsConfig: "tsconfig.json",
  excludeRegExp: [/\.test\.ts$/],
});
const graph = result.obj();
const problems = [];

for (const cycle of result.circular()) problems.push(`file cycle: ${cycle.join(" -> ")} -> ${cycle[0]}`);

const folderOf = (file) => {
  const folder = dirname(`src/${file}`);
  return folder === "src" ? `src/${file}` : folder;
};
const folders = new Map();
for (const [file, imports] of Object.entries(graph)) {
  const from = folderOf(file);
  for (const target of imports) {
    const to = folderOf(target);
    if (from === to) continue;
    if (!folders.has(from)) folders.set(from, new Map());
    folders.get(from).set(to, `${file} imports ${target}`);
    const rule = allowed[from];
    if (rule && !rule.includes(to))
      problems.push(`${from} may import only ${rule.join(", ") || "itself"}: src/${file} imports src/${target}`);
  }
}

// Folder cycles, by depth-first search: a back edge closes a loop.
const state = new Map();
const path = [];
function visit(folder) {
  state.set(folder, "open");
  path.push(folder);
  for (const [next, why] of folders.get(folder) ?? []) {
    if (state.get(next) === "open") {
      const loop = [...path.slice(path.indexOf(next)), next];
      problems.push(`folder cycle: ${loop.join(" -> ")} (for one: ${why})`);
    } else if (!state.has(next)) visit(next);
  }
  path.pop();
  state.set(folder, "done");
}
for (const folder of folders.keys()) if (!state.has(folder)) visit(folder);

// The layout table lists src/'s top-level folders and files (src/cli/commands/ is told of in
// its parent's row).
const layout = readFileSync("docs/architecture.md", "utf8").split("\n## Layout\n")[1]?.split("\n## ")[0] ?? "";
const documented = new Set(
  [...layout.matchAll(/^\| [^|]+ \| `(src\/[^`]+)` \|/gm)].map((match) => match[1].replace(/\/$/, "")),
);
const present = new Set(
  readdirSync("src", { withFileTypes: true })
    .filter((entry) => entry.isDirectory() || (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")))
    .map((entry) => `src/${entry.name}`),
);
for (const name of present)
  if (!documented.has(name)) problems.push(`docs/architecture.md's layout table leaves out ${name}`);
for (const name of documented)
  if (!present.has(name)) problems.push(`docs/architecture.md's layout table names ${name}, which is not there`);

if (problems.length > 0) {
  for (const problem of problems) say(problem);
  process.exit(1);
}
say(
  `${Object.keys(graph).length} files in ${folders.size} folders: no cycle, every folder rule kept, the layout table in docs/architecture.md complete`,
);
