/**
 * The rollup series behind `/api/v1/metrics/*`: what each one counts, by which key. One row of a
 * rollup table holds the counters of one (workspace, dimension, owner, 15-minute bucket).
 *
 * - `dim` is `''` for the whole workspace, or `agent:<uuid>`, `workflow:<uuid>`, `user:<id>` for
 *   the same events seen through one filter. Every event is added to `''` and to each filter
 *   dimension it belongs to, so a query reads one key range whatever it filters by.
 * - `owner_id` is 0 for events every member may count, or the id of the one user who may (the
 *   owner of a private thread). Agents and workflows are hidden by subtracting their own
 *   dimension from `''` at query time, so their visibility and shares are always current.
 * - `bucket` is the bucket's start in minutes since the Unix epoch, a multiple of 15: every
 *   time zone in use is a whole number of quarter hours from UTC, so quarter hours add up to
 *   any zone's hours, days, weeks and months exactly.
 */

export const BUCKET_MINUTES = 15;

/** The quarter-hour bucket (epoch minutes) an instant falls in. */
export function bucketOf(at: string | Date | number): number {
  const ms = typeof at === 'number' ? at : typeof at === 'string' ? Date.parse(at) : at.getTime();
  const minutes = Math.floor(ms / 60_000);
  return minutes - (((minutes % BUCKET_MINUTES) + BUCKET_MINUTES) % BUCKET_MINUTES);
}

/**
 * Execution durations are counted in log-scale classes: class 0 is under 1 ms, class k (1..62)
 * is [2^((k-1)/2), 2^(k/2)) ms, class 63 is everything from 2^31 ms (about 25 days). A
 * percentile read from them is within a factor of √2 of the truth before interpolation.
 */
export const DURATION_CLASSES = 64;

export function durationClassOf(ms: number): number {
  if (!(ms >= 1)) return 0;
  return Math.min(DURATION_CLASSES - 1, Math.floor(2 * Math.log2(ms)) + 1);
}

/** [lower, upper) bounds in ms of a duration class (class 63: upper is its lower bound × √2). */
export function durationClassBounds(k: number): [number, number] {
  if (k <= 0) return [0, 1];
  return [2 ** ((k - 1) / 2), 2 ** (k / 2)];
}

export const DURATION_COLUMNS = Array.from({ length: DURATION_CLASSES }, (_, k) => `d${String(k).padStart(2, '0')}`);

export const EXECUTION_COUNTERS = [
  'executions',
  'succeeded',
  'failed',
  'canceled',
  'trigger_manual',
  'trigger_webhook',
  'trigger_schedule',
  'trigger_agent',
  'trigger_workflow',
  'trigger_error',
  'trigger_retry',
  'duration_ms_sum',
  ...DURATION_COLUMNS,
] as const;

export const AGENT_RUN_COUNTERS = [
  'runs',
  'succeeded',
  'failed',
  'canceled',
  'input_tokens',
  'output_tokens',
  'cost',
  'latency_ms_sum',
  'feedback_up',
  'feedback_down',
] as const;

export const CONVERSATION_COUNTERS = [
  'threads',
  'messages',
  'user_messages',
  'assistant_messages',
  'input_tokens',
  'output_tokens',
  'cost',
] as const;

/**
 * - `executions`: finished workflow executions, in the bucket they were created in (dims `''`,
 *   `workflow:<uuid>`; owner 0). Unfinished ones are counted live from `workflow_executions`.
 * - `agent_runs`: finished runs of an agent, in the bucket they were created in; feedback on an
 *   agent's messages, in the bucket it was given in (dims `''`, `agent:<uuid>`; owner 0).
 * - `conversations`: threads (bucket of creation) and messages (bucket of creation), keyed by
 *   the thread's owner when the thread is private (dims `''`, `agent:<uuid>`, `user:<id>`).
 */
export const SERIES = {
  executions: { table: 'execution_rollups', counters: EXECUTION_COUNTERS },
  agent_runs: { table: 'agent_run_rollups', counters: AGENT_RUN_COUNTERS },
  conversations: { table: 'conversation_rollups', counters: CONVERSATION_COUNTERS },
} as const;

export type SeriesName = keyof typeof SERIES;
export type CounterOf<S extends SeriesName> = (typeof SERIES)[S]['counters'][number];

export const WORKSPACE_DIM = '';
export const agentDim = (agentId: string) => `agent:${agentId}`;
export const workflowDim = (workflowId: string) => `workflow:${workflowId}`;
export const userDim = (userId: number) => `user:${userId}`;
/** Owner of rows every member may count. */
export const SHARED_OWNER = 0;
