import { Type, type Static } from 'typebox';
import type { AppContext } from '../../context.js';
import { fromJson } from '../../db/values.js';
import { NullableInteger, NullableString, NullableTimestamp, StringEnum, Timestamp, Uuid, named } from '../../http/schemas.js';
import { Message, type MessageResource } from '../threads/messages.schemas.js';
import { toMessageResources } from '../threads/messages.service.js';
import { RUN_KINDS, RUN_STATUSES, type RunRow } from './runs.table.js';

export const RunUsage = Type.Object({
  input_tokens: Type.Integer({ minimum: 0 }),
  output_tokens: Type.Integer({ minimum: 0 }),
  total_tokens: Type.Integer({ minimum: 0 }),
  cost: Type.Number({ minimum: 0, description: 'US dollars at the model catalog’s prices per million tokens.' }),
  latency_ms: NullableInteger({ description: 'From the start of the run to its end.' }),
  ttft_ms: NullableInteger({ description: 'Time to the first token (or tool call) of the model.' }),
});

/** One model interaction: an agent or thread run (tool loop) or a prompt run, with its cost. */
export const Run = named(
  'Run',
  Type.Object({
    uuid: Uuid,
    kind: StringEnum(RUN_KINDS),
    status: StringEnum(RUN_STATUSES, {
      description:
        '`running`; `completed`; `incomplete` (stopped at the step limit); `failed` (the provider refused or timed out: see `error`); `cancelled` (cancelled, interrupted, or its client left).',
    }),
    finish_reason: NullableString({
      description: '`stop`, `length`, `tool-calls`, `step_limit`, `cancelled`, `interrupted`, `abandoned`, `timeout`, `error`, …',
    }),
    error: NullableString({ description: 'Why the run failed, in plain words (the provider’s own reason when it gave one).' }),
    agent_uuid: NullableString({ format: 'uuid' }),
    thread_uuid: NullableString({ format: 'uuid' }),
    prompt_uuid: NullableString({ format: 'uuid' }),
    prompt_version: NullableInteger({ description: 'The prompt version the run rendered.' }),
    llm_uuid: NullableString({ format: 'uuid' }),
    model_id: NullableString({ examples: ['gpt-4o-mini'] }),
    provider: NullableString({ description: 'Slug of the model’s provider.', examples: ['openai'] }),
    output: NullableString({ description: 'The reply: the text of the run’s last model step.' }),
    output_json: Type.Unknown({ description: 'The reply parsed as JSON when the prompt asks for JSON output; null otherwise.' }),
    messages: Type.Array(Message, { description: 'The messages the run appended to its thread, in order: the user’s, the assistant’s, tool results.' }),
    usage: RunUsage,
    steps: Type.Integer({ minimum: 0, description: 'Model calls made.' }),
    tool_calls: Type.Integer({ minimum: 0 }),
    started_at: NullableTimestamp,
    finished_at: NullableTimestamp,
    created_at: Timestamp,
  }),
);
export type RunResource = Static<typeof Run>;

/** Runs as the API shows them, with the messages each appended (one query for the list). */
/** `baseUrl` is where clients reach the API (attachments link to their content). */
export async function toRunResources(ctx: AppContext, rows: RunRow[], baseUrl: string): Promise<RunResource[]> {
  if (rows.length === 0) return [];
  const db = ctx.db.kysely;
  const runIds = rows.filter((r) => r.thread_id !== null).map((r) => r.id);
  const messageRows =
    runIds.length === 0 ? [] : await db.selectFrom('messages').selectAll().where('run_id', 'in', runIds).orderBy('sequence').execute();
  const messages = await toMessageResources(db, messageRows, baseUrl);
  const byRun = new Map<string, MessageResource[]>();
  messageRows.forEach((row, index) => {
    const list = byRun.get(row.run_id!) ?? [];
    list.push(messages[index]!);
    byRun.set(row.run_id!, list);
  });
  return rows.map((row) => ({
    uuid: row.id,
    kind: row.kind,
    status: row.status,
    finish_reason: row.finish_reason,
    error: row.error,
    agent_uuid: row.agent_id,
    thread_uuid: row.thread_id,
    prompt_uuid: row.prompt_id,
    prompt_version: row.prompt_version,
    llm_uuid: row.llm_id,
    model_id: row.model_id,
    provider: row.provider_slug,
    output: row.output,
    output_json: row.output_json === null ? null : fromJson(row.output_json),
    messages: byRun.get(row.id) ?? [],
    usage: {
      input_tokens: Number(row.input_tokens),
      output_tokens: Number(row.output_tokens),
      total_tokens: Number(row.input_tokens) + Number(row.output_tokens),
      cost: Number(row.cost),
      latency_ms: row.latency_ms,
      ttft_ms: row.ttft_ms,
    },
    steps: Number(row.steps),
    tool_calls: Number(row.tool_calls),
    started_at: row.started_at,
    finished_at: row.finished_at,
    created_at: row.created_at,
  }));
}
