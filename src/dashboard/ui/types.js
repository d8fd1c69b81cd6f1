// The JSON the dashboard's server answers with (src/dashboard/), as JSDoc types for the pages.

/**
 * @typedef {import("../../status/status-to-json.js").OutboxStatusJson} OutboxStatusJson
 * @typedef {import("../../status/status-to-json.js").ConsumerStatusJson} ConsumerStatusJson
 */

/**
 * @typedef {object} Session
 * @property {string} schema
 * @property {boolean} readOnly
 * @property {string} csrfToken
 */

/**
 * One sample of the server's history, taken every few seconds. `enqueued` and each consumer's
 * `delivered` count the jobs since the previous sample (the first sample's are 0).
 * @typedef {object} SeriesPoint
 * @property {string} at
 * @property {number} enqueued
 * @property {Record<string, { pending: number | null, lagMs: number | null, delivered: number | null }>} consumers
 * @property {number} deadLetters
 */

/**
 * @typedef {object} Overview
 * @property {string} at
 * @property {OutboxStatusJson} status
 * @property {SeriesPoint[]} series
 */

/** The states a job can be searched in. */
export const jobStates = /** @type {const} */ (["pending", "scheduled", "failed", "dead"]);

/** @typedef {typeof jobStates[number]} JobState */

/**
 * A job as a search lists it.
 * @typedef {object} JobRow
 * @property {string} id
 * @property {JobState} state
 * @property {string | null} topic
 * @property {string | null} key
 * @property {string | null} consumer
 * @property {number | null} attempt
 * @property {string | null} createdAt
 * @property {string | null} runAt
 * @property {string | null} lastError
 * @property {string | null} payloadPreview
 */

/**
 * @typedef {object} JobPage
 * @property {JobRow[]} jobs
 * @property {string | null} next The cursor of the next page (`before`), null after the last.
 */

/**
 * One job with everything known of it.
 * @typedef {JobRow & { payload: unknown, headers: Record<string, unknown> | null, traceId: string | null, attempts: unknown }} JobDetail
 */

/**
 * A blocked ordering key as `api/consumers` lists it.
 * @typedef {{ key: string, [field: string]: unknown }} BlockedKeyJson
 */

/**
 * A consumer as `api/consumers` lists it: its status, with its blocked keys listed.
 * @typedef {Omit<ConsumerStatusJson, "blockedKeys"> & { blockedKeys: BlockedKeyJson[] | number, position?: unknown }} ConsumerJson
 */

/**
 * The search form's fields, as the query string of `api/jobs` and of the page's address.
 * @typedef {object} JobFilter
 * @property {JobState} state
 * @property {string} [consumer]
 * @property {string} [topic]
 * @property {string} [key]
 * @property {string} [id]
 * @property {string} [from]
 * @property {string} [to]
 * @property {string} [q]
 */

/** @typedef {"requeue" | "purge" | "cancel" | "retry-key" | "skip-key" | "move"} ActionName */

/**
 * @typedef {object} ActionResult
 * @property {boolean} [preview]
 * @property {boolean} [done]
 * @property {number} count
 * @property {string[]} ids
 */
