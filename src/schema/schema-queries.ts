import { type Sql, sql } from "../database/query-rows.js";

/** The schema's migration version: 0 before the first migration. */
export function schemaVersionRead(quotedSchema: string): Sql<{ version: number }> {
  return sql(`SELECT coalesce(max(version), 0)::int AS version FROM ${quotedSchema}.schema_migrations`);
}
