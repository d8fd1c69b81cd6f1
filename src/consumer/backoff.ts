import type { BackoffOptions } from "../core/retry-policy.js";

export type { BackoffOptions };

export type ResolvedBackoff = Required<BackoffOptions>;

export const defaultBackoff: ResolvedBackoff = { base: 1000, factor: 2, max: 3_600_000, jitter: 0.5 };

/** Delay in ms before retrying a job whose `attempt`-th delivery (1-based) just failed. */
export function retryDelay(backoff: ResolvedBackoff, attempt: number, random: () => number = Math.random): number {
  const exponential = backoff.base * backoff.factor ** Math.max(0, attempt - 1);
  const capped = Math.min(backoff.max, exponential);
  return Math.round(capped * (1 - backoff.jitter * random()));
}
