import { checkRetryPolicy, type RetryPolicy } from "../core/retry-policy.js";

/**
 * A job's own retry policy as stored (see enqueue's `maxAttempts` and `backoff`), or null. A
 * field that does not hold what enqueue would accept (a row written by other means) is left
 * out, so the consumer's value applies to it.
 */
export function jobRetry(value: unknown): RetryPolicy | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const { maxAttempts, backoff } = value as { maxAttempts?: unknown; backoff?: unknown };
  const policy: { maxAttempts?: number; backoff?: RetryPolicy["backoff"] } = {};
  try {
    Object.assign(policy, checkRetryPolicy("", { maxAttempts }));
  } catch {}
  if (backoff !== null && typeof backoff === "object") {
    for (const [field, given] of Object.entries(backoff)) {
      try {
        const checked = checkRetryPolicy("", { backoff: { [field]: given } }).backoff;
        if (checked && Object.keys(checked).length > 0) policy.backoff = { ...policy.backoff, ...checked };
      } catch {}
    }
  }
  return policy.maxAttempts === undefined && policy.backoff === undefined ? null : policy;
}
