import {
  agentDim,
  bucketOf,
  durationClassOf,
  DURATION_COLUMNS,
  SHARED_OWNER,
  userDim,
  workflowDim,
  WORKSPACE_DIM,
  type CounterOf,
  type SeriesName,
} from './series.js';

/**
 * What one event adds to (or, negative, takes from) one rollup row. Pure functions below turn
 * rows of the raw tables into deltas; `rollups.ts` merges and writes them.
 */
export type RollupDelta = {
  [S in SeriesName]: {
    series: S;
    workspaceId: string;
    dim: string;
    ownerId: number;
    bucket: number;
    counters: Partial<Record<CounterOf<S>, number>>;
  };
}[SeriesName];

/** The same deltas with every counter negated: what undoes them. */
export function negate(deltas: readonly RollupDelta[]): RollupDelta[] {
  return deltas.map((delta) => ({
    ...delta,
    counters: Object.fromEntries(Object.entries(delta.counters).map(([name, value]) => [name, -(value as number)])),
  })) as RollupDelta[];
}

/** What turns the contributions `before` into `after` (merged by key when written). */
export function difference(after: readonly RollupDelta[], before: readonly RollupDelta[]): RollupDelta[] {
  return [...after, ...negate(before)];
}

const epochMs = (at: string | Date): number => (typeof at === 'string' ? Date.parse(at) : at.getTime());

// ---------------------------------------------------------------------------------------------
// Workflow executions

export const EXECUTION_END_STATUSES = ['succeeded', 'failed', 'canceled'] as const;
export const EXECUTION_TRIGGERS = ['manual', 'webhook', 'schedule', 'agent', 'workflow', 'error', 'retry'] as const;

/** The columns of an execution its rollup reads. */
export interface CountedExecution {
  workspace_id: string;
  workflow_id: string;
  status: string;
  trigger: string;
  created_at: string | Date;
  started_at: string | Date | null;
  finished_at: string | Date | null;
}

/** How long an execution took: from its start (its creation if it never started) to its end. */
export function executionDurationMs(row: Pick<CountedExecution, 'created_at' | 'started_at' | 'finished_at'>): number {
  if (row.finished_at === null) return 0;
  return Math.max(0, epochMs(row.finished_at) - epochMs(row.started_at ?? row.created_at));
}

/**
 * A finished execution: +1 execution, +1 of its status and of its trigger, its duration, +1 in
 * its duration class, in the bucket it was created in, under `''` and `workflow:<uuid>`. An
 * execution that has not ended counts nothing.
 */
export function executionContribution(row: CountedExecution): RollupDelta[] {
  if (!(EXECUTION_END_STATUSES as readonly string[]).includes(row.status) || row.finished_at === null) return [];
  const duration = executionDurationMs(row);
  const counters: Partial<Record<CounterOf<'executions'>, number>> = {
    executions: 1,
    [row.status as (typeof EXECUTION_END_STATUSES)[number]]: 1,
    duration_ms_sum: duration,
    [DURATION_COLUMNS[durationClassOf(duration)] as CounterOf<'executions'>]: 1,
  };
  if ((EXECUTION_TRIGGERS as readonly string[]).includes(row.trigger)) counters[`trigger_${row.trigger}` as CounterOf<'executions'>] = 1;
  const bucket = bucketOf(row.created_at);
  return [WORKSPACE_DIM, workflowDim(row.workflow_id)].map((dim) => ({
    series: 'executions',
    workspaceId: row.workspace_id,
    dim,
    ownerId: SHARED_OWNER,
    bucket,
    counters,
  }));
}

// ---------------------------------------------------------------------------------------------
// Agent runs and feedback

/** Run kinds that are an agent's runs (the leaderboard's rule): a `generate` run is not one. */
export const AGENT_RUN_KINDS = ['agent', 'thread'] as const;

/**
 * How a run's end status counts. `incomplete` (a length or step limit) counts as a run but as
 * neither outcome, so a success rate reads as the leaderboard's (`completed` / runs).
 */
export const RUN_OUTCOME = {
  completed: 'succeeded',
  incomplete: null,
  failed: 'failed',
  cancelled: 'canceled',
} as const satisfies Record<string, CounterOf<'agent_runs'> | null>;

export interface CountedRun {
  workspace_id: string;
  agent_id: string | null;
  kind: string;
  status: string;
  created_at: string | Date;
  input_tokens: number | string | null;
  output_tokens: number | string | null;
  cost: number | string | null;
  latency_ms: number | string | null;
}

const num = (value: number | string | null | undefined): number => (value === null || value === undefined ? 0 : Number(value));

/** A finished run of an agent, in the bucket it was created in, under `''` and `agent:<uuid>`. */
export function agentRunContribution(run: CountedRun): RollupDelta[] {
  if (run.agent_id === null || !(AGENT_RUN_KINDS as readonly string[]).includes(run.kind) || !(run.status in RUN_OUTCOME)) return [];
  const outcome = RUN_OUTCOME[run.status as keyof typeof RUN_OUTCOME];
  const counters: Partial<Record<CounterOf<'agent_runs'>, number>> = {
    runs: 1,
    input_tokens: num(run.input_tokens),
    output_tokens: num(run.output_tokens),
    cost: num(run.cost),
    latency_ms_sum: num(run.latency_ms),
  };
  if (outcome) counters[outcome] = 1;
  const bucket = bucketOf(run.created_at);
  return [WORKSPACE_DIM, agentDim(run.agent_id)].map((dim) => ({
    series: 'agent_runs',
    workspaceId: run.workspace_id,
    dim,
    ownerId: SHARED_OWNER,
    bucket,
    counters,
  }));
}

export interface CountedFeedback {
  workspace_id: string;
  agent_id: string | null;
  feedback: string | null;
  feedback_at: string | Date | null;
}

/** Feedback on an agent's message, in the bucket it was given in. */
export function feedbackContribution(message: CountedFeedback): RollupDelta[] {
  if (message.agent_id === null || message.feedback_at === null || (message.feedback !== 'up' && message.feedback !== 'down')) return [];
  const counters = { [message.feedback === 'up' ? 'feedback_up' : 'feedback_down']: 1 } as Partial<Record<CounterOf<'agent_runs'>, number>>;
  const bucket = bucketOf(message.feedback_at);
  return [WORKSPACE_DIM, agentDim(message.agent_id)].map((dim) => ({
    series: 'agent_runs',
    workspaceId: message.workspace_id,
    dim,
    ownerId: SHARED_OWNER,
    bucket,
    counters,
  }));
}

// ---------------------------------------------------------------------------------------------
// Threads and messages

export interface CountedThread {
  workspace_id: string;
  user_id: number;
  agent_id: string | null;
  visibility: string;
  created_at: string | Date;
}

export interface CountedMessage extends CountedFeedback {
  role: string;
  created_at: string | Date;
  input_tokens: number | string | null;
  output_tokens: number | string | null;
  cost: number | string | null;
}

/** Who may count a thread's events: its owner alone while it is private, every member otherwise. */
export function ownerOfThread(thread: Pick<CountedThread, 'user_id' | 'visibility'>): number {
  return thread.visibility === 'private' ? thread.user_id : SHARED_OWNER;
}

function conversationDeltas(
  thread: CountedThread,
  agentId: string | null,
  at: string | Date,
  counters: Partial<Record<CounterOf<'conversations'>, number>>,
): RollupDelta[] {
  const dims = [WORKSPACE_DIM, userDim(thread.user_id)];
  if (agentId !== null) dims.push(agentDim(agentId));
  const ownerId = ownerOfThread(thread);
  const bucket = bucketOf(at);
  return dims.map((dim) => ({ series: 'conversations', workspaceId: thread.workspace_id, dim, ownerId, bucket, counters }));
}

/** A thread's own creation: +1 thread in the bucket it was created in. */
export function threadContribution(thread: CountedThread): RollupDelta[] {
  return conversationDeltas(thread, thread.agent_id, thread.created_at, { threads: 1 });
}

/**
 * A message: +1 message, +1 user or assistant message, its tokens and cost, in the bucket it
 * was created in, under the thread's owner key; its agent is its own, else the thread's. Its
 * feedback counts too (agent_runs), so removing a message removes that as well.
 */
export function messageContribution(thread: CountedThread, message: CountedMessage): RollupDelta[] {
  const counters: Partial<Record<CounterOf<'conversations'>, number>> = {
    messages: 1,
    input_tokens: num(message.input_tokens),
    output_tokens: num(message.output_tokens),
    cost: num(message.cost),
  };
  if (message.role === 'user') counters.user_messages = 1;
  if (message.role === 'assistant') counters.assistant_messages = 1;
  return [...conversationDeltas(thread, message.agent_id ?? thread.agent_id, message.created_at, counters), ...feedbackContribution(message)];
}

/** Everything a thread counts: its creation and each of its messages. */
export function conversationContribution(thread: CountedThread, messages: readonly CountedMessage[]): RollupDelta[] {
  return [...threadContribution(thread), ...messages.flatMap((message) => messageContribution(thread, message))];
}
