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

export type ResolvedBackoff = Required<BackoffOptions>;

export const defaultBackoff: ResolvedBackoff = { base: 1000, factor: 2, max: 3_600_000, jitter: 0.5 };

/** Delay in ms before retrying a job whose `attempt`-th delivery (1-based) just failed. */
export function retryDelay(backoff: ResolvedBackoff, attempt: number, random: () => number = Math.random): number {
  const exponential = backoff.base * backoff.factor ** Math.max(0, attempt - 1);
  const capped = Math.min(backoff.max, exponential);
  return Math.round(capped * (1 - backoff.jitter * random()));
}
