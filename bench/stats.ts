export interface Percentiles {
  readonly p50_ms: number;
  readonly p95_ms: number;
  readonly p99_ms: number;
}

/** Nearest-rank percentiles, rounded to 0.01 ms. */
export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => {
    const value = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
    return Math.round((value ?? Number.NaN) * 100) / 100;
  };
  return { p50_ms: at(50), p95_ms: at(95), p99_ms: at(99) };
}

/**
 * Runs each measurement `rounds` times, alternating them (odd rounds in reverse order, so
 * neither always goes first), and keeps each one's fastest: on a shared machine the fastest
 * run is the one least disturbed by others.
 */
export async function fastestOf<Key extends string>(
  rounds: number,
  measurements: Record<Key, () => Promise<number>>,
): Promise<Record<Key, number>> {
  const keys = Object.keys(measurements) as Key[];
  const best = {} as Record<Key, number>;
  for (let round = 0; round < rounds; round++) {
    for (const key of round % 2 === 0 ? keys : [...keys].reverse()) {
      const seconds = await measurements[key]();
      best[key] = Math.min(best[key] ?? Number.POSITIVE_INFINITY, seconds);
    }
  }
  return best;
}
