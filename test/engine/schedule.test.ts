import { describe, expect, it } from 'vitest';
import { dueRuns, nextRunAt, parseSchedule } from '../../src/engine/schedule/index.js';

const at = (iso: string) => new Date(iso);
const isoOf = (dates: Date[]) => dates.map((d) => d.toISOString());

/** The next `count` fire times after `after`, each found from the one before. */
function chain(cron: string, timezone: string, after: string, count: number): string[] {
  const runs: string[] = [];
  let cursor = at(after);
  for (let i = 0; i < count; i++) {
    const next = nextRunAt(cron, timezone, cursor);
    if (!next) break;
    runs.push(next.toISOString());
    cursor = next;
  }
  return runs;
}

describe('parseSchedule', () => {
  it.each([
    ['0 9 * * 1-5', 'Europe/Berlin'],
    ['*/5 * * * * *', 'UTC'],
    ['0 30 2 * * *', 'America/New_York'],
    ['@daily', 'Asia/Tokyo'],
    ['0 12 L * *', 'europe/berlin'],
    ['  15 10 * * MON  ', 'UTC'],
  ])('accepts %j in %s', (cron, timezone) => {
    expect(parseSchedule({ cron, timezone })).toEqual({ ok: true });
  });

  it('names a bad field value', () => {
    expect(parseSchedule({ cron: '61 * * * *', timezone: 'UTC' })).toEqual({
      ok: false,
      message: 'The cron expression "61 * * * *" is invalid: Invalid value for minute: 61.',
    });
  });

  it.each([
    ['* * * *', 4],
    ['0 0 0 1 1 * 2030', 7],
    ['2030-01-01T00:00:00', 1],
  ])('refuses %j, which has %i fields (a 7th year field or a date is not a schedule)', (cron, fields) => {
    const result = parseSchedule({ cron, timezone: 'UTC' });
    expect(result.ok).toBe(false);
    expect(result.ok === false && result.message).toBe(
      `The cron expression "${cron}" has ${fields} field${fields === 1 ? '' : 's'}: use 5 (minute hour day-of-month month day-of-week) or 6 (second first).`,
    );
  });

  it('refuses an empty expression and an unknown nickname', () => {
    expect(parseSchedule({ cron: '   ', timezone: 'UTC' })).toEqual({ ok: false, message: 'The cron expression is empty.' });
    expect(parseSchedule({ cron: '@reboot', timezone: 'UTC' }).ok).toBe(false);
  });

  it.each(['Mars/Olympus_Mons', '', '+01:00', 'Europe/Berlinn'])('refuses the time zone %j', (timezone) => {
    expect(parseSchedule({ cron: '0 9 * * *', timezone })).toEqual({
      ok: false,
      message: `The time zone "${timezone}" is not an IANA time zone name (such as Europe/Berlin or UTC).`,
    });
  });

  it('refuses a schedule that names a day that never comes', () => {
    expect(parseSchedule({ cron: '0 0 30 2 *', timezone: 'UTC' })).toEqual({ ok: false, message: 'The cron expression "0 0 30 2 *" never fires.' });
  });

  it('nextRunAt and dueRuns throw parseSchedule’s message for a schedule that was not checked', () => {
    expect(() => nextRunAt('61 * * * *', 'UTC', at('2025-01-01T00:00:00Z'))).toThrow('The cron expression "61 * * * *" is invalid');
    expect(() => dueRuns('0 9 * * *', 'Nowhere/Land', at('2025-01-01T00:00:00Z'), at('2025-01-02T00:00:00Z'), 1)).toThrow(
      'The time zone "Nowhere/Land" is not an IANA time zone name',
    );
  });
});

describe('nextRunAt', () => {
  it('reads the expression in the schedule’s zone, winter and summer', () => {
    // 09:00 in Berlin is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
    expect(nextRunAt('0 9 * * *', 'Europe/Berlin', at('2025-01-15T12:00:00Z'))?.toISOString()).toBe('2025-01-16T08:00:00.000Z');
    expect(nextRunAt('0 9 * * *', 'Europe/Berlin', at('2025-07-15T12:00:00Z'))?.toISOString()).toBe('2025-07-16T07:00:00.000Z');
    // 09:00 in New York is 14:00 UTC (EST) and 13:00 UTC (EDT).
    expect(nextRunAt('0 9 * * *', 'America/New_York', at('2025-01-15T12:00:00Z'))?.toISOString()).toBe('2025-01-15T14:00:00.000Z');
    expect(nextRunAt('0 9 * * *', 'America/New_York', at('2025-07-15T14:00:00Z'))?.toISOString()).toBe('2025-07-16T13:00:00.000Z');
  });

  it('is strictly after the given time', () => {
    expect(nextRunAt('0 9 * * *', 'UTC', at('2025-01-15T09:00:00Z'))?.toISOString()).toBe('2025-01-16T09:00:00.000Z');
    expect(nextRunAt('0 9 * * *', 'UTC', at('2025-01-15T08:59:59.999Z'))?.toISOString()).toBe('2025-01-15T09:00:00.000Z');
  });

  it('runs a 02:30 daily job once on the spring-forward day, at 03:00 after the gap (Berlin)', () => {
    // 2025-03-30: clocks in Berlin jump from 02:00 CET to 03:00 CEST.
    expect(chain('30 2 * * *', 'Europe/Berlin', '2025-03-29T12:00:00Z', 2)).toEqual([
      '2025-03-30T01:00:00.000Z', // 03:00 CEST, the first valid time after the gap
      '2025-03-31T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('runs a 02:30 daily job once on the spring-forward day (New York)', () => {
    // 2025-03-09: 02:00 EST jumps to 03:00 EDT.
    expect(chain('30 2 * * *', 'America/New_York', '2025-03-08T12:00:00Z', 3)).toEqual([
      '2025-03-09T07:00:00.000Z', // 03:00 EDT
      '2025-03-10T06:30:00.000Z', // 02:30 EDT
      '2025-03-11T06:30:00.000Z',
    ]);
  });

  it('runs a daily job whose time repeats on the fall-back day once, at the first pass', () => {
    // 2025-11-02: 01:00–02:00 happens twice in New York (EDT, then EST).
    expect(chain('30 1 * * *', 'America/New_York', '2025-11-01T12:00:00Z', 3)).toEqual([
      '2025-11-02T05:30:00.000Z', // 01:30 EDT; 06:30 UTC (01:30 EST) is not a second run
      '2025-11-03T06:30:00.000Z', // 01:30 EST
      '2025-11-04T06:30:00.000Z',
    ]);
    // 2025-10-26: 02:00–03:00 happens twice in Berlin (CEST, then CET).
    expect(chain('30 2 * * *', 'Europe/Berlin', '2025-10-25T12:00:00Z', 2)).toEqual(['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z']);
  });

  it('runs an interval job on both passes through the repeated hour', () => {
    expect(isoOf(dueRuns('*/30 * * * *', 'America/New_York', at('2025-11-02T04:45:00Z'), at('2025-11-02T07:15:00Z'), 10))).toEqual([
      '2025-11-02T05:00:00.000Z', // 01:00 EDT
      '2025-11-02T05:30:00.000Z', // 01:30 EDT
      '2025-11-02T06:00:00.000Z', // 01:00 EST
      '2025-11-02T06:30:00.000Z', // 01:30 EST
      '2025-11-02T07:00:00.000Z', // 02:00 EST
    ]);
  });

  it('handles the ends of months: the 31st skips short months, L is the last day', () => {
    expect(chain('0 0 31 * *', 'UTC', '2025-01-31T00:00:00Z', 3)).toEqual([
      '2025-03-31T00:00:00.000Z',
      '2025-05-31T00:00:00.000Z',
      '2025-07-31T00:00:00.000Z',
    ]);
    // 2024 is a leap year; on 2024-03-31 Berlin moves to summer time.
    expect(chain('0 12 L * *', 'Europe/Berlin', '2024-02-01T00:00:00Z', 3)).toEqual([
      '2024-02-29T11:00:00.000Z',
      '2024-03-31T10:00:00.000Z',
      '2024-04-30T10:00:00.000Z',
    ]);
    expect(nextRunAt('0 0 29 2 *', 'UTC', at('2025-01-01T00:00:00Z'))?.toISOString()).toBe('2028-02-29T00:00:00.000Z');
  });

  it('takes a seconds field: */5 fires every five seconds', () => {
    expect(chain('*/5 * * * * *', 'UTC', '2025-01-01T00:00:03.250Z', 3)).toEqual([
      '2025-01-01T00:00:05.000Z',
      '2025-01-01T00:00:10.000Z',
      '2025-01-01T00:00:15.000Z',
    ]);
  });
});

describe('dueRuns', () => {
  it('lists the fire times in (from, to], oldest first', () => {
    expect(isoOf(dueRuns('*/5 * * * * *', 'UTC', at('2025-01-01T00:00:00Z'), at('2025-01-01T00:00:20Z'), 100))).toEqual([
      '2025-01-01T00:00:05.000Z',
      '2025-01-01T00:00:10.000Z',
      '2025-01-01T00:00:15.000Z',
      '2025-01-01T00:00:20.000Z',
    ]);
  });

  it('keeps the latest `max` when more are due (catch-up fires only the latest missed run)', () => {
    const from = at('2025-01-01T00:00:00Z');
    const to = at('2025-01-02T00:00:30Z');
    expect(isoOf(dueRuns('* * * * *', 'UTC', from, to, 1))).toEqual(['2025-01-02T00:00:00.000Z']);
    expect(isoOf(dueRuns('* * * * *', 'UTC', from, to, 3))).toEqual([
      '2025-01-01T23:58:00.000Z',
      '2025-01-01T23:59:00.000Z',
      '2025-01-02T00:00:00.000Z',
    ]);
  });

  it('is empty when nothing is due, the window is empty or max is 0', () => {
    expect(dueRuns('0 9 * * *', 'Europe/Berlin', at('2025-01-15T08:01:00Z'), at('2025-01-16T07:59:00Z'), 5)).toEqual([]);
    expect(dueRuns('* * * * *', 'UTC', at('2025-01-15T08:00:00Z'), at('2025-01-15T08:00:00Z'), 5)).toEqual([]);
    expect(dueRuns('* * * * *', 'UTC', at('2025-01-15T09:00:00Z'), at('2025-01-15T08:00:00Z'), 5)).toEqual([]);
    expect(dueRuns('* * * * *', 'UTC', at('2025-01-15T08:00:00Z'), at('2025-01-15T09:00:00Z'), 0)).toEqual([]);
  });

  it('counts a fall-back day’s fixed-time job once', () => {
    const runs = dueRuns('30 1 * * *', 'America/New_York', at('2025-11-01T12:00:00Z'), at('2025-11-03T12:00:00Z'), 10);
    expect(isoOf(runs)).toEqual(['2025-11-02T05:30:00.000Z', '2025-11-03T06:30:00.000Z']);
  });

  it('gives the same answers whatever was asked before (compiled schedules are reused)', () => {
    const first = nextRunAt('15 4 * * *', 'Asia/Tokyo', at('2025-06-01T00:00:00Z'));
    dueRuns('15 4 * * *', 'Asia/Tokyo', at('2020-01-01T00:00:00Z'), at('2030-01-01T00:00:00Z'), 5);
    nextRunAt('15 4 * * *', 'Asia/Tokyo', at('2029-06-01T00:00:00Z'));
    expect(nextRunAt('15 4 * * *', 'Asia/Tokyo', at('2025-06-01T00:00:00Z'))).toEqual(first);
    expect(first?.toISOString()).toBe('2025-06-01T19:15:00.000Z');
  });
});
