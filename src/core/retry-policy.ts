import { InvalidOptionError } from "./errors.js";
import { integer, number } from "./option-checks.js";

export interface BackoffOptions {
  /** Delay before the first retry, in ms. Default 1000. */
  readonly base?: number;
  /** Each further retry waits this many times longer. Default 2. */
  readonly factor?: number;
  /** The longest delay, in ms. Default 3,600,000 (one hour). */
  readonly max?: number;
  /**
   * Spread, from 0 to 1: the delay is drawn uniformly from `delay * (1 - jitter)` to
   * `delay`, so jobs that failed together do not all come back at the same instant.
   * Default 0.5.
   */
  readonly jitter?: number;
}

/** How often, and how far apart, jobs are tried: for a consumer, a topic (retryByTopic) or one job. */
export interface RetryPolicy {
  /** Deliveries before the job goes to dead letter. */
  readonly maxAttempts?: number;
  /** Delay before each retry; the fields given here override the ones underneath. */
  readonly backoff?: BackoffOptions;
}

/**
 * A retry policy's given fields, each checked and named by its option (`prefix` + name, such
 * as `retryByTopic.payment.maxAttempts`); fields not given stay out.
 */
export function checkRetryPolicy(
  prefix: string,
  value: { readonly maxAttempts?: unknown; readonly backoff?: unknown },
): RetryPolicy {
  const checked: { maxAttempts?: number; backoff?: BackoffOptions } = {};
  if (value.maxAttempts !== undefined) {
    checked.maxAttempts = integer(`${prefix}maxAttempts`, value.maxAttempts, 0, 1, 1_000_000);
  }
  const backoff = value.backoff;
  if (backoff !== undefined) {
    if (backoff === null || typeof backoff !== "object" || Array.isArray(backoff)) {
      throw new InvalidOptionError(`${prefix}backoff`, "expected an object of base, factor, max and jitter");
    }
    const { base, factor, max, jitter } = backoff as Record<string, unknown>;
    checked.backoff = {
      ...(base !== undefined && { base: integer(`${prefix}backoff.base`, base, 0, 0, 2 ** 31) }),
      ...(factor !== undefined && { factor: number(`${prefix}backoff.factor`, factor, 1, 1000) }),
      ...(max !== undefined && { max: integer(`${prefix}backoff.max`, max, 0, 0, 2 ** 40) }),
      ...(jitter !== undefined && { jitter: number(`${prefix}backoff.jitter`, jitter, 0, 1) }),
    };
  }
  return checked;
}
