import { SchemaMissingError, SchemaVersionError } from "../core/errors.js";
import type { Queryable } from "../database/queryable.js";
import { migrations } from "./migrations.js";

/**
 * Fails unless the schema is migrated to exactly the version this library knows: behind
 * means `migrate()` was not run after an upgrade, ahead means a newer library migrated it.
 */
export async function checkSchema(db: Queryable, schema: string, quoted: string): Promise<void> {
  const known = migrations().length;
  let version: number;
  try {
    const { rows } = await db.query(`SELECT coalesce(max(version), 0) AS version FROM ${quoted}.schema_migrations`);
    version = Number((rows[0] as { version: number }).version);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "42P01" || code === "3F000") throw new SchemaMissingError(schema, { cause: error });
    throw error;
  }
  if (version > known) throw new SchemaVersionError(schema, version, known);
  if (version < known) {
    throw new SchemaMissingError(schema, {
      cause: new Error(`schema is at migration ${version}, this library needs ${known}`),
    });
  }
}
