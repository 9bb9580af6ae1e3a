import { DateTime } from 'luxon';
import type { AppContext } from '../../context.js';
import { isUuid } from '../../db/values.js';
import { fieldError } from '../../errors.js';
import { findVisibleAgent } from '../agents/agents.repository.js';
import { EXECUTION_TRIGGERS, type ExecutionTrigger } from '../executions/executions.table.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import {
  INTERVALS,
  MAX_BUCKETS,
  TooManyBucketsError,
  bucketBoundaries,
  bucketIndexOf,
  durationPercentile,
  isValidTimeZone,
  type Interval,
} from './buckets.js';
import * as repo from './metrics.repository.js';
import type { ResourceSight, RollupSums } from './metrics.repository.js';
import type {
  AgentMetricsResource,
  MessageMetricsResource,
  ThreadMetricsResource,
  WorkflowExecutionMetricsResource,
  WorkflowMetricsResource,
} from './metrics.schemas.js';
import {
  AGENT_RUN_COUNTERS,
  DURATION_COLUMNS,
  SHARED_OWNER,
  WORKSPACE_DIM,
  agentDim,
  userDim,
  workflowDim,
  type CounterOf,
  type SeriesName,
} from './series.js';

export const DEFAULT_RANGE_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface MetricsQuery {
  from?: string;
  to?: string;
  interval?: Interval;
  timezone?: string;
  agent_uuid?: string;
  workflow_uuid?: string;
  user_id?: number;
}

/** The buckets of one answer. */
export interface MetricsRange {
  interval: Interval;
  timezone: string;
  /** n + 1 instants (epoch ms) for n buckets. */
  boundaries: number[];
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * A range bound: a date-time with `Z` or an offset is that instant; without one, or a date
 * alone, it is read in the time zone (a date is its midnight; for `to`, the next midnight, so the
 * day counts whole).
 */
function parseBound(field: 'from' | 'to', value: string, zone: string): number {
  const dateOnly = DATE_ONLY.test(value);
  const parsed = dateOnly || DATE_TIME.test(value) ? DateTime.fromISO(value, { zone }) : null;
  if (!parsed?.isValid) throw fieldError(field, `The ${field} field must be a valid date.`);
  return (dateOnly && field === 'to' ? parsed.plus({ days: 1 }) : parsed).toMillis();
}

/** The buckets asked for (default: daily buckets over the 30 days before now, in UTC); 422 when not valid. */
export function metricsRangeOf(query: MetricsQuery, nowMs = Date.now()): MetricsRange {
  const timezone = query.timezone ?? 'UTC';
  if (!isValidTimeZone(timezone)) throw fieldError('timezone', 'The timezone field must be a valid timezone.');
  const interval = query.interval ?? 'day';
  if (!INTERVALS.includes(interval)) throw fieldError('interval', `The selected interval is invalid.`);
  const to = query.to === undefined ? nowMs : parseBound('to', query.to, timezone);
  const from = query.from === undefined ? to - DEFAULT_RANGE_DAYS * DAY_MS : parseBound('from', query.from, timezone);
  if (from >= to) throw fieldError('to', 'The to field must be a date after from.');
  try {
    return { interval, timezone, boundaries: bucketBoundaries(from, to, interval, timezone) };
  } catch (error) {
    if (error instanceof TooManyBucketsError) {
      throw fieldError('interval', `The range holds more than ${MAX_BUCKETS} ${interval} buckets: choose a shorter range or a longer interval.`);
    }
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading and folding rollups

type Totals<C extends string> = Record<C, number>;

/** Per bucket of the range, the sums of `counters` over the rows (subtracted rows negative). */
function fold<C extends string>(range: MetricsRange, counters: readonly C[], rows: RollupSums<C>[]): Totals<C>[] {
  const buckets = Array.from({ length: range.boundaries.length - 1 }, () => zeros(counters));
  for (const row of rows) {
    const bucket = buckets[row.slot];
    if (!bucket) continue;
    for (const c of counters) bucket[c] += row.sign * row[c];
  }
  return buckets;
}

function zeros<C extends string>(counters: readonly C[]): Totals<C> {
  const out = {} as Totals<C>;
  for (const c of counters) out[c] = 0;
  return out;
}

function sumAll<C extends string>(counters: readonly C[], buckets: Totals<C>[]): Totals<C> {
  const total = zeros(counters);
  for (const bucket of buckets) for (const c of counters) total[c] += bucket[c];
  return total;
}

/** Counts are sums of doubles: whole numbers once rounded (a subtraction may leave 1e-12). */
const count = (value: number) => Math.max(0, Math.round(value));
const money = (value: number) => Math.max(0, Math.round(value * 1e6) / 1e6);
const ratio = (value: number) => Math.round(value * 1e4) / 1e4;

/**
 * Per bucket, the sums of `counters` over the added dimensions minus the subtracted ones. Two
 * statements: the added rows with every counter, then the subtracted rows with only the
 * counters that were not zero over the range (a hidden resource's counts are part of the
 * workspace's, so the others are zero for it too): execution duration classes outside the
 * workspace's usual range are not read twice.
 */
async function readSeries<S extends SeriesName, C extends CounterOf<S>>(
  ctx: AppContext,
  scope: WorkspaceScope,
  range: MetricsRange,
  series: S,
  counters: readonly C[],
  dims: { add: readonly string[]; subtract: readonly string[]; owners: readonly number[] },
): Promise<Totals<C>[]> {
  const db = ctx.db.kysely;
  const keys = { workspaceId: scope.workspaceId, owners: dims.owners, boundaries: range.boundaries, subtract: [] };
  const rows = await repo.sumRollups(db, series, counters, { ...keys, add: dims.add });
  if (dims.subtract.length > 0) {
    const present = counters.filter((c) => rows.some((row) => row[c] !== 0));
    if (present.length > 0) {
      const hidden = await repo.sumRollups(db, series, present, { ...keys, add: dims.subtract });
      for (const row of hidden) rows.push({ ...zeros(counters), ...row, sign: -1 });
    }
  }
  return fold(range, counters, rows);
}

/**
 * The dimensions that count what the viewer may see of a series keyed by agent or workflow:
 * the workspace's `''` minus each hidden one's, or, when most are hidden, the visible ones'
 * added up (fewer rows to read). With a filter, that one's alone.
 */
function visibleDims(sights: readonly ResourceSight[], dimOf: (id: string) => string, filterId?: string) {
  if (filterId) return { add: [dimOf(filterId)], subtract: [], counts: (id: string) => id === filterId };
  const hidden = sights.filter((s) => !s.visible).map((s) => s.id);
  const visible = sights.filter((s) => s.visible).map((s) => s.id);
  if (hidden.length <= visible.length || hidden.length === 0) {
    const hiddenSet = new Set(hidden);
    return { add: [WORKSPACE_DIM], subtract: hidden.map(dimOf), counts: (id: string) => !hiddenSet.has(id) };
  }
  const visibleSet = new Set(visible);
  return { add: visible.map(dimOf), subtract: [], counts: (id: string) => visibleSet.has(id) };
}

/** Per bucket, how many of the visible resources were created in it. */
function createdPerBucket(range: MetricsRange, sights: readonly ResourceSight[]): number[] {
  const created = new Array<number>(range.boundaries.length - 1).fill(0);
  for (const sight of sights) {
    const i = bucketIndexOf(range.boundaries, Date.parse(sight.created_at));
    if (i >= 0) created[i]! += 1;
  }
  return created;
}

const invalidSelection = (field: string, label: string) => fieldError(field, `The selected ${label} is invalid.`);

function bucketBounds(range: MetricsRange, i: number) {
  return { start: new Date(range.boundaries[i]!).toISOString(), end: new Date(range.boundaries[i + 1]!).toISOString() };
}

function rangeFields(range: MetricsRange) {
  return {
    from: new Date(range.boundaries[0]!).toISOString(),
    to: new Date(range.boundaries[range.boundaries.length - 1]!).toISOString(),
    interval: range.interval,
    timezone: range.timezone,
  };
}

// ---------------------------------------------------------------------------------------------
// Agents

/** Every counter of the agent runs series is part of the answer. */
const AGENT_COUNTERS = AGENT_RUN_COUNTERS;

/** Runs of the agents the caller sees, their outcome, usage and feedback; agents created. */
export async function agentMetrics(ctx: AppContext, scope: WorkspaceScope, query: MetricsQuery): Promise<AgentMetricsResource> {
  const range = metricsRangeOf(query);
  const db = ctx.db.kysely;
  const sights = await repo.agentSights(db, scope);
  const filterId = query.agent_uuid;
  if (filterId !== undefined && !(isUuid(filterId) && sights.some((s) => s.id === filterId && s.visible))) {
    throw invalidSelection('agent_uuid', 'agent uuid');
  }
  const dims = visibleDims(sights, agentDim, filterId);
  const buckets = await readSeries(ctx, scope, range, 'agent_runs', AGENT_COUNTERS, { ...dims, owners: [SHARED_OWNER] });
  const counted = sights.filter((s) => s.visible && (filterId === undefined ? s.own : s.id === filterId));
  const created = createdPerBucket(range, counted);
  const shape = (sums: Totals<(typeof AGENT_COUNTERS)[number]>, createdCount: number) => {
    const runs = count(sums.runs);
    const up = count(sums.feedback_up);
    const down = count(sums.feedback_down);
    return {
      created: createdCount,
      runs,
      succeeded: count(sums.succeeded),
      failed: count(sums.failed),
      canceled: count(sums.canceled),
      success_rate: runs === 0 ? null : ratio(count(sums.succeeded) / runs),
      feedback_up: up,
      feedback_down: down,
      feedback_score: up + down === 0 ? null : ratio((up - down) / (up + down)),
      input_tokens: count(sums.input_tokens),
      output_tokens: count(sums.output_tokens),
      cost: money(sums.cost),
    };
  };
  const totals = sumAll(AGENT_COUNTERS, buckets);
  const runs = count(totals.runs);
  return {
    ...rangeFields(range),
    totals: {
      agents: counted.length,
      ...shape(totals, created.reduce((a, b) => a + b, 0)),
      avg_latency_ms: runs === 0 ? null : Math.round(totals.latency_ms_sum / runs),
    },
    series: buckets.map((sums, i) => ({ ...bucketBounds(range, i), ...shape(sums, created[i]!) })),
  };
}

// ---------------------------------------------------------------------------------------------
// Workflows and their executions

const STATUS_COUNTERS = ['executions', 'succeeded', 'failed', 'canceled'] as const;
const TRIGGER_COUNTERS = EXECUTION_TRIGGERS.map((t) => `trigger_${t}` as const);
const EXECUTION_COUNTERS = [...STATUS_COUNTERS, ...TRIGGER_COUNTERS, 'duration_ms_sum', ...DURATION_COLUMNS] as unknown as readonly CounterOf<'executions'>[];
const UNFINISHED = ['queued', 'running', 'waiting'] as const;
type Unfinished = (typeof UNFINISHED)[number];

interface ExecutionBucket {
  /** Rollup sums; only the counters read are present. */
  finished: Partial<Record<string, number>>;
  unfinished: Record<Unfinished, number>;
  triggers: Record<ExecutionTrigger, number>;
}

/** Finished executions from the rollups, unfinished ones counted live, of the workflows the caller sees. */
async function executionBuckets(
  ctx: AppContext,
  scope: WorkspaceScope,
  range: MetricsRange,
  sights: readonly ResourceSight[],
  filterId: string | undefined,
  counters: readonly CounterOf<'executions'>[],
): Promise<ExecutionBucket[]> {
  const dims = visibleDims(sights, workflowDim, filterId);
  const from = new Date(range.boundaries[0]!).toISOString();
  const to = new Date(range.boundaries[range.boundaries.length - 1]!).toISOString();
  const [finished, unfinished] = await Promise.all([
    readSeries(ctx, scope, range, 'executions', counters, { ...dims, owners: [SHARED_OWNER] }),
    repo.findUnfinishedExecutions(ctx.db.kysely, scope.workspaceId, from, to, filterId),
  ]);
  const buckets: ExecutionBucket[] = finished.map((sums) => ({
    finished: sums,
    unfinished: { queued: 0, running: 0, waiting: 0 },
    triggers: Object.fromEntries(EXECUTION_TRIGGERS.map((t) => [t, count((sums as Record<string, number>)[`trigger_${t}`] ?? 0)])) as Record<
      ExecutionTrigger,
      number
    >,
  }));
  for (const execution of unfinished) {
    if (!dims.counts(execution.workflow_id)) continue;
    const i = bucketIndexOf(range.boundaries, Date.parse(execution.created_at));
    if (i < 0 || !(UNFINISHED as readonly string[]).includes(execution.status)) continue;
    buckets[i]!.unfinished[execution.status as Unfinished] += 1;
    buckets[i]!.triggers[execution.trigger] += 1;
  }
  return buckets;
}

function statusCounts(bucket: ExecutionBucket) {
  const { finished, unfinished } = bucket;
  return {
    executions: count(finished.executions ?? 0) + unfinished.queued + unfinished.running + unfinished.waiting,
    succeeded: count(finished.succeeded ?? 0),
    failed: count(finished.failed ?? 0),
    canceled: count(finished.canceled ?? 0),
  };
}

function addExecutionBuckets(buckets: readonly ExecutionBucket[], counters: readonly CounterOf<'executions'>[]): ExecutionBucket {
  const total: ExecutionBucket = {
    finished: zeros(counters),
    unfinished: { queued: 0, running: 0, waiting: 0 },
    triggers: Object.fromEntries(EXECUTION_TRIGGERS.map((t) => [t, 0])) as Record<ExecutionTrigger, number>,
  };
  for (const bucket of buckets) {
    for (const c of counters) total.finished[c] = (total.finished[c] ?? 0) + (bucket.finished[c] ?? 0);
    for (const s of UNFINISHED) total.unfinished[s] += bucket.unfinished[s];
    for (const t of EXECUTION_TRIGGERS) total.triggers[t] += bucket.triggers[t];
  }
  return total;
}

async function workflowFilter(ctx: AppContext, scope: WorkspaceScope, query: MetricsQuery) {
  const sights = await repo.workflowSights(ctx.db.kysely, scope);
  const filterId = query.workflow_uuid;
  if (filterId !== undefined && !(isUuid(filterId) && sights.some((s) => s.id === filterId && s.visible))) {
    throw invalidSelection('workflow_uuid', 'workflow uuid');
  }
  return { sights, filterId };
}

/** Workflows the caller sees (existing, active, created) and their executions by outcome. */
export async function workflowMetrics(ctx: AppContext, scope: WorkspaceScope, query: MetricsQuery): Promise<WorkflowMetricsResource> {
  const range = metricsRangeOf(query);
  const { sights, filterId } = await workflowFilter(ctx, scope, query);
  const buckets = await executionBuckets(ctx, scope, range, sights, filterId, STATUS_COUNTERS);
  const counted = sights.filter((s) => s.visible && (filterId === undefined || s.id === filterId));
  const created = createdPerBucket(range, counted);
  return {
    ...rangeFields(range),
    totals: {
      workflows: counted.length,
      active: counted.filter((s) => s.is_active).length,
      created: created.reduce((a, b) => a + b, 0),
      ...statusCounts(addExecutionBuckets(buckets, STATUS_COUNTERS)),
    },
    series: buckets.map((bucket, i) => ({ ...bucketBounds(range, i), created: created[i]!, ...statusCounts(bucket) })),
  };
}

function durationHistogram(bucket: ExecutionBucket): number[] {
  return DURATION_COLUMNS.map((c) => bucket.finished[c] ?? 0);
}

function executionShape(bucket: ExecutionBucket) {
  const histogram = durationHistogram(bucket);
  return {
    ...statusCounts(bucket),
    queued: bucket.unfinished.queued,
    running: bucket.unfinished.running,
    waiting: bucket.unfinished.waiting,
    by_trigger: bucket.triggers,
    duration_ms: { p50: durationPercentile(histogram, 0.5), p95: durationPercentile(histogram, 0.95) },
  };
}

/** Executions of the workflows the caller sees: by status and trigger, with duration percentiles. */
export async function workflowExecutionMetrics(
  ctx: AppContext,
  scope: WorkspaceScope,
  query: MetricsQuery,
): Promise<WorkflowExecutionMetricsResource> {
  const range = metricsRangeOf(query);
  const { sights, filterId } = await workflowFilter(ctx, scope, query);
  const buckets = await executionBuckets(ctx, scope, range, sights, filterId, EXECUTION_COUNTERS);
  const total = addExecutionBuckets(buckets, EXECUTION_COUNTERS);
  const timed = durationHistogram(total).reduce((a, b) => a + b, 0);
  const totals = executionShape(total);
  return {
    ...rangeFields(range),
    totals: {
      ...totals,
      duration_ms: { avg: timed < 0.5 ? null : Math.round((total.finished.duration_ms_sum ?? 0) / timed), ...totals.duration_ms },
    },
    series: buckets.map((bucket, i) => ({ ...bucketBounds(range, i), ...executionShape(bucket) })),
  };
}

// ---------------------------------------------------------------------------------------------
// Threads and messages

/**
 * The conversation rows the caller may count: shared ones (owner 0) and those of their own
 * private threads, through the workspace, one agent or one thread owner.
 */
async function conversationDims(ctx: AppContext, scope: WorkspaceScope, query: MetricsQuery) {
  if (query.agent_uuid !== undefined && query.user_id !== undefined) {
    throw fieldError('agent_uuid', 'The agent uuid field prohibits user id from being present.');
  }
  const db = ctx.db.kysely;
  let dim = WORKSPACE_DIM;
  if (query.agent_uuid !== undefined) {
    if (!isUuid(query.agent_uuid) || !(await findVisibleAgent(db, scope, query.agent_uuid))) throw invalidSelection('agent_uuid', 'agent uuid');
    dim = agentDim(query.agent_uuid);
  }
  if (query.user_id !== undefined) {
    if (!(await repo.isWorkspaceMember(db, scope.workspaceId, query.user_id))) throw invalidSelection('user_id', 'user id');
    dim = userDim(query.user_id);
  }
  return { add: [dim], subtract: [], owners: [SHARED_OWNER, scope.userId] };
}

const THREAD_COUNTERS = ['threads', 'messages'] as const satisfies readonly CounterOf<'conversations'>[];

/** Threads started and messages written in the threads the caller may read. */
export async function threadMetrics(ctx: AppContext, scope: WorkspaceScope, query: MetricsQuery): Promise<ThreadMetricsResource> {
  const range = metricsRangeOf(query);
  const dims = await conversationDims(ctx, scope, query);
  const [buckets, threadsTotal] = await Promise.all([
    readSeries(ctx, scope, range, 'conversations', THREAD_COUNTERS, dims),
    repo.countVisibleThreads(ctx.db.kysely, scope.workspaceId, scope.userId, { agentId: query.agent_uuid, ownerId: query.user_id }),
  ]);
  const shape = (sums: Totals<(typeof THREAD_COUNTERS)[number]>) => ({ threads: count(sums.threads), messages: count(sums.messages) });
  return {
    ...rangeFields(range),
    totals: { threads_total: threadsTotal, ...shape(sumAll(THREAD_COUNTERS, buckets)) },
    series: buckets.map((sums, i) => ({ ...bucketBounds(range, i), ...shape(sums) })),
  };
}

const MESSAGE_COUNTERS = [
  'messages',
  'user_messages',
  'assistant_messages',
  'input_tokens',
  'output_tokens',
  'cost',
] as const satisfies readonly CounterOf<'conversations'>[];

/** Messages written in the threads the caller may read, by role, with tokens and cost. */
export async function messageMetrics(ctx: AppContext, scope: WorkspaceScope, query: MetricsQuery): Promise<MessageMetricsResource> {
  const range = metricsRangeOf(query);
  const dims = await conversationDims(ctx, scope, query);
  const buckets = await readSeries(ctx, scope, range, 'conversations', MESSAGE_COUNTERS, dims);
  const shape = (sums: Totals<(typeof MESSAGE_COUNTERS)[number]>) => ({
    messages: count(sums.messages),
    user_messages: count(sums.user_messages),
    assistant_messages: count(sums.assistant_messages),
    input_tokens: count(sums.input_tokens),
    output_tokens: count(sums.output_tokens),
    cost: money(sums.cost),
  });
  return {
    ...rangeFields(range),
    totals: shape(sumAll(MESSAGE_COUNTERS, buckets)),
    series: buckets.map((sums, i) => ({ ...bucketBounds(range, i), ...shape(sums) })),
  };
}
