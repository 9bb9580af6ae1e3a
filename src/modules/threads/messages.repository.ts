import type { Insertable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedInsert } from '../../db/prepared.js';
import { containsText } from '../../db/values.js';
import type { MediaRow } from '../media/media.table.js';
import type { MessageAttachmentsTable, MessageRole, MessageRow, MessagesTable } from './threads.table.js';

export interface MessageListFilter {
  role?: MessageRole;
  /** Part of the content, case-insensitive. */
  search?: string;
}

export function listMessagesQuery(db: Executor, workspaceId: string, threadId: string, filter: MessageListFilter) {
  let query = db.selectFrom('messages as m').where('m.workspace_id', '=', workspaceId).where('m.thread_id', '=', threadId);
  if (filter.role) query = query.where('m.role', '=', filter.role);
  if (filter.search) query = query.where(containsText('m.content', filter.search));
  return query;
}

export function findMessage(db: Executor, workspaceId: string, threadId: string, id: string): Promise<MessageRow | undefined> {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('id', '=', id)
    .where('thread_id', '=', threadId)
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
}

/** The highest sequence in the thread, 0 when it has no messages. */
export async function lastSequence(db: Executor, workspaceId: string, threadId: string): Promise<number> {
  const row = await db
    .selectFrom('messages')
    .select((eb) => eb.fn.max('sequence').as('sequence'))
    .where('thread_id', '=', threadId)
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  return Number(row?.sequence ?? 0);
}

const MESSAGE_COLUMNS = [
  'id', 'workspace_id', 'thread_id', 'run_id', 'user_id', 'agent_id', 'sequence', 'role', 'content', 'tool_calls', 'tool_result',
  'status', 'llm_id', 'model_id', 'input_tokens', 'output_tokens', 'cost', 'latency_ms', 'feedback', 'feedback_comment',
  'feedback_at', 'metadata', 'created_at', 'updated_at',
] as const satisfies ReadonlyArray<keyof MessagesTable>;

export type NewMessageRow = Required<Pick<Insertable<MessagesTable>, (typeof MESSAGE_COLUMNS)[number]>>;

// Runs append one message at a time most often (the user's, a reply): that insert is prepared.
const insertMessageRow = preparedInsert<'messages', MessageRow>('messages', MESSAGE_COLUMNS);

export async function insertMessages(db: Executor, rows: NewMessageRow[]): Promise<MessageRow[]> {
  if (rows.length === 1) return [await insertMessageRow(db, rows[0]!)];
  return db.insertInto('messages').values(rows).returningAll().execute();
}

export async function insertAttachments(db: Executor, rows: Insertable<MessageAttachmentsTable>[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insertInto('message_attachments').values(rows).execute();
}

export function updateMessage(db: Executor, workspaceId: string, id: string, values: Updateable<MessagesTable>): Promise<MessageRow> {
  return db.updateTable('messages').set(values).where('id', '=', id).where('workspace_id', '=', workspaceId).returningAll().executeTakeFirstOrThrow();
}

/** Deletes one message of the thread and answers it; undefined when it was not there (or already gone). */
export function deleteMessage(db: Executor, workspaceId: string, threadId: string, id: string): Promise<MessageRow | undefined> {
  return db
    .deleteFrom('messages')
    .where('id', '=', id)
    .where('thread_id', '=', threadId)
    .where('workspace_id', '=', workspaceId)
    .returningAll()
    .executeTakeFirst();
}

/** The thread's last `limit` messages, newest first. */
export function findLatestMessages(db: Executor, threadId: string, limit: number): Promise<MessageRow[]> {
  return db.selectFrom('messages').selectAll().where('thread_id', '=', threadId).orderBy('sequence', 'desc').limit(limit).execute();
}

export type AttachedMediaRow = MediaRow & { message_id: string; position: number };

/** The media attached to each message, in attachment order. */
export async function findAttachedMedia(db: Executor, messageIds: readonly string[]): Promise<Map<string, AttachedMediaRow[]>> {
  const byMessage = new Map<string, AttachedMediaRow[]>();
  if (messageIds.length === 0) return byMessage;
  const rows = await db
    .selectFrom('message_attachments as a')
    .innerJoin('media', 'media.id', 'a.media_id')
    .selectAll('media')
    .select(['a.message_id', 'a.position'])
    .where('a.message_id', 'in', [...new Set(messageIds)])
    .orderBy('a.message_id')
    .orderBy('a.position')
    .execute();
  for (const row of rows) {
    const list = byMessage.get(row.message_id);
    if (list) list.push(row);
    else byMessage.set(row.message_id, [row]);
  }
  return byMessage;
}
