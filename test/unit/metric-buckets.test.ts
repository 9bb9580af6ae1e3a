import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import {
  MAX_BUCKETS,
  TooManyBucketsError,
  bucketBoundaries,
  bucketCount,
  bucketIndexOf,
  bucketIndexer,
  durationPercentile,
  isValidTimeZone,
  rollupRangeOf,
} from '../../src/modules/metrics/buckets.js';
import { bucketOf } from '../../src/modules/metrics/series.js';
import { durationClassBounds, durationClassOf } from '../../src/modules/metrics/series.js';

const ms = (iso: string) => Date.parse(iso);
const iso = (values: number[]) => values.map((v) => new Date(v).toISOString());
const HOUR = 3_600_000;
/** Bucket lengths in hours. */
const lengths = (b: number[]) => b.slice(1).map((end, i) => (end - b[i]!) / HOUR);
/** Local start of a day in a zone, as epoch ms. */
const localMidnight = (date: string, zone: string) => DateTime.fromISO(date, { zone }).toMillis();

describe('bucket boundaries', () => {
  it('are whole UTC days for UTC, the first starting at the day holding `from`', () => {
    const b = bucketBoundaries(ms('2025-03-01T10:00:00Z'), ms('2025-03-04T00:00:00Z'), 'day', 'UTC');
    expect(iso(b)).toEqual(['2025-03-01T00:00:00.000Z', '2025-03-02T00:00:00.000Z', '2025-03-03T00:00:00.000Z', '2025-03-04T00:00:00.000Z']);
  });

  it('end with the bucket holding `to` when `to` is not on a boundary', () => {
    const b = bucketBoundaries(ms('2025-03-01T00:00:00Z'), ms('2025-03-02T00:00:01Z'), 'day', 'UTC');
    expect(iso(b)).toEqual(['2025-03-01T00:00:00.000Z', '2025-03-02T00:00:00.000Z', '2025-03-03T00:00:00.000Z']);
  });

  it('give no bucket for an empty or inverted range', () => {
    expect(bucketBoundaries(ms('2025-03-01T00:00:00Z'), ms('2025-03-01T00:00:00Z'), 'day', 'UTC')).toHaveLength(1);
    expect(bucketBoundaries(ms('2025-03-02T00:00:00Z'), ms('2025-03-01T00:00:00Z'), 'hour', 'UTC')).toHaveLength(1);
  });

  describe('Europe/Berlin', () => {
    const zone = 'Europe/Berlin';
    it('spring forward (2025-03-30): 23 hour buckets and a 23-hour day', () => {
      const from = localMidnight('2025-03-30', zone);
      const to = localMidnight('2025-03-31', zone);
      const hours = bucketBoundaries(from, to, 'hour', zone);
      expect(hours.length - 1).toBe(23);
      expect(lengths(hours).every((h) => h === 1)).toBe(true);
      // 01:00 local (00:00Z) is followed by 03:00 local (01:00Z).
      expect(iso(hours).slice(0, 4)).toEqual(['2025-03-29T23:00:00.000Z', '2025-03-30T00:00:00.000Z', '2025-03-30T01:00:00.000Z', '2025-03-30T02:00:00.000Z']);
      const days = bucketBoundaries(from - 2 * 24 * HOUR, to + 24 * HOUR, 'day', zone);
      expect(lengths(days)).toEqual([24, 24, 23, 24]);
      expect(iso(days)).toContain('2025-03-30T22:00:00.000Z');
    });

    it('fall back (2025-10-26): 25 hour buckets and a 25-hour day', () => {
      const from = localMidnight('2025-10-26', zone);
      const to = localMidnight('2025-10-27', zone);
      expect(bucketBoundaries(from, to, 'hour', zone).length - 1).toBe(25);
      const days = bucketBoundaries(from, to, 'day', zone);
      expect(iso(days)).toEqual(['2025-10-25T22:00:00.000Z', '2025-10-26T23:00:00.000Z']);
      expect(lengths(days)).toEqual([25]);
    });

    it('weeks start on Monday at local midnight, 167 hours long across spring forward', () => {
      const b = bucketBoundaries(ms('2025-03-27T12:00:00Z'), ms('2025-04-02T00:00:00Z'), 'week', zone);
      expect(iso(b)).toEqual(['2025-03-23T23:00:00.000Z', '2025-03-30T22:00:00.000Z', '2025-04-06T22:00:00.000Z']);
      expect(lengths(b)).toEqual([167, 168]);
    });
  });

  describe('America/New_York', () => {
    const zone = 'America/New_York';
    it('spring forward (2025-03-09): 23 hours', () => {
      const from = localMidnight('2025-03-09', zone);
      const to = localMidnight('2025-03-10', zone);
      expect(bucketBoundaries(from, to, 'hour', zone).length - 1).toBe(23);
      expect(lengths(bucketBoundaries(from, to, 'day', zone))).toEqual([23]);
    });

    it('fall back (2025-11-02): 25 hours, the repeated 01:00 hour counted twice', () => {
      const from = localMidnight('2025-11-02', zone);
      const to = localMidnight('2025-11-03', zone);
      const hours = bucketBoundaries(from, to, 'hour', zone);
      expect(hours.length - 1).toBe(25);
      expect(iso(hours).slice(1, 4)).toEqual(['2025-11-02T05:00:00.000Z', '2025-11-02T06:00:00.000Z', '2025-11-02T07:00:00.000Z']);
      expect(lengths(bucketBoundaries(from, to, 'day', zone))).toEqual([25]);
    });

    it('a day bucket holds the instants of its local day', () => {
      const b = bucketBoundaries(ms('2025-01-01T00:00:00Z'), ms('2025-01-03T00:00:00Z'), 'day', zone);
      // 2025-01-01T00:00Z is still Dec 31 in New York.
      expect(iso(b)[0]).toBe('2024-12-31T05:00:00.000Z');
      expect(bucketIndexOf(b, ms('2025-01-01T04:59:59.999Z'))).toBe(0);
      expect(bucketIndexOf(b, ms('2025-01-01T05:00:00Z'))).toBe(1);
    });
  });

  it('Asia/Kolkata (+05:30): days start at 18:30Z and hours at :30', () => {
    const zone = 'Asia/Kolkata';
    const days = bucketBoundaries(ms('2025-06-01T00:00:00Z'), ms('2025-06-02T18:30:00Z'), 'day', zone);
    expect(iso(days)).toEqual(['2025-05-31T18:30:00.000Z', '2025-06-01T18:30:00.000Z', '2025-06-02T18:30:00.000Z']);
    const hours = bucketBoundaries(ms('2025-06-01T00:00:00Z'), ms('2025-06-01T02:00:00Z'), 'hour', zone);
    expect(iso(hours)).toEqual(['2025-05-31T23:30:00.000Z', '2025-06-01T00:30:00.000Z', '2025-06-01T01:30:00.000Z', '2025-06-01T02:30:00.000Z']);
  });

  it('Asia/Kathmandu (+05:45): boundaries fall on quarter hours, which rollup buckets add up to', () => {
    const zone = 'Asia/Kathmandu';
    const days = bucketBoundaries(ms('2025-06-01T00:00:00Z'), ms('2025-06-02T00:00:00Z'), 'day', zone);
    expect(iso(days)).toEqual(['2025-05-31T18:15:00.000Z', '2025-06-01T18:15:00.000Z', '2025-06-02T18:15:00.000Z']);
    for (const boundary of days) expect(bucketOf(boundary) * 60_000).toBe(boundary);
    const index = bucketIndexer(days);
    expect(index(bucketOf('2025-06-01T18:14:59Z'))).toBe(0);
    expect(index(bucketOf('2025-06-01T18:15:00Z'))).toBe(1);
  });

  it('Australia/Adelaide (+09:30/+10:30): 23 and 25 hour days in the southern hemisphere', () => {
    const zone = 'Australia/Adelaide';
    const april = bucketBoundaries(localMidnight('2025-04-06', zone), localMidnight('2025-04-07', zone), 'day', zone);
    expect(lengths(april)).toEqual([25]);
    expect(iso(april)[0]).toBe('2025-04-05T13:30:00.000Z');
    const october = bucketBoundaries(localMidnight('2025-10-05', zone), localMidnight('2025-10-06', zone), 'hour', zone);
    expect(october.length - 1).toBe(23);
  });

  it('cross a year: days of Dec 30 → Jan 2, and the ISO week of 2024-12-30 that ends in 2025', () => {
    const days = bucketBoundaries(ms('2024-12-30T00:00:00Z'), ms('2025-01-02T00:00:00Z'), 'day', 'UTC');
    expect(iso(days)).toEqual(['2024-12-30T00:00:00.000Z', '2024-12-31T00:00:00.000Z', '2025-01-01T00:00:00.000Z', '2025-01-02T00:00:00.000Z']);
    // 2025-01-01 is a Wednesday: its week started Monday 2024-12-30.
    const weeks = bucketBoundaries(ms('2025-01-01T00:00:00Z'), ms('2025-01-08T00:00:00Z'), 'week', 'UTC');
    expect(iso(weeks)).toEqual(['2024-12-30T00:00:00.000Z', '2025-01-06T00:00:00.000Z', '2025-01-13T00:00:00.000Z']);
    // 2021-01-01 (Friday) belongs to ISO week 53 of 2020, which started Monday 2020-12-28.
    expect(iso(bucketBoundaries(ms('2021-01-01T12:00:00Z'), ms('2021-01-02T00:00:00Z'), 'week', 'UTC'))[0]).toBe('2020-12-28T00:00:00.000Z');
  });

  it('months have their own lengths, February 29 days in a leap year, and cross years', () => {
    const b = bucketBoundaries(ms('2023-11-15T00:00:00Z'), ms('2024-04-01T00:00:00Z'), 'month', 'UTC');
    expect(iso(b)).toEqual([
      '2023-11-01T00:00:00.000Z',
      '2023-12-01T00:00:00.000Z',
      '2024-01-01T00:00:00.000Z',
      '2024-02-01T00:00:00.000Z',
      '2024-03-01T00:00:00.000Z',
      '2024-04-01T00:00:00.000Z',
    ]);
    expect(lengths(b).map((h) => h / 24)).toEqual([30, 31, 31, 29, 31]);
    expect(lengths(bucketBoundaries(ms('2023-02-10T00:00:00Z'), ms('2023-02-11T00:00:00Z'), 'month', 'UTC')).map((h) => h / 24)).toEqual([28]);
  });

  it('the leap day is its own day bucket', () => {
    const b = bucketBoundaries(ms('2024-02-28T00:00:00Z'), ms('2024-03-01T00:00:00Z'), 'day', 'UTC');
    expect(iso(b)).toEqual(['2024-02-28T00:00:00.000Z', '2024-02-29T00:00:00.000Z', '2024-03-01T00:00:00.000Z']);
  });

  it('months in a DST zone start at local midnight, March is one hour short in Berlin', () => {
    const zone = 'Europe/Berlin';
    const b = bucketBoundaries(ms('2025-03-05T00:00:00Z'), ms('2025-04-05T00:00:00Z'), 'month', zone);
    expect(iso(b)).toEqual(['2025-02-28T23:00:00.000Z', '2025-03-31T22:00:00.000Z', '2025-04-30T22:00:00.000Z']);
    expect(lengths(b)).toEqual([31 * 24 - 1, 30 * 24]);
  });

  it(`refuse more than ${MAX_BUCKETS} buckets, and count them without building past the cap`, () => {
    const from = ms('2025-01-01T00:00:00Z');
    expect(bucketCount(from, from + MAX_BUCKETS * HOUR, 'hour', 'UTC')).toBe(MAX_BUCKETS);
    expect(bucketCount(from, from + (MAX_BUCKETS + 1) * HOUR, 'hour', 'UTC')).toBe(MAX_BUCKETS + 1);
    expect(() => bucketBoundaries(from, from + 90 * 24 * HOUR, 'hour', 'UTC')).toThrow(TooManyBucketsError);
    expect(bucketCount(from, from + 90 * 24 * HOUR, 'day', 'UTC')).toBe(90);
  });
});

describe('bucket lookup', () => {
  const b = bucketBoundaries(ms('2025-03-29T00:00:00Z'), ms('2025-04-01T00:00:00Z'), 'day', 'Europe/Berlin');

  it('finds the bucket of an instant by binary search, -1 outside', () => {
    expect(bucketIndexOf(b, b[0]! - 1)).toBe(-1);
    expect(bucketIndexOf(b, b[0]!)).toBe(0);
    expect(bucketIndexOf(b, b[1]! - 1)).toBe(0);
    expect(bucketIndexOf(b, b[1]!)).toBe(1);
    expect(bucketIndexOf(b, b[b.length - 1]!)).toBe(-1);
    expect(bucketIndexOf([5], 5)).toBe(-1);
  });

  it('maps every quarter hour of the range to the bucket its instant is in, whatever the lookup order', () => {
    const { first, end } = rollupRangeOf(b);
    const index = bucketIndexer(b);
    const counts = new Array(b.length - 1).fill(0);
    const quarters = [];
    for (let q = first; q < end; q += 15) quarters.push(q);
    for (const q of [...quarters, ...quarters.reverse()]) {
      const i = index(q);
      expect(i).toBe(bucketIndexOf(b, q * 60_000));
      counts[i] += 1;
    }
    // Mar 29, 30 (23h, spring forward), 31, Apr 1: 4 quarter hours an hour, each visited twice.
    expect(counts).toEqual([24, 23, 24, 24].map((h) => h * 4 * 2));
  });

  it('rollup range of Kathmandu days is whole quarter hours', () => {
    const k = bucketBoundaries(ms('2025-06-01T00:00:00Z'), ms('2025-06-02T00:00:00Z'), 'day', 'Asia/Kathmandu');
    const { first, end } = rollupRangeOf(k);
    expect(first * 60_000).toBe(k[0]);
    expect(end * 60_000).toBe(k[k.length - 1]);
  });
});

describe('time zones', () => {
  it('accepts IANA names and UTC, refuses others', () => {
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('Asia/Kathmandu')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
  });
});

describe('duration percentiles', () => {
  const histogram = (durations: number[]) => {
    const h = new Array(64).fill(0);
    for (const d of durations) h[durationClassOf(d)] += 1;
    return h;
  };

  it('is null without durations', () => {
    expect(durationPercentile(new Array(64).fill(0), 0.5)).toBeNull();
  });

  it('stays inside the class holding the rank, within √2 of the true value', () => {
    const durations = Array.from({ length: 1000 }, (_, i) => 10 + i * 7);
    const sorted = [...durations].sort((a, b) => a - b);
    for (const p of [0.5, 0.95]) {
      const truth = sorted[Math.ceil(p * sorted.length) - 1]!;
      const estimate = durationPercentile(histogram(durations), p)!;
      const [lo, hi] = durationClassBounds(durationClassOf(truth));
      expect(estimate).toBeGreaterThanOrEqual(Math.floor(lo));
      expect(estimate).toBeLessThanOrEqual(Math.ceil(hi));
      expect(estimate / truth).toBeGreaterThan(1 / Math.SQRT2);
      expect(estimate / truth).toBeLessThan(Math.SQRT2);
    }
  });

  it('interpolates geometrically: one value in a class gives its geometric middle', () => {
    const h = histogram([100]);
    const [lo, hi] = durationClassBounds(durationClassOf(100));
    expect(durationPercentile(h, 0.5)).toBe(Math.round(Math.sqrt(lo * hi)));
  });

  it('is monotonic in p', () => {
    const h = histogram([1, 5, 50, 500, 5000, 50_000]);
    let previous = 0;
    for (let p = 0.05; p <= 1; p += 0.05) {
      const value = durationPercentile(h, p)!;
      expect(value).toBeGreaterThanOrEqual(previous);
      previous = value;
    }
  });

  it('sub-millisecond durations stay under 1 ms', () => {
    expect(durationPercentile(histogram([0, 0, 0]), 0.95)).toBeLessThanOrEqual(1);
  });
});
