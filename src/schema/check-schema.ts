import { SchemaMissingError, SchemaVersionError } from "../core/errors.js";
import { queryRow } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { sqlStateOf, sqlStates } from "../database/sql-state.js";
import { migrations } from "./migrations.js";
import { schemaVersionRead } from "./schema-queries.js";

/**
 * Fails unless the schema is migrated to exactly the version this library knows: behind
 * means `migrate()` was not run after an upgrade, ahead means a newer library migrated it.
 */
export async function checkSchema(db: Queryable, schema: string, quoted: string): Promise<void> {
  const known = migrations().length;
  let version: number;
  try {
    version = Number((await queryRow(db, schemaVersionRead(quoted))).version);
  } catch (error) {
    const code = sqlStateOf(db, error);
    if (code === sqlStates.undefinedTable || code === sqlStates.invalidSchemaName) {
      throw new SchemaMissingError(schema, { cause: error });
    }
    throw error;
  }
  if (version > known) throw new SchemaVersionError(schema, version, known);
  if (version < known) {
    throw new SchemaMissingError(schema, {
      cause: new Error(`schema is at migration ${version}, this library needs ${known}`),
    });
  }
}
