// Compiles src/ to dist/ and copies the migration .sql files beside the compiled migrator,
// which reads them relative to its own URL. The CLI entry is made executable, as npm does
// for a `bin` when the package is installed, so dist/cli/main.js runs as it is here too.
// Then the dashboard's browser UI (src/dashboard/ui/) is bundled by esbuild into
// dist/dashboard/assets/: app.js and app.css (Preact, htm, uPlot and the pages, no external
// requests), with index.html beside them. The UI is JavaScript checked by TypeScript through
// JSDoc (src/dashboard/ui/tsconfig.json, with the DOM's types), so that the library's own
// compilation, for Node.js, neither sees it nor gets the DOM's globals.
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, rmSync } from "node:fs";
import { build } from "esbuild";

rmSync("dist", { recursive: true, force: true });
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
cpSync("src/schema/migrations", "dist/schema/migrations", { recursive: true });
chmodSync("dist/cli/main.js", 0o755);

await build({
  entryPoints: { app: "src/dashboard/ui/main.js" },
  outdir: "dist/dashboard/assets",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome109", "firefox115", "safari16"],
  minify: true,
  legalComments: "linked",
  logLevel: "warning",
});
cpSync("src/dashboard/ui/index.html", "dist/dashboard/assets/index.html");
