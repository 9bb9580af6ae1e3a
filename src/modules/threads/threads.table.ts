import type { ColumnType, Selectable } from 'kysely';

type Json = ColumnType<unknown, string, string>;

export const THREAD_VISIBILITIES = ['private', 'workspace'] as const;
export type ThreadVisibility = (typeof THREAD_VISIBILITIES)[number];
export const MESSAGE_ROLES = ['system', 'user', 'assistant', 'tool'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];
export const MESSAGE_STATUSES = ['completed', 'incomplete', 'failed'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];
export type Feedback = 'up' | 'down';

export interface ThreadsTable {
  id: string;
  workspace_id: string;
  /** The owner: the user who started the conversation. */
  user_id: number;
  agent_id: string | null;
  name: string | null;
  visibility: ThreadVisibility;
  metadata: Json;
  /**
   * Messages in the thread. Appends and deletes change it first, which locks the thread row
   * for the rest of their transaction, so sequences are allocated one writer at a time.
   */
  message_count: ColumnType<number, number | undefined, number>;
  last_message_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface MessagesTable {
  id: string;
  workspace_id: string;
  thread_id: string;
  run_id: string | null;
  user_id: number | null;
  agent_id: string | null;
  sequence: number;
  role: MessageRole;
  content: string;
  /** Assistant messages: [{id, name, input}]. */
  tool_calls: Json | null;
  /** Tool messages: {tool_call_id, name, output, is_error}. */
  tool_result: Json | null;
  status: MessageStatus;
  llm_id: string | null;
  model_id: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost: number | null;
  latency_ms: number | null;
  feedback: Feedback | null;
  feedback_comment: string | null;
  feedback_at: string | null;
  metadata: Json;
  created_at: string;
  updated_at: string;
}

export interface MessageAttachmentsTable {
  message_id: string;
  media_id: string;
  position: number;
}

export type ThreadRow = Selectable<ThreadsTable>;
export type MessageRow = Selectable<MessagesTable>;
