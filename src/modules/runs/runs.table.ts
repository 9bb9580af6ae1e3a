import type { ColumnType, Selectable, SqlBool } from 'kysely';

type Json = ColumnType<unknown, string, string>;
type Bool = ColumnType<SqlBool, boolean | undefined, boolean>;

export const RUN_KINDS = ['agent', 'thread', 'prompt', 'generate'] as const;
export type RunKind = (typeof RUN_KINDS)[number];
export const RUN_STATUSES = ['queued', 'running', 'completed', 'incomplete', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** One model interaction with what it cost; the leaderboard and idempotent retries read it. */
export interface RunsTable {
  id: string;
  workspace_id: string;
  user_id: number | null;
  kind: RunKind;
  agent_id: string | null;
  thread_id: string | null;
  prompt_id: string | null;
  prompt_version: number | null;
  llm_id: string | null;
  account_id: string | null;
  provider_slug: string | null;
  model_id: string | null;
  status: RunStatus;
  finish_reason: string | null;
  error: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  /** The reply's text (the last step's), and its parsed value when JSON was asked for. */
  output: string | null;
  output_json: Json | null;
  /** `{status, body}`: what a retry with the same Idempotency-Key gets (JSON replies). */
  response: Json | null;
  input_tokens: ColumnType<number, number | undefined, number>;
  output_tokens: ColumnType<number, number | undefined, number>;
  cost: ColumnType<number, number | undefined, number>;
  latency_ms: number | null;
  ttft_ms: number | null;
  steps: ColumnType<number, number | undefined, number>;
  tool_calls: ColumnType<number, number | undefined, number>;
  lease_expires_at: string | null;
  cancel_requested: Bool;
  started_at: string | null;
  finished_at: string | null;
  created_at: string;
  updated_at: string;
}

export type RunRow = Selectable<RunsTable>;
