import type { Queryable, SqlStateAware } from "./queryable.js";

const sqlStateFormat = /^[0-9A-Z]{5}$/;

/**
 * The SQLSTATE of a database error raised through `db`: from the adapter when it knows its
 * library's error shape, else the first five-character `code` on the error or its causes.
 */
export function sqlStateOf(db: Queryable, error: unknown): string | undefined {
  const fromAdapter = (db as Partial<SqlStateAware>).sqlState?.(error);
  if (fromAdapter !== undefined) return fromAdapter;
  let current = error;
  // A few levels are plenty; the bound only guards against a cause cycle.
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && sqlStateFormat.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The SQLSTATEs the library tells apart, by their names in PostgreSQL's errcodes table
 * (Appendix A of its manual).
 */
export const sqlStates = {
  invalidAuthorizationSpecification: "28000",
  invalidPassword: "28P01",
  inFailedSqlTransaction: "25P02",
  checkViolation: "23514",
  serializationFailure: "40001",
  deadlockDetected: "40P01",
  insufficientPrivilege: "42501",
  undefinedTable: "42P01",
  undefinedObject: "42704",
  duplicateObject: "42710",
  invalidSchemaName: "3F000",
  tooManyConnections: "53300",
  configurationLimitExceeded: "53400",
  objectNotInPrerequisiteState: "55000",
  lockNotAvailable: "55P03",
  queryCanceled: "57014",
  idleSessionTimeout: "57P05",
} as const;
