// Compiles src/ to dist/ and copies the migration .sql files beside the compiled migrator,
// which reads them relative to its own URL.
import { execFileSync } from "node:child_process";
import { cpSync, rmSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
cpSync("src/schema/migrations", "dist/schema/migrations", { recursive: true });
