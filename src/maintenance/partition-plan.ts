/** A half-open time range [from, to) in ms since the Unix epoch. */
export interface Range {
  readonly from: number;
  readonly to: number;
}

/**
 * The partitions to create so that every instant from the start of the current interval to
 * `now + lookAhead` has one. Boundaries are multiples of `interval` from the epoch; a range
 * that an existing partition already covers (made with another interval, or by hand) is left
 * to it and the gaps around it are filled, so the result never overlaps what exists.
 */
export function missingRanges(now: number, interval: number, lookAhead: number, existing: readonly Range[]): Range[] {
  const sorted = [...existing].sort((a, b) => a.from - b.from);
  const end = now + lookAhead;
  const missing: Range[] = [];
  let cursor = Math.floor(now / interval) * interval;
  while (cursor <= end) {
    const covering = sorted.find((range) => range.from <= cursor && cursor < range.to);
    if (covering) {
      cursor = covering.to;
      continue;
    }
    const nextExisting = sorted.find((range) => range.from > cursor)?.from ?? Number.POSITIVE_INFINITY;
    const to = Math.min((Math.floor(cursor / interval) + 1) * interval, nextExisting);
    missing.push({ from: cursor, to });
    cursor = to;
  }
  return missing;
}

/**
 * `immediate_20261127_140000`: the start of the range in UTC, to the second. Partitions never
 * overlap, so no two have the same start, whatever their interval.
 */
export function partitionName(from: number): string {
  const iso = new Date(from).toISOString(); // 2026-11-27T14:00:00.000Z
  return `immediate_${iso.slice(0, 10).replaceAll("-", "")}_${iso.slice(11, 19).replaceAll(":", "")}`;
}
