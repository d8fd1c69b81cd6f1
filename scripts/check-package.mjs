// `npm run check:package`: packs the package as `npm publish` would (the `prepare` script
// builds dist/ first) and lints the tarball with the ecosystem's two package checkers:
// publint (the package.json fields against the files shipped) and Are The Types Wrong (how
// TypeScript resolves each entry's types under each module resolution). Any publint message,
// suggestions included, fails the check; attw runs with the profile and the one ignored rule
// explained in docs/development.md ("The package"). The tools come from scripts/tools/
// (see scripts/tools.mjs).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { installTools, npm, tools } from "./tools.mjs";

/**
 * attw's verdict, narrowed on purpose. The `node16` profile leaves out the `node10` column:
 * that resolution ignores the exports map, so no subpath can resolve there. The ignored rule,
 * `cjs-resolves-to-esm`, is the `require()` of an ES module that Node.js 20.19+ and 22.12+
 * perform and that TypeScript 5.8+ accepts under `module: nodenext`; attw's own TypeScript
 * (5.6) predates both.
 */
const attwArguments = ["--profile", "node16", "--ignore-rules", "cjs-resolves-to-esm"];

const say = (line) => console.log(`check:package: ${line}`);

installTools(say);
const folder = mkdtempSync(join(tmpdir(), "poutbox-check-package-"));
let failed = false;
try {
  // The build's own output goes to stderr; stdout carries npm's JSON alone.
  const [packed] = JSON.parse(
    npm(["pack", "--json", "--pack-destination", folder], { stdio: ["ignore", "pipe", "inherit"] }),
  );
  const tarball = join(folder, packed.filename);
  const kB = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;
  say(`${packed.filename}: ${packed.entryCount} files, ${kB(packed.size)} packed, ${kB(packed.unpackedSize)} unpacked`);

  const require = createRequire(join(tools, "package.json"));
  const { publint } = await import(pathToFileURL(require.resolve("publint")).href);
  const { formatMessage } = await import(pathToFileURL(require.resolve("publint/utils")).href);
  const bytes = readFileSync(tarball);
  const arrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const { messages, pkg } = await publint({ pack: { tarball: arrayBuffer }, level: "suggestion" });
  const publintVersion = JSON.parse(readFileSync(join(tools, "node_modules/publint/package.json"), "utf8")).version;
  if (messages.length === 0) say(`publint ${publintVersion}: no errors, warnings or suggestions`);
  for (const message of messages) {
    console.log(`publint ${message.type} ${message.code}: ${formatMessage(message, pkg, { color: false })}`);
  }
  failed ||= messages.length > 0;

  const attwPackage = join(tools, "node_modules/@arethetypeswrong/cli");
  const attwBin = JSON.parse(readFileSync(join(attwPackage, "package.json"), "utf8")).bin.attw;
  say(`attw ${attwArguments.join(" ")}`);
  const attw = spawnSync(process.execPath, [join(attwPackage, attwBin), tarball, ...attwArguments, "--no-color"], {
    stdio: "inherit",
  });
  failed ||= attw.status !== 0;
} finally {
  rmSync(folder, { recursive: true, force: true });
}
if (failed) {
  say("failed: see the findings above, and docs/development.md for the ones that are accepted");
  process.exit(1);
}
say("clean");
