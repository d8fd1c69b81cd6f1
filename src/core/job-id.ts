/**
 * A job's id: a PostgreSQL bigint from the one sequence all Poutbox tables share. It is a
 * JavaScript bigint because int8 does not fit a number exactly beyond 2^53. It stays the same
 * when a job moves from scheduled to immediate to failed to dead_letter.
 * In JSON, write it with `String(id)`; read it back with `BigInt(text)`.
 */
export type JobId = bigint;
