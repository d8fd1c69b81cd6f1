import { InvalidOptionError } from "../core/errors.js";

export const defaultSchemaName = "poutbox";

// A plain identifier only: the name is spliced into SQL (identifiers cannot be bind
// parameters), so anything that would need escaping is refused rather than escaped.
const plainIdentifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

// PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes; a silently truncated name could
// alias another schema, so a longer one is an error.
const maxIdentifierLength = 63;

/**
 * Validates a schema name and returns it double-quoted, ready to splice into SQL.
 * Quoting keeps the case as written, so `Outbox` and `outbox` are different schemas.
 */
export function quoteSchemaName(name: unknown): string {
  if (typeof name !== "string") {
    throw new InvalidOptionError("schema", `expected a string, got ${typeof name}`);
  }
  if (!plainIdentifier.test(name)) {
    throw new InvalidOptionError(
      "schema",
      `${JSON.stringify(name)} is not a plain identifier (letters, digits and underscores, not starting with a digit)`,
    );
  }
  if (name.length > maxIdentifierLength) {
    throw new InvalidOptionError("schema", `"${name}" is longer than ${maxIdentifierLength} characters`);
  }
  if (name.toLowerCase().startsWith("pg_")) {
    throw new InvalidOptionError("schema", `"${name}": names starting with pg_ are reserved by PostgreSQL`);
  }
  return `"${name}"`;
}

/**
 * The `schema` option resolved once: the name as given, for the names derived from it and for
 * messages, and the validated, quoted identifier for SQL. Default "poutbox".
 */
export interface ResolvedSchema {
  readonly schema: string;
  readonly quotedSchema: string;
}

export function resolveSchema(option: unknown): ResolvedSchema {
  const schema = option === undefined ? defaultSchemaName : option;
  return { schema: schema as string, quotedSchema: quoteSchemaName(schema) };
}
