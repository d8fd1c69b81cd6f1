/**
 * Test your handlers and producers against a real PostgreSQL: a throw-away, migrated database
 * ({@link startTestDatabase}), a consumer run until the outbox is drained ({@link drain}), and
 * what the outbox holds ({@link outboxContents}).
 *
 * @module poutbox/testing
 */
// The public surface of `poutbox/testing`: helpers for testing handlers and producers against
// a real PostgreSQL. Everything exported here is supported API.

export type { DrainOptions, DrainResult } from "./drain.js";
export { drain } from "./drain.js";
export type { EmbeddedPostgresModule, EmbeddedPostgresOptions, EmbeddedPostgresServer } from "./embedded-server.js";
export type {
  FailedJob,
  OutboxContents,
  OutboxContentsOptions,
  OutboxJob,
  PendingJob,
  ScheduledJob,
} from "./outbox-contents.js";
export { outboxContents } from "./outbox-contents.js";
export type { StartTestDatabaseOptions, TestDatabase } from "./start-test-database.js";
export { startTestDatabase } from "./start-test-database.js";
export type { DrainRemainder } from "./testing-errors.js";
export { DrainTimeoutError, TestServerUnavailableError } from "./testing-errors.js";
