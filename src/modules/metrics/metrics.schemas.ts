import { Type, type Static, type TProperties } from 'typebox';
import { NullableInteger, NullableNumber, StringEnum, Timestamp, named } from '../../http/schemas.js';
import { EXECUTION_TRIGGERS } from '../executions/executions.table.js';
import { INTERVALS, MAX_BUCKETS } from './buckets.js';

const bound = (description: string) => Type.String({ maxLength: 40, description, examples: ['2025-01-01', '2025-01-01T00:00:00Z'] });

const rangeQuery = {
  from: Type.Optional(
    bound(
      'Start of the range: a date-time with `Z` or an offset, or without one (read in `timezone`), or a date (its midnight in `timezone`). The first bucket starts at the start of the interval holding it. Default: 30 days before `to`.',
    ),
  ),
  to: Type.Optional(
    bound('End of the range (exclusive; a date alone counts the whole day). The last bucket is the one holding the instant just before it. Default: now.'),
  ),
  interval: Type.Optional(
    StringEnum(INTERVALS, {
      description: `Bucket size: \`hour\`, \`day\`, \`week\` (ISO, from Monday) or \`month\`, on the calendar of \`timezone\`. Default \`day\`. At most ${MAX_BUCKETS} buckets per answer.`,
    }),
  ),
  timezone: Type.Optional(
    Type.String({ maxLength: 64, description: 'IANA time zone the buckets are aligned to (daylight-saving days are 23 or 25 hours long). Default `UTC`.', examples: ['Europe/Berlin'] }),
  ),
};

const agentFilter = Type.Optional(Type.String({ maxLength: 64, description: 'Only this agent (one the caller can see; otherwise 422).' }));
const workflowFilter = Type.Optional(Type.String({ maxLength: 64, description: 'Only this workflow (one of the workspace the caller can see; otherwise 422).' }));
const userFilter = Type.Optional(
  Type.Integer({ minimum: 1, description: 'Only threads owned by this member of the workspace (their private threads count only for themselves). Not with `agent_uuid`.' }),
);

export const AgentMetricsQuery = Type.Object({ ...rangeQuery, agent_uuid: agentFilter });
export const WorkflowMetricsQuery = Type.Object({ ...rangeQuery, workflow_uuid: workflowFilter });
export const ConversationMetricsQuery = Type.Object({ ...rangeQuery, agent_uuid: agentFilter, user_id: userFilter });

const count = (description: string) => Type.Integer({ minimum: 0, description });
const money = (description: string) => Type.Number({ minimum: 0, description });

/** The range fields every answer starts with, then its totals and one entry per bucket. */
function metricsObject<T extends TProperties, S extends TProperties>(name: string, description: string, totals: T, series: S) {
  return named(
    name,
    Type.Object(
      {
        from: { ...Timestamp, description: 'Start of the first bucket (UTC).' },
        to: { ...Timestamp, description: 'End of the last bucket (UTC). Totals cover [from, to).' },
        interval: StringEnum(INTERVALS),
        timezone: Type.String({ description: 'The time zone of the buckets.' }),
        totals: Type.Object(totals),
        series: Type.Array(
          Type.Object({
            start: { ...Timestamp, description: 'Start of the bucket (UTC instant of its local start).' },
            end: { ...Timestamp, description: 'End of the bucket (exclusive).' },
            ...series,
          }),
          { description: 'Every bucket of the range in order, zeros included.' },
        ),
      },
      { description },
    ),
  );
}

// Agents ----------------------------------------------------------------------------------------

const agentSeries = {
  created: count('Agents of the workspace the caller sees that were created in the bucket.'),
  runs: count('Finished runs of the agents the caller sees, by the time the run was created.'),
  succeeded: count('Runs that completed.'),
  failed: count('Runs that failed.'),
  canceled: count('Runs that were canceled.'),
  success_rate: NullableNumber({ minimum: 0, maximum: 1, description: 'succeeded / runs; null without runs.' }),
  feedback_up: count('Thumbs-up given to the agents’ messages, by the time it was given.'),
  feedback_down: count('Thumbs-down given to the agents’ messages.'),
  feedback_score: NullableNumber({ minimum: -1, maximum: 1, description: '(up − down) / (up + down); null without feedback.' }),
  input_tokens: count('Input tokens of the runs.'),
  output_tokens: count('Output tokens of the runs.'),
  cost: money('Cost of the runs in the catalog prices’ currency (USD).'),
};

export const AgentMetrics = metricsObject(
  'AgentMetrics',
  'Runs, outcomes, usage and feedback of the agents the caller can see.',
  {
    agents: count('Agents of the workspace the caller sees, existing now (with `agent_uuid`: 1).'),
    ...agentSeries,
    avg_latency_ms: NullableInteger({ description: 'Mean latency of the runs; null without runs.' }),
  },
  agentSeries,
);
export type AgentMetricsResource = Static<typeof AgentMetrics>;

// Workflows and executions -------------------------------------------------------------------------

const executionCounts = {
  executions: count('Executions created in the bucket: finished ones and those still queued, running or waiting.'),
  succeeded: count('Finished executions that succeeded.'),
  failed: count('Finished executions that failed.'),
  canceled: count('Executions that were canceled.'),
};

const workflowSeries = { created: count('Workflows the caller sees that were created in the bucket.'), ...executionCounts };

export const WorkflowMetrics = metricsObject(
  'WorkflowMetrics',
  'Workflows of the workspace the caller can see and their executions.',
  {
    workflows: count('Workflows the caller sees, existing now.'),
    active: count('Of those, the active ones (their triggers fire).'),
    ...workflowSeries,
  },
  workflowSeries,
);
export type WorkflowMetricsResource = Static<typeof WorkflowMetrics>;

const unfinishedCounts = {
  queued: count('Executions created in the bucket that are queued now.'),
  running: count('Executions created in the bucket that are running now.'),
  waiting: count('Executions created in the bucket that are waiting now (a wait node, a retry delay).'),
};

const byTrigger = Type.Object(
  Object.fromEntries(EXECUTION_TRIGGERS.map((t) => [t, Type.Integer({ minimum: 0 })])) as Record<(typeof EXECUTION_TRIGGERS)[number], ReturnType<typeof Type.Integer>>,
  { description: 'Executions by what started them.' },
);

const percentiles = {
  p50: NullableInteger({ description: 'Median duration (ms) of the finished executions, within a factor of √2; null without any.' }),
  p95: NullableInteger({ description: '95th percentile duration (ms), within a factor of √2; null without any.' }),
};

const executionSeries = {
  ...executionCounts,
  ...unfinishedCounts,
  by_trigger: byTrigger,
  duration_ms: Type.Object(percentiles, { description: 'Durations (creation to end) of the finished executions.' }),
};

export const WorkflowExecutionMetrics = metricsObject(
  'WorkflowExecutionMetrics',
  'Executions of the workflows the caller can see: by status and trigger, with duration percentiles.',
  {
    ...executionSeries,
    duration_ms: Type.Object(
      { avg: NullableInteger({ description: 'Mean duration (ms) of the finished executions; null without any.' }), ...percentiles },
      { description: 'Durations of the finished executions.' },
    ),
  },
  executionSeries,
);
export type WorkflowExecutionMetricsResource = Static<typeof WorkflowExecutionMetrics>;

// Threads and messages ------------------------------------------------------------------------------

const threadSeries = {
  threads: count('Threads the caller may read that were started in the bucket.'),
  messages: count('Messages written in those threads in the bucket.'),
};

export const ThreadMetrics = metricsObject(
  'ThreadMetrics',
  'Threads the caller can read (their own and the workspace-visible ones) and their messages.',
  { threads_total: count('Threads the caller may read, existing now.'), ...threadSeries },
  threadSeries,
);
export type ThreadMetricsResource = Static<typeof ThreadMetrics>;

const messageSeries = {
  messages: count('Messages written in the bucket in threads the caller may read.'),
  user_messages: count('Of those, the users’ messages.'),
  assistant_messages: count('Of those, the agents’ replies.'),
  input_tokens: count('Input tokens of the replies.'),
  output_tokens: count('Output tokens of the replies.'),
  cost: money('Cost of the replies in the catalog prices’ currency (USD).'),
};

export const MessageMetrics = metricsObject('MessageMetrics', 'Messages of the threads the caller can read, with tokens and cost.', messageSeries, messageSeries);
export type MessageMetricsResource = Static<typeof MessageMetrics>;

export const AgentMetricsEnvelope = Type.Object({ data: AgentMetrics });
export const WorkflowMetricsEnvelope = Type.Object({ data: WorkflowMetrics });
export const WorkflowExecutionMetricsEnvelope = Type.Object({ data: WorkflowExecutionMetrics });
export const ThreadMetricsEnvelope = Type.Object({ data: ThreadMetrics });
export const MessageMetricsEnvelope = Type.Object({ data: MessageMetrics });
