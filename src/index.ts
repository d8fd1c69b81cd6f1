// The public surface of the package: everything exported here is supported API.

export type { ClientOptions } from "./client/client.js";
export { Client } from "./client/client.js";
export type { EnqueueOptions, Headers } from "./client/enqueue-options.js";
export type { JobId } from "./client/job-id.js";
export type { ConnectionSource, PooledConnection, Queryable, TransactionAware } from "./database/queryable.js";
export type { PoutboxErrorCode } from "./errors.js";
export {
  errorCodes,
  InvalidOptionError,
  InvalidPayloadError,
  PoutboxError,
  SchemaMissingError,
  SchemaVersionError,
  TransactionStateError,
} from "./errors.js";
export type { MigrateOptions, MigrateResult } from "./schema/migrate.js";
export { migrate } from "./schema/migrate.js";
