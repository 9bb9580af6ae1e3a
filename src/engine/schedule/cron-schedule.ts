import { Cron } from 'croner';

/** A schedule trigger's timing: a cron expression read in an IANA time zone. */
export interface ScheduleSpec {
  cron: string;
  timezone: string;
}

export type ScheduleCheck = { ok: true } | { ok: false; message: string };

const NICKNAMES = /^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/i;
const MAX_COMPILED = 256;

/** Compiled patterns by zone and expression: the scheduler asks about the same few again and again. */
const compiled = new Map<string, Cron>();

function isTimeZone(zone: string): boolean {
  // Intl accepts offsets (`+01:00`) on newer engines; a schedule needs a zone with its DST rules.
  if (zone.trim() === '' || /^[+-]/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The reason croner gives, without its class prefix, as a sentence fragment. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^Cron\w*:\s*/, '').replace(/\.$/, '');
}

function fieldProblem(cron: string): string | undefined {
  if (cron === '') return 'The cron expression is empty.';
  if (NICKNAMES.test(cron)) return undefined;
  const fields = cron.split(/\s+/).length;
  if (fields === 5 || fields === 6) return undefined;
  return `The cron expression "${cron}" has ${fields} field${fields === 1 ? '' : 's'}: use 5 (minute hour day-of-month month day-of-week) or 6 (second first).`;
}

/** Parses without the checks above; throws croner's error. */
function compile(cron: string, timezone: string): Cron {
  const key = `${timezone}\n${cron}`;
  let job = compiled.get(key);
  if (!job) {
    // No callback: croner starts no timer, the object only computes dates.
    job = new Cron(cron, { timezone, mode: '5-or-6-parts' });
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, job);
  }
  return job;
}

/** Compiles a schedule the caller has checked; throws an Error with parseSchedule's message otherwise. */
function compileChecked(cron: string, timezone: string): Cron {
  const expression = cron.trim();
  const known = compiled.get(`${timezone}\n${expression}`);
  if (known) return known;
  const problem = fieldProblem(expression) ?? (isTimeZone(timezone) ? undefined : zoneProblem(timezone));
  if (problem) throw new Error(problem);
  try {
    return compile(expression, timezone);
  } catch (error) {
    throw new Error(cronProblem(expression, error));
  }
}

function zoneProblem(timezone: string): string {
  return `The time zone "${timezone}" is not an IANA time zone name (such as Europe/Berlin or UTC).`;
}

function cronProblem(cron: string, error: unknown): string {
  return `The cron expression "${cron}" is invalid: ${reasonOf(error)}.`;
}

/**
 * Checks a schedule: a 5-field cron expression (minute precision), a 6-field one (seconds first)
 * or a nickname such as `@daily`, in an IANA time zone, that fires at least once from `now` on.
 */
export function parseSchedule(spec: ScheduleSpec, now: Date = new Date()): ScheduleCheck {
  const cron = spec.cron.trim();
  const fields = fieldProblem(cron);
  if (fields) return { ok: false, message: fields };
  if (!isTimeZone(spec.timezone)) return { ok: false, message: zoneProblem(spec.timezone) };
  let job: Cron;
  try {
    job = compile(cron, spec.timezone);
  } catch (error) {
    return { ok: false, message: cronProblem(cron, error) };
  }
  // `0 0 30 2 *` parses but names a day that does not exist.
  if (job.nextRun(now) === null) return { ok: false, message: `The cron expression "${cron}" never fires.` };
  return { ok: true };
}

/**
 * The first fire time strictly after `after`, or null when there is none. Across DST changes
 * (croner, as Vixie cron): a fixed-time job (`30 2 * * *`) whose time is skipped fires at the first
 * valid time after the gap, and once when its time repeats; an interval job (a wildcard, step,
 * range or list in the time fields) skips the gap and fires on both passes of a repeated hour.
 */
export function nextRunAt(cron: string, timezone: string, after: Date): Date | null {
  if (Number.isNaN(after.getTime())) throw new RangeError('nextRunAt needs a valid date.');
  return compileChecked(cron, timezone).nextRun(after) ?? null;
}

/**
 * The fire times in (from, to], oldest first; when there are more than `max`, the latest `max` of
 * them. For catching up after downtime: the scheduler asks with `max` 1 and fires only the latest
 * missed run, so a server that was down for a day starts one execution, not one per missed minute.
 */
export function dueRuns(cron: string, timezone: string, from: Date, to: Date, max: number): Date[] {
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw new RangeError('dueRuns needs valid dates.');
  const job = compileChecked(cron, timezone);
  const limit = Math.floor(max);
  if (limit <= 0 || to.getTime() <= from.getTime()) return [];
  // previousRuns excludes its reference: one millisecond past `to` includes a run at `to`.
  const runs = job.previousRuns(limit, new Date(to.getTime() + 1));
  return runs.filter((run) => run.getTime() > from.getTime()).reverse();
}
