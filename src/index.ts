/**
 * The transactional outbox: {@link migrate} creates the schema, {@link Client} enqueues jobs
 * in your transaction, {@link Consumer} delivers them to your handler at least once, by
 * snapshot polling or logical replication.
 *
 * @module poutbox
 */
// The public surface of the package: everything exported here is supported API.

export type { ClientOptions, EnqueueArguments, EnqueueManyArguments, TopicEnqueueOptions } from "./client/client.js";
export { Client } from "./client/client.js";
export type { EnqueueManyOptions, EnqueueOptions, Headers } from "./client/enqueue-options.js";
export type { BackoffOptions } from "./consumer/backoff.js";
export type { ConsumerEvents } from "./consumer/consumer.js";
export { Consumer } from "./consumer/consumer.js";
export type {
  ConsumerMaintenanceOptions,
  ConsumerMode,
  ConsumerOptions,
  ConsumerOrdering,
  ConsumerStart,
  RetryPolicy,
  SlotLostPolicy,
} from "./consumer/consumer-options.js";
export type { ForEachJobOptions } from "./consumer/for-each-job.js";
export { forEachJob } from "./consumer/for-each-job.js";
export type { Handler } from "./consumer/handler.js";
export type { OutcomeWriteFailure } from "./consumer/held-outcomes.js";
export type { LongTransaction } from "./consumer/long-transactions.js";
export type { PerJobOptions } from "./consumer/per-job.js";
export { perJob } from "./consumer/per-job.js";
export type { PoutboxErrorCode, ProgressMismatchReason, ValidationIssue } from "./core/errors.js";
export {
  errorCodes,
  InvalidOptionError,
  InvalidPayloadError,
  PayloadValidationError,
  PoutboxError,
  ProgressMismatchError,
  ReplicationProtocolError,
  ReplicationSetupError,
  SchemaMissingError,
  SchemaVersionError,
  SlotLostError,
  TransactionStateError,
} from "./core/errors.js";
export type { HandlerContext, HandlerResult, Job, JobFailure } from "./core/job.js";
export type { JobId } from "./core/job-id.js";
export type { Logger } from "./core/logger.js";
export { asLogger, consoleLogger, silentLogger } from "./core/logger.js";
export type {
  ConnectionSource,
  PooledConnection,
  Queryable,
  SqlStateAware,
  TransactionAware,
} from "./database/queryable.js";
export type { DeadLetter, DeadLetterSelection, ListDeadLettersOptions } from "./dead-letter/dead-letter.js";
export {
  countDeadLetters,
  listDeadLetters,
  purgeDeadLetters,
  requeueDeadLetters,
} from "./dead-letter/dead-letter.js";
export type { BlockedKey, BlockedKeysOptions, KeyHeadOptions, KeyHeadResult } from "./keys/blocked-keys.js";
export { listBlockedKeys, retryKeyHead, skipKeyHead } from "./keys/blocked-keys.js";
export type { AttachedPartitionOptions, AttachedPartitionResult } from "./maintenance/attached-partitions.js";
export { adoptPartition, importPartition } from "./maintenance/attached-partitions.js";
export type {
  MaintenanceEvents,
  MaintenanceReport,
  PartitionRange,
  SkippedPartition,
  SkipReason,
} from "./maintenance/maintenance.js";
export { Maintenance } from "./maintenance/maintenance.js";
export type { MaintenanceOptions } from "./maintenance/maintenance-options.js";
export type { Partition } from "./maintenance/partitions.js";
export { listPartitions } from "./maintenance/partitions.js";
export type {
  ConsumerMove,
  MoveConsumerOptions,
  MoveTarget,
  StoredPosition,
} from "./recovery/move-consumer.js";
export { moveConsumer, moveTargets } from "./recovery/move-consumer.js";
export type { RemovedConsumer } from "./recovery/remove-consumer.js";
export { removeConsumer } from "./recovery/remove-consumer.js";
export type { MigrateOptions, MigrateResult } from "./schema/migrate.js";
export { migrate } from "./schema/migrate.js";
export type { ConsumerSelection, ReplicationSlotStatus } from "./slots/slot-status.js";
export { replicationSlotStatus } from "./slots/slot-status.js";
export type {
  ConsumerLeader,
  ConsumerMoveRecord,
  ConsumerStatus,
  OutboxStatus,
  StatusOptions,
  WaitingTable,
} from "./status/status.js";
export { status } from "./status/status.js";
export type {
  ConsumerLeaderJson,
  ConsumerMoveRecordJson,
  ConsumerStatusJson,
  OutboxStatusJson,
  PartitionJson,
  ReplicationSlotStatusJson,
} from "./status/status-to-json.js";
export { statusToJson } from "./status/status-to-json.js";
export type {
  AnyTopics,
  InputsOf,
  IsTopics,
  JobOf,
  OutputsOf,
  TopicInput,
  TopicName,
  Topics,
} from "./topics/topics.js";
export { defineTopics } from "./topics/topics.js";
