import { DateTime, IANAZone } from 'luxon';
import { BUCKET_MINUTES, durationClassBounds } from './series.js';

/**
 * The time buckets of a metrics answer: hours, days, ISO weeks (Monday) or months of one IANA
 * time zone, as UTC instants. Pure; the service folds the 15-minute rollup buckets into them.
 */

export const INTERVALS = ['hour', 'day', 'week', 'month'] as const;
export type Interval = (typeof INTERVALS)[number];

/** At most this many buckets per answer (83 days of hours, 5 years of days). */
export const MAX_BUCKETS = 2000;

export class TooManyBucketsError extends Error {
  constructor(readonly interval: Interval) {
    super(`The range holds more than ${MAX_BUCKETS} ${interval} buckets.`);
  }
}

/** True for a time zone name luxon (and so the ICU data of Node) knows, such as `Europe/Berlin` or `UTC`. */
export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/**
 * The boundaries of the buckets covering [fromMs, toMs) in `zone`, in epoch ms: n + 1 instants
 * for n buckets. The first bucket starts at the start of the interval unit holding `fromMs` in
 * the zone; each next one starts one unit later on the zone's calendar (a day of a
 * daylight-saving change is 23 or 25 hours long, months vary), until one ends at or after
 * `toMs`. An empty range (toMs ≤ fromMs) has no bucket: `[start]` alone.
 */
export function bucketBoundaries(fromMs: number, toMs: number, interval: Interval, zone: string): number[] {
  let current = DateTime.fromMillis(fromMs, { zone }).startOf(interval);
  if (!current.isValid) throw new RangeError(`Invalid time zone: ${zone}`);
  const boundaries = [current.toMillis()];
  while (boundaries[boundaries.length - 1]! < toMs) {
    if (boundaries.length > MAX_BUCKETS) throw new TooManyBucketsError(interval);
    // One unit later on the zone's calendar, back to the unit's start: a day after a local
    // midnight that does not exist (a change at 00:00) still starts at the next midnight.
    current = current.plus({ [interval]: 1 }).startOf(interval);
    boundaries.push(current.toMillis());
  }
  return boundaries;
}

/**
 * The number of buckets `bucketBoundaries` would give, without building them past the cap:
 * `MAX_BUCKETS + 1` means "too many".
 */
export function bucketCount(fromMs: number, toMs: number, interval: Interval, zone: string): number {
  try {
    return bucketBoundaries(fromMs, toMs, interval, zone).length - 1;
  } catch (error) {
    if (error instanceof TooManyBucketsError) return MAX_BUCKETS + 1;
    throw error;
  }
}

/** The index of the bucket holding `ms` (boundaries[i] ≤ ms < boundaries[i + 1]), or -1 outside them. */
export function bucketIndexOf(boundaries: readonly number[], ms: number): number {
  let lo = 0;
  let hi = boundaries.length - 1;
  if (hi < 1 || ms < boundaries[0]! || ms >= boundaries[hi]!) return -1;
  // Invariant: boundaries[lo] ≤ ms < boundaries[hi].
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (boundaries[mid]! <= ms) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The rollup bucket (epoch minutes, a multiple of 15) range [first, end) that covers the boundaries. */
export function rollupRangeOf(boundaries: readonly number[]): { first: number; end: number } {
  const first = Math.floor(boundaries[0]! / 60_000);
  const last = boundaries[boundaries.length - 1]!;
  return { first: first - (((first % BUCKET_MINUTES) + BUCKET_MINUTES) % BUCKET_MINUTES), end: Math.ceil(last / 60_000) };
}

/**
 * For each rollup bucket (epoch minutes) the index of the zone bucket it falls in (-1 outside).
 * Rows come sorted by bucket from the query, so consecutive lookups usually hit the same bucket:
 * a cursor short-cuts the binary search.
 */
export function bucketIndexer(boundaries: readonly number[]): (rollupBucket: number) => number {
  let last = -1;
  return (rollupBucket) => {
    const ms = rollupBucket * 60_000;
    if (last >= 0 && ms >= boundaries[last]! && ms < boundaries[last + 1]!) return last;
    last = bucketIndexOf(boundaries, ms);
    return last;
  };
}

/**
 * The `p` quantile (0..1) of durations counted in the log-scale classes of series.ts (one count
 * per class, `d00`..`d63`): the class holding the rank, then a geometric interpolation inside
 * it (linear in class 0, which starts at 0). Null without durations. The true value lies in the
 * same class, so the answer is within a factor of √2 of it.
 */
export function durationPercentile(histogram: readonly number[], p: number): number | null {
  let total = 0;
  for (const count of histogram) total += count > 0 ? count : 0;
  if (total <= 0) return null;
  const rank = Math.min(Math.max(p, 0), 1) * total;
  let below = 0;
  let lastClass = 0;
  for (let k = 0; k < histogram.length; k++) {
    const count = histogram[k]!;
    if (!(count > 0)) continue;
    lastClass = k;
    if (below + count >= rank) {
      const [lo, hi] = durationClassBounds(k);
      const fraction = (rank - below) / count;
      return Math.round(k === 0 ? lo + (hi - lo) * fraction : lo * (hi / lo) ** fraction);
    }
    below += count;
  }
  return Math.round(durationClassBounds(lastClass)[1]);
}
