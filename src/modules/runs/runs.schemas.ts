import { Type, type Static } from 'typebox';
import { ListQuery } from '../../http/pagination.js';
import { Body, Envelope, StringEnum, Uuid } from '../../http/schemas.js';
import { Agent } from '../agents/agents.schemas.js';
import { MULTITASK_STRATEGIES } from './runs.service.js';
import { Run } from './run-resource.js';
import { RUN_KINDS, RUN_STATUSES } from './runs.table.js';

const Stream = Type.Boolean({ description: 'Answer with Server-Sent Events (same as `Accept: text/event-stream`).' });
const Multitask = StringEnum(MULTITASK_STRATEGIES, {
  description: 'When the thread already has a run in flight: `reject` (409, the default), `interrupt` (cancel it, then run) or `enqueue` (run after it).',
});
const Attachments = Type.Array(Uuid, { maxItems: 10, uniqueItems: true, description: 'Media uuids from `POST /api/v1/media`: images (vision models) or text files.' });
const Variables = Type.Record(Type.String(), Type.Unknown(), { description: 'Values for the template’s variables.', maxProperties: 200 });
const Input = Type.String({ minLength: 1, maxLength: 100_000 });

export const RunHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, description: 'A retried request with the same key gets the first request’s result; the model is not called twice.' }),
  ),
  'last-event-id': Type.Optional(Type.String({ maxLength: 20, description: 'With a streamed retry: resume after this event.' })),
});

export const AgentRunBody = Body({
  input: Input,
  thread_uuid: Type.Optional(Uuid),
  variables: Type.Optional(Variables),
  attachments: Type.Optional(Attachments),
  stream: Type.Optional(Stream),
  multitask_strategy: Type.Optional(Multitask),
});
export type AgentRunInput = Static<typeof AgentRunBody>;

export const ThreadRunBody = Body({
  content: Type.Optional(Input),
  attachments: Type.Optional(Attachments),
  variables: Type.Optional(Variables),
  stream: Type.Optional(Stream),
  multitask_strategy: Type.Optional(Multitask),
});
export type ThreadRunInput = Static<typeof ThreadRunBody>;

export const PromptRunBody = Body({
  variables: Type.Optional(Variables),
  version: Type.Optional(Type.Integer({ minimum: 1, description: 'A saved version to run; the current one by default.' })),
  llm_uuid: Type.Optional(Uuid),
  account_uuid: Type.Optional(Uuid),
  stream: Type.Optional(Stream),
});
export type PromptRunInput = Static<typeof PromptRunBody>;

export const GenerateAgentBody = Body({
  description: Type.String({ minLength: 10, maxLength: 4_000, description: 'What the agent should do, in your words.' }),
  llm_uuid: Uuid,
  account_uuid: Uuid,
  visibility: Type.Optional(StringEnum(['private', 'workspace', 'public'] as const)),
});
export type GenerateAgentInput = Static<typeof GenerateAgentBody>;

export const GeneratedAgentResponse = Type.Object({
  data: Agent,
  meta: Type.Object({
    run_uuid: Uuid,
    suggested_tools: Type.Array(Type.String(), { description: 'Tools the model asked for.' }),
    ignored_tools: Type.Array(Type.String(), { description: 'Suggested tools that are not in the caller’s catalog.' }),
  }),
});

export const GenerateNameBody = Body({
  llm_uuid: Type.Optional(Uuid),
  account_uuid: Type.Optional(Uuid),
});

export const RunParams = Type.Object({ run_uuid: Uuid });

// Runs have no text to search: the list takes filters only.
const { search: _search, ...runListProperties } = ListQuery(['created_at', 'cost', 'latency_ms'], {
  kind: Type.Optional(StringEnum(RUN_KINDS)),
  status: Type.Optional(StringEnum(RUN_STATUSES)),
  agent: Type.Optional(Uuid),
  thread: Type.Optional(Uuid),
  prompt: Type.Optional(Uuid),
}).properties;
export const RunListQuery = Type.Object(runListProperties);

export const RunEnvelope = Envelope(Run);

/** Documents the event stream a run answers with when streaming. */
export const RUN_STREAM_DESCRIPTION = [
  'With `stream: true` or `Accept: text/event-stream` the answer is a Server-Sent Events stream; each event has an `id` (for `Last-Event-ID`) and a type:',
  '`run.started` {run_uuid, kind, thread_uuid, agent_uuid, prompt_uuid}; `message.delta` {message_uuid, delta}; `tool.call` {message_uuid, tool_call_id, name, input};',
  '`tool.result` {message_uuid, tool_call_id, name, output, is_error}; `message.completed` {message, usage}; `error` {message}; `done` (the `Run`). The stream ends after `done`.',
].join(' ');
