// The tools that check the package, its import structure and build its API reference
// (publint, Are The Types Wrong, madge, TypeDoc) are a package of their own, scripts/tools/,
// installed from its lock file the first time a script needs them: they bring TypeScript,
// syntax highlighting and parsers of their own, which would take a clone's `npm install` past
// 250 MB.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const tools = fileURLToPath(new URL("./tools/", import.meta.url));

/** The npm running this script (`npm run` sets npm_execpath), else the npm on PATH. */
export function npm(args, options = {}) {
  const cli = process.env.npm_execpath;
  return cli?.endsWith(".js")
    ? execFileSync(process.execPath, [cli, ...args], { encoding: "utf8", ...options })
    : execFileSync("npm", args, { encoding: "utf8", ...options });
}

/** `npm ci` in scripts/tools/ unless its node_modules came from the same lock file. */
export function installTools(say) {
  const marker = join(tools, "node_modules", ".poutbox-installed");
  const lock = createHash("sha256")
    .update(readFileSync(join(tools, "package-lock.json")))
    .digest("hex");
  if (existsSync(marker) && readFileSync(marker, "utf8") === lock) return;
  say("installing the tools into scripts/tools/node_modules (npm ci, once)");
  npm(["ci", "--no-audit", "--no-fund", "--prefix", tools], { stdio: ["ignore", "ignore", "inherit"] });
  writeFileSync(marker, lock);
}
