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
  const { best } = await settledRounds(measurements, () => 1, { minRounds: rounds, maxRounds: rounds });
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

/** What settledRounds found: each measurement's fastest run, and each round's ratio. */
export interface Settled<Key extends string, Result> {
  readonly best: Record<Key, Result>;
  /** `ratioOf` of each round's runs, in the order run. */
  readonly ratios: readonly number[];
}

/**
 * Runs rounds as fastestOf does, and takes each round's ratio (ours to its baseline, from
 * that round's runs alone): at least `minRounds`, and more, up to `maxRounds`, while those
 * ratios spread wider than `spread` of their median. On a shared machine one pair of runs can
 * move a ratio by a third; the spread says how far a figure can be trusted.
 */
export async function settledRounds<Key extends string, Result extends { readonly seconds: number }>(
  measurements: Record<Key, (round: number) => Promise<Result>>,
  ratioOf: (round: Readonly<Record<Key, Result>>) => number,
  { minRounds = 3, maxRounds = 6, spread = 0.1 }: { minRounds?: number; maxRounds?: number; spread?: number } = {},
): Promise<Settled<Key, Result>> {
  const keys = Object.keys(measurements) as Key[];
  const best = {} as Record<Key, Result>;
  const ratios: number[] = [];
  for (let round = 0; round < maxRounds; round++) {
    const runs = {} as Record<Key, Result>;
    for (const key of round % 2 === 0 ? keys : [...keys].reverse()) {
      const result = await measurements[key](round);
      runs[key] = result;
      if (best[key] === undefined || result.seconds < best[key].seconds) best[key] = result;
    }
    ratios.push(ratioOf(runs));
    if (ratios.length >= minRounds && spreadOf(ratios) <= spread) break;
  }
  return { best, ratios };
}

/** (max - min) / median. */
export function spreadOf(values: readonly number[]): number {
  return (Math.max(...values) - Math.min(...values)) / median(values);
}
