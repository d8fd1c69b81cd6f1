// Compiles src/ to dist/ and copies the migration .sql files beside the compiled migrator,
// which reads them relative to its own URL. The CLI entry is made executable, as npm does
// for a `bin` when the package is installed, so dist/cli/main.js runs as it is here too.
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, rmSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
cpSync("src/schema/migrations", "dist/schema/migrations", { recursive: true });
chmodSync("dist/cli/main.js", 0o755);
