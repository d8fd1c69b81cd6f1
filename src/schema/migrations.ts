import { readdirSync, readFileSync } from "node:fs";
import { quoteSchemaName } from "./schema-name.js";
import { wakeChannel } from "./server-names.js";

export interface Migration {
  readonly version: number;
  readonly name: string;
  /**
   * SQL with `{{schema}}` where the quoted schema name goes, and `{{wake_channel}}` where the
   * schema's NOTIFY channel goes (inside a string literal).
   */
  readonly sql: string;
}

const fileName = /^(\d{4})_([a-z0-9_]+)\.sql$/;

// The .sql files sit next to this module in src/ and in dist/ (the build copies them), so
// the same relative URL works from source and from the published package.
const folder = new URL("./migrations/", import.meta.url);

let cached: readonly Migration[] | undefined;

/** The migrations this version of the library ships, in order, numbered 1, 2, 3... */
export function migrations(): readonly Migration[] {
  if (cached) return cached;
  const found = readdirSync(folder)
    .map((file) => ({ file, match: fileName.exec(file) }))
    .filter((entry) => entry.match)
    .map(({ file, match }) => ({
      version: Number(match?.[1]),
      name: match?.[2] ?? file,
      sql: readFileSync(new URL(file, folder), "utf8"),
    }))
    .sort((a, b) => a.version - b.version);
  found.forEach((migration, index) => {
    // A gap or a duplicate number is a packaging mistake; applying around it would leave
    // databases that disagree about what version N means.
    if (migration.version !== index + 1) {
      throw new Error(`Poutbox migrations are not numbered 1..n: found ${migration.version} at position ${index + 1}`);
    }
  });
  cached = found;
  return found;
}

/**
 * The SQL of a migration for one schema. The schema name is a validated plain identifier, so
 * neither it nor its channel can contain a quote of either kind.
 */
export function migrationSql(migration: Migration, schema: string): string {
  return migration.sql
    .replaceAll("{{schema}}", quoteSchemaName(schema))
    .replaceAll("{{wake_channel}}", wakeChannel(schema));
}
