import type { AppContext } from '../../context.js';
import type { PageResult } from '../../db/paging.js';
import { AppError } from '../../errors.js';
import { DEFAULT_PER_PAGE } from '../../http/pagination.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { toAgentLeaf } from './access.js';
import * as repo from './agents.repository.js';
import { LEADERBOARD_FORMULA, type AgentLeaderboardEntryResource, type LeaderboardSortField } from './agents.schemas.js';

const DAY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_PERIOD_DAYS = 30;
export const MAX_PERIOD_DAYS = 366;
/** 95% confidence for the Wilson bound. */
const Z = 1.96;

/**
 * The lower bound of the Wilson score interval for `up` successes out of `n`: the share of
 * positive feedback we are 95% sure of. Few votes give a low bound, so one thumbs-up does not
 * outrank a hundred mostly positive ones.
 */
export function wilsonLowerBound(up: number, n: number, z = Z): number {
  if (n === 0) return 0;
  const p = up / n;
  const z2 = z * z;
  return (p + z2 / (2 * n) - z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
}

export interface ScoreInput {
  runs: number;
  completed: number;
  up: number;
  down: number;
}

/**
 * `100 × (0.5 × success_rate + 0.3 × feedback_lower_bound + 0.2 × min(1, log10(1 + runs) / 3))`:
 * reliability weighs most, then how readers rated the replies (0.5, neutral, without feedback),
 * then use, which saturates at 999 runs so volume alone cannot win.
 */
export function leaderboardScore({ runs, completed, up, down }: ScoreInput): number {
  const successRate = runs === 0 ? 0 : completed / runs;
  const feedback = up + down === 0 ? 0.5 : wilsonLowerBound(up, up + down);
  const volume = Math.min(1, Math.log10(1 + runs) / 3);
  return 100 * (0.5 * successRate + 0.3 * feedback + 0.2 * volume);
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

function realDay(year: string, month: string, day: string): boolean {
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  return date.getUTCFullYear() === Number(year) && date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day);
}

/**
 * A period bound from the query: a date is midnight UTC (for `to`, the midnight after it, so
 * the day counts whole); a date-time is taken as is. 422 otherwise.
 */
function parseBound(field: 'from' | 'to', value: string): number {
  const dateOnly = DATE_ONLY.exec(value);
  const dateTime = dateOnly ? null : DATE_TIME.exec(value);
  const parts = dateOnly ?? dateTime;
  const time = parts && realDay(parts[1]!, parts[2]!, parts[3]!) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) throw invalidPeriod(field, `The ${field} field must be a valid date.`);
  return dateOnly && field === 'to' ? time + DAY_MS : time;
}

function invalidPeriod(field: string, message: string): AppError {
  return new AppError('VALIDATION', message, { fields: { [field]: [message] } });
}

export interface Period {
  from: string;
  to: string;
}

/** The period asked for, defaulting to the 30 days before now; at most 366 days long. */
export function periodOf(query: { from?: string; to?: string }, nowMs = Date.now()): Period {
  const to = query.to === undefined ? nowMs : parseBound('to', query.to);
  const from = query.from === undefined ? to - DEFAULT_PERIOD_DAYS * DAY_MS : parseBound('from', query.from);
  if (from >= to) throw invalidPeriod('to', 'The to field must be a date after from.');
  if (to - from > MAX_PERIOD_DAYS * DAY_MS) {
    throw invalidPeriod('to', `The to field must be a date no more than ${MAX_PERIOD_DAYS} days after from.`);
  }
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

type Entry = Omit<AgentLeaderboardEntryResource, 'agent' | 'rank'> & { agentId: string; exactScore: number };

const SORT_VALUE: Record<LeaderboardSortField, (e: Entry) => number | null> = {
  score: (e) => e.exactScore,
  runs: (e) => e.runs,
  success_rate: (e) => e.success_rate,
  feedback_score: (e) => e.feedback_score,
  latency: (e) => e.avg_latency_ms,
  tokens: (e) => e.total_tokens,
  cost: (e) => e.cost,
};

/** Rank order: score, then more runs, then agent id (UUID v7: the older agent). */
function byRank(a: Entry, b: Entry): number {
  return b.exactScore - a.exactScore || b.runs - a.runs || (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0);
}

export interface LeaderboardQuery {
  from?: string;
  to?: string;
  sort?: string;
  page?: number;
  per_page?: number;
}

export interface Leaderboard {
  page: PageResult<AgentLeaderboardEntryResource> & { kind: 'offset' };
  period: Period;
  sort: string;
  formula: string;
}

/**
 * Ranks the agents the caller can see by their finished runs and message feedback in the
 * acting workspace over a period. Two aggregate queries (runs, feedback) and one for the
 * agents of the page; scores, ranks and order are computed here, identically on both databases.
 */
export async function agentLeaderboard(ctx: AppContext, scope: WorkspaceScope, query: LeaderboardQuery): Promise<Leaderboard> {
  const db = ctx.db.kysely;
  const period = periodOf(query);
  const sort = query.sort ?? '-score';
  const [runTotals, feedbackTotals] = await Promise.all([
    repo.aggregateAgentRuns(db, scope, period.from, period.to),
    repo.aggregateAgentFeedback(db, scope, period.from, period.to),
  ]);
  const feedback = new Map(feedbackTotals.map((f) => [f.agent_id, f]));
  const entries: Entry[] = runTotals.map((r) => {
    const up = feedback.get(r.agent_id)?.up ?? 0;
    const down = feedback.get(r.agent_id)?.down ?? 0;
    const exactScore = leaderboardScore({ runs: r.runs, completed: r.completed, up, down });
    return {
      agentId: r.agent_id,
      exactScore,
      runs: r.runs,
      completed: r.completed,
      failed: r.runs - r.completed,
      success_rate: round(r.completed / r.runs, 4),
      feedback_up: up,
      feedback_down: down,
      feedback_score: up + down === 0 ? null : round((up - down) / (up + down), 4),
      avg_latency_ms: r.avg_latency_ms === null ? null : Math.round(r.avg_latency_ms),
      input_tokens: r.input_tokens,
      output_tokens: r.output_tokens,
      total_tokens: r.input_tokens + r.output_tokens,
      cost: round(r.cost, 6),
      score: round(exactScore, 2),
    };
  });

  entries.sort(byRank);
  const rankOf = new Map(entries.map((e, i) => [e.agentId, i + 1]));
  const descending = sort.startsWith('-');
  const valueOf = SORT_VALUE[(descending ? sort.slice(1) : sort) as LeaderboardSortField];
  const ordered = [...entries].sort((a, b) => {
    const va = valueOf(a);
    const vb = valueOf(b);
    // Agents without a value (no feedback, no latency) come last in either direction.
    if (va === null || vb === null) return va === vb ? byRank(a, b) : va === null ? 1 : -1;
    return (descending ? vb - va : va - vb) || byRank(a, b);
  });

  const page = query.page ?? 1;
  const perPage = query.per_page ?? DEFAULT_PER_PAGE;
  const slice = ordered.slice((page - 1) * perPage, page * perPage);
  const agents = new Map((await repo.findVisibleAgents(db, scope, slice.map((e) => e.agentId))).map((a) => [a.id, a]));
  const items = slice.flatMap(({ agentId, exactScore: _exact, ...entry }) => {
    const agent = agents.get(agentId);
    // An agent deleted between the two reads is left out of the page.
    return agent ? [{ rank: rankOf.get(agentId)!, agent: toAgentLeaf(agent), ...entry }] : [];
  });
  return {
    page: { kind: 'offset', items, total: ordered.length, page, perPage },
    period,
    sort,
    formula: LEADERBOARD_FORMULA,
  };
}
