/**
 * Every error Poutbox throws on purpose is a {@link PoutboxError} with a stable `code`,
 * so callers can branch on `err.code` instead of parsing messages.
 */
export const errorCodes = [
  "INVALID_OPTION",
  "INVALID_PAYLOAD",
  "PAYLOAD_VALIDATION",
  "TRANSACTION_NOT_OPEN",
  "SCHEMA_MISSING",
  "SCHEMA_TOO_NEW",
  "REPLICATION_PROTOCOL",
  "REPLICATION_SETUP",
  "SLOT_LOST",
  "PROGRESS_MISMATCH",
  "CONSUMER_ACTIVE",
  "KEY_HEAD_DELIVERING",
  "TEST_SERVER_UNAVAILABLE",
  "DRAIN_TIMEOUT",
] as const;

export type PoutboxErrorCode = (typeof errorCodes)[number];

export class PoutboxError extends Error {
  readonly code: PoutboxErrorCode;

  constructor(code: PoutboxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option (of a constructor or a call) has a value Poutbox cannot use. */
export class InvalidOptionError extends PoutboxError {
  /** Dotted name of the offending option, e.g. `schema` or `runAt`. */
  readonly option: string;

  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super("INVALID_OPTION", `Invalid option "${option}": ${message}`, options);
    this.option = option;
  }
}

/** A payload (or header) cannot be stored as JSON without changing its meaning. */
export class InvalidPayloadError extends PoutboxError {
  /** Where in the payload the problem is, as a JavaScript access path (`payload.items[2]`). */
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super("INVALID_PAYLOAD", `Invalid payload at ${path}: ${message}`, options);
    this.path = path;
  }
}

/** One problem a topic's schema found in a payload. */
export interface ValidationIssue {
  /** The schema library's message. */
  readonly message: string;
  /** Where, as a JavaScript access path (`payload.items[2].price`; `payload` for the whole). */
  readonly path: string;
}

/**
 * A payload failed the Standard Schema its topic was declared with (see defineTopics). At
 * enqueue, nothing is written; in a consumer, the job goes to dead letter with this message.
 */
export class PayloadValidationError extends PoutboxError {
  readonly topic: string;
  readonly issues: readonly ValidationIssue[];

  constructor(topic: string, issues: readonly ValidationIssue[], options?: { cause?: unknown }) {
    const listed = issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ");
    super("PAYLOAD_VALIDATION", `Payload for topic ${JSON.stringify(topic)} failed validation: ${listed}`, options);
    this.topic = topic;
    this.issues = issues;
  }
}

/**
 * `tx` was given but is not inside an open transaction (never begun, already committed or
 * rolled back, or aborted by an earlier error). Writing anyway would create the job outside
 * the caller's transaction, which is the one thing an outbox must never do.
 */
export class TransactionStateError extends PoutboxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TRANSACTION_NOT_OPEN", message, options);
  }
}

/** The Poutbox schema or one of its tables does not exist: run `migrate()` first. */
export class SchemaMissingError extends PoutboxError {
  constructor(schema: string, options?: { cause?: unknown }) {
    super(
      "SCHEMA_MISSING",
      `Poutbox schema "${schema}" is missing or incomplete; run migrate() (or \`poutbox migrate\`) first`,
      options,
    );
  }
}

/** The database was migrated by a newer Poutbox than this one; refusing to touch it. */
export class SchemaVersionError extends PoutboxError {
  readonly databaseVersion: number;
  readonly libraryVersion: number;

  constructor(schema: string, databaseVersion: number, libraryVersion: number) {
    super(
      "SCHEMA_TOO_NEW",
      `Poutbox schema "${schema}" is at migration ${databaseVersion}, but this version of the library ` +
        `knows migrations up to ${libraryVersion}; upgrade the poutbox package instead of downgrading the schema`,
    );
    this.databaseVersion = databaseVersion;
    this.libraryVersion = libraryVersion;
  }
}

/**
 * Bytes from the server do not form the replication message they claim to be: too short,
 * longer than their fields, of an unknown kind, or text that is not valid UTF-8. The stream
 * cannot be trusted past this point, so the connection should be dropped, never skipped over.
 */
export class ReplicationProtocolError extends PoutboxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("REPLICATION_PROTOCOL", message, options);
  }
}

/**
 * The server cannot serve a replication consumer as configured: wal_level is not logical, no
 * replication slot is free, or the role lacks the REPLICATION attribute. The message says
 * what to change; retrying without changing it cannot help.
 */
export class ReplicationSetupError extends PoutboxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("REPLICATION_SETUP", message, options);
  }
}

/**
 * A replication consumer that has recorded progress found its slot missing or invalidated
 * (for example by max_slot_wal_keep_size). The changes the slot was keeping are gone, so it
 * is never recreated silently at the current position: that would skip jobs. See
 * docs/operations.md, "A lost replication slot", for the ways to recover.
 */
export class SlotLostError extends PoutboxError {
  readonly slot: string;
  /**
   * Why, as the server's catalog says it (never from a message text, whatever lc_messages
   * is): `dropped` (the slot no longer exists), or the invalidation reason: `wal_removed`
   * (max_slot_wal_keep_size), `idle_timeout` (idle_replication_slot_timeout, PostgreSQL 18+),
   * `rows_removed` or `wal_level_insufficient` (17+ names them; before 17 an invalidated slot
   * of a primary is always `wal_removed`).
   */
  readonly reason: string;

  /** @param explanation what happened to the slot, in words; the reason's own by default. */
  constructor(slot: string, reason: string, explanation = `was lost (${reason})`) {
    super(
      "SLOT_LOST",
      `replication slot "${slot}" ${explanation}; its consumer cannot resume from it without losing jobs`,
    );
    this.slot = slot;
    this.reason = reason;
  }
}

/** Why a consumer's stored progress cannot be used on the server it found. */
export type ProgressMismatchReason =
  /** Recorded on another cluster: a dump loaded elsewhere, a copied database, a new cluster. */
  | "other-cluster"
  /** Recorded on a timeline this server's history does not go through at that position. */
  | "other-timeline"
  /** A transaction id or WAL position this server has not reached: a restore, or a copy. */
  | "ahead";

/**
 * A consumer's stored progress does not describe the server it runs on: it was recorded on
 * another cluster or timeline, or is ahead of what the server has reached (as after restoring a
 * backup, or loading a dump into another cluster). Resuming would skip every job committed
 * until the server caught up, so the consumer refuses to run until an operator chooses, with
 * `moveConsumer` or `poutbox consumer move`, to deliver again every job still in the outbox
 * (`oldest`) or to start from the server's present position (`now`).
 */
export class ProgressMismatchError extends PoutboxError {
  readonly consumer: string;
  readonly reason: ProgressMismatchReason;
  /** What does not fit, in a sentence. */
  readonly detail: string;
  /** The stored progress, as text (transaction ids, snapshots, LSNs, cluster and timeline). */
  readonly stored: Readonly<Record<string, string | null>>;
  /** The server's own position, as text. */
  readonly server: Readonly<Record<string, string | null>>;

  constructor(
    consumer: string,
    reason: ProgressMismatchReason,
    detail: string,
    stored: Readonly<Record<string, string | null>>,
    server: Readonly<Record<string, string | null>>,
  ) {
    super(
      "PROGRESS_MISMATCH",
      `consumer "${consumer}": its stored progress does not belong to this server: ${detail}. ` +
        "Resuming would skip jobs, so it will not run until you choose: " +
        `\`poutbox consumer move ${consumer} --to oldest\` delivers every job still in the outbox again, ` +
        `\`--to now\` skips them and starts from the server's present position ` +
        '(moveConsumer() in the API; see docs/operations.md, "After a restore")',
    );
    this.consumer = consumer;
    this.reason = reason;
    this.detail = detail;
    this.stored = stored;
    this.server = server;
  }
}
