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

/** How often each drain and enqueue measurement runs; the fastest run counts (see fastestOf). */
export const rounds = 2;

/**
 * Runs each measurement `rounds` times, alternating them (odd rounds in reverse order, so
 * neither always goes first), and keeps each one's fastest run: on a shared machine the
 * fastest is the one least disturbed by others. `measure` gets the round's number.
 */
export async function fastestOf<Key extends string, Result extends { readonly seconds: number }>(
  measurements: Record<Key, (round: number) => Promise<Result>>,
): Promise<Record<Key, Result>> {
  const keys = Object.keys(measurements) as Key[];
  const best = {} as Record<Key, Result>;
  for (let round = 0; round < rounds; round++) {
    for (const key of round % 2 === 0 ? keys : [...keys].reverse()) {
      const result = await measurements[key](round);
      if (best[key] === undefined || result.seconds < best[key].seconds) best[key] = result;
    }
  }
  return best;
}

/**
 * Runs each measurement `rounds` times, alternating as fastestOf does (odd rounds in reverse
 * order), and keeps every run, in order: for comparisons too close for the fastest run alone
 * to settle on a shared machine, whose medians are then compared.
 */
export async function alternating<Key extends string, Result>(
  rounds: number,
  measurements: Record<Key, (round: number) => Promise<Result>>,
): Promise<Record<Key, Result[]>> {
  const keys = Object.keys(measurements) as Key[];
  const runs = Object.fromEntries(keys.map((key) => [key, []])) as unknown as Record<Key, Result[]>;
  for (let round = 0; round < rounds; round++) {
    for (const key of round % 2 === 0 ? keys : [...keys].reverse()) runs[key].push(await measurements[key](round));
  }
  return runs;
}

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
