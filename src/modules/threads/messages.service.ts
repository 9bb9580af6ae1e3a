import { sql } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { fromJson, newId, now, toJson } from '../../db/values.js';
import { AppError, type FieldErrors } from '../../errors.js';
import { loadAttachments, toAttachmentResources } from '../media/media.service.js';
import type { MediaRow } from '../media/media.table.js';
import { countFeedbackChange, countMessageRemoved, countMessagesAdded } from '../metrics/rollups.js';
import { findUsersByIds } from '../users/users.repository.js';
import { toUserLeaf } from '../users/user.shape.js';
import { can } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import * as repo from './messages.repository.js';
import type { CreateMessageInput, MessageResource, UpdateMessageInput } from './messages.schemas.js';
import { bumpMessageCount, refreshLastMessageAt } from './threads.repository.js';
import { getThreadForRunOrThrow, getVisibleThreadOrThrow } from './threads.service.js';
import type { MessageRole, MessageRow, MessageStatus } from './threads.table.js';

export const SORT_COLUMNS = { sequence: 'm.sequence' } as const;

export interface ToolCall {
  id: string;
  name: string;
  input: unknown;
}

export interface ToolResult {
  tool_call_id: string;
  name: string;
  output: unknown;
  is_error: boolean;
}

/** A message to store with `appendMessages`; its sequence is allocated there. */
export interface NewMessage {
  /** Given when the uuid was announced (in a stream) before the message was stored. */
  id?: string;
  role: MessageRole;
  content: string;
  runId?: string | null;
  userId?: number | null;
  agentId?: string | null;
  toolCalls?: ToolCall[] | null;
  toolResult?: ToolResult | null;
  status?: MessageStatus;
  llmId?: string | null;
  modelId?: string | null;
  inputTokens?: number | null;
  outputTokens?: number | null;
  cost?: number | null;
  latencyMs?: number | null;
  metadata?: Record<string, unknown>;
  /** Media ids, in order; the caller has checked them (`loadAttachments`). */
  attachments?: string[];
}

/** The tool calls an assistant message made, parsed. */
export function toolCallsOf(row: MessageRow): ToolCall[] | null {
  return row.tool_calls === null ? null : fromJson<ToolCall[] | null>(row.tool_calls);
}

/** The result a tool message carries, parsed. */
export function toolResultOf(row: MessageRow): ToolResult | null {
  return row.tool_result === null ? null : fromJson<ToolResult | null>(row.tool_result);
}

/**
 * Appends messages to a thread in the caller's transaction and returns them in order. The count
 * update comes first: it locks the thread row, so concurrent appends take sequences one after
 * the other, and the unique (thread, sequence) index never sees a collision.
 */
export async function appendMessages(
  trx: Executor,
  thread: {
    id: string;
    workspaceId: string;
    /**
     * The thread was created in this transaction already counting these messages (createThread's
     * `messageCount`): they take sequences from 1 and nothing is counted again.
     */
    createdWithThem?: boolean;
  },
  messages: NewMessage[],
): Promise<MessageRow[]> {
  if (messages.length === 0) return [];
  const at = now();
  let first = 1;
  if (!thread.createdWithThem) {
    const bumped = await bumpMessageCount(trx, thread.workspaceId, thread.id, messages.length, at);
    if (!bumped) throw new AppError('NOT_FOUND');
    first = (await repo.lastSequence(trx, thread.workspaceId, thread.id)) + 1;
  }
  const rows = await repo.insertMessages(
    trx,
    messages.map((m, i) => ({
      id: m.id ?? newId(),
      workspace_id: thread.workspaceId,
      thread_id: thread.id,
      run_id: m.runId ?? null,
      user_id: m.userId ?? null,
      agent_id: m.agentId ?? null,
      sequence: first + i,
      role: m.role,
      content: m.content,
      tool_calls: m.toolCalls ? toJson(m.toolCalls) : null,
      tool_result: m.toolResult ? toJson(m.toolResult) : null,
      status: m.status ?? 'completed',
      llm_id: m.llmId ?? null,
      model_id: m.modelId ?? null,
      input_tokens: m.inputTokens ?? null,
      output_tokens: m.outputTokens ?? null,
      cost: m.cost ?? null,
      latency_ms: m.latencyMs ?? null,
      feedback: null,
      feedback_comment: null,
      feedback_at: null,
      metadata: toJson(m.metadata ?? {}),
      created_at: at,
      updated_at: at,
    })),
  );
  rows.sort((a, b) => a.sequence - b.sequence);
  await countMessagesAdded(trx, thread.id, rows);
  await repo.insertAttachments(
    trx,
    rows.flatMap((row, i) => [...new Set(messages[i]!.attachments ?? [])].map((mediaId, position) => ({ message_id: row.id, media_id: mediaId, position }))),
  );
  return rows;
}

/**
 * The conversation a run sends to the model: the thread's last `limit` messages in sequence
 * order, with their media. A tool message whose assistant call fell outside the window (or was
 * deleted) is left out, so the history never opens on an answer to an unseen call.
 */
export async function loadHistory(db: Executor, threadId: string, limit: number): Promise<Array<MessageRow & { attachments: MediaRow[] }>> {
  if (limit <= 0) return [];
  const rows = (await repo.findLatestMessages(db, threadId, limit)).reverse();
  const calls = new Set<string>();
  const kept: MessageRow[] = [];
  for (const row of rows) {
    if (row.role === 'assistant') for (const call of toolCallsOf(row) ?? []) calls.add(call.id);
    if (row.role === 'tool') {
      const result = toolResultOf(row);
      if (!result || !calls.has(result.tool_call_id)) continue;
    }
    kept.push(row);
  }
  const media = await repo.findAttachedMedia(db, kept.map((r) => r.id));
  return kept.map((row) => ({
    ...row,
    attachments: (media.get(row.id) ?? []).map(({ message_id: _message, position: _position, ...file }) => file),
  }));
}

/**
 * Message resources; authors and attachments are read once per list. `baseUrl` (as for page
 * links) makes the attachments' download URLs.
 */
export async function toMessageResources(db: Executor, rows: MessageRow[], baseUrl: string): Promise<MessageResource[]> {
  if (rows.length === 0) return [];
  const [authors, media] = await Promise.all([
    findUsersByIds(db, rows.flatMap((r) => (r.user_id === null ? [] : [r.user_id]))),
    repo.findAttachedMedia(db, rows.map((r) => r.id)),
  ]);
  const authorById = new Map(authors.map((u) => [u.id, toUserLeaf(u)]));
  // One call for every attachment of the page, then handed back to each message in order.
  const attached = rows.flatMap((row) => (media.get(row.id) ?? []).map(({ message_id: _m, position, ...file }) => ({ media: file, position })));
  const resources = await toAttachmentResources(db, attached, baseUrl);
  const attachmentsOf = new Map<string, typeof resources>();
  let next = 0;
  for (const row of rows) {
    const count = media.get(row.id)?.length ?? 0;
    attachmentsOf.set(row.id, resources.slice(next, next + count));
    next += count;
  }
  return rows.map((row) => {
    const hasUsage = row.input_tokens !== null || row.output_tokens !== null || row.cost !== null || row.latency_ms !== null;
    return {
      uuid: row.id,
      thread_uuid: row.thread_id,
      run_uuid: row.run_id,
      sequence: Number(row.sequence),
      role: row.role,
      content: row.content,
      tool_calls: toolCallsOf(row),
      tool_result: toolResultOf(row),
      status: row.status,
      attachments: attachmentsOf.get(row.id) ?? [],
      llm_uuid: row.llm_id,
      model_id: row.model_id,
      usage: hasUsage
        ? {
            input_tokens: row.input_tokens,
            output_tokens: row.output_tokens,
            cost: row.cost === null ? null : Number(row.cost),
            latency_ms: row.latency_ms,
          }
        : null,
      feedback: row.feedback,
      feedback_comment: row.feedback_comment,
      metadata: fromJson<Record<string, unknown>>(row.metadata) ?? {},
      user: row.user_id === null ? null : (authorById.get(row.user_id) ?? null),
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  });
}

export async function toMessageResource(db: Executor, row: MessageRow, baseUrl: string): Promise<MessageResource> {
  const [resource] = await toMessageResources(db, [row], baseUrl);
  return resource!;
}

export async function listMessages(
  ctx: AppContext,
  scope: WorkspaceScope,
  threadId: string,
  page: PageRequest,
  filter: repo.MessageListFilter,
  baseUrl: string,
): Promise<PageResult<MessageResource>> {
  const thread = await getVisibleThreadOrThrow(ctx, scope, threadId);
  const result = await fetchPage(page, {
    base: repo.listMessagesQuery(ctx.db.kysely, scope.workspaceId, thread.id, filter),
    select: (q) => q.selectAll('m').select(sql.ref(page.sort.column).as('sort_value')),
    idColumn: 'm.id',
    sortField: 'sort_value',
    idField: 'id',
    map: (row: MessageRow & { sort_value?: unknown }) => {
      const { sort_value: _sort, ...message } = row;
      return message as MessageRow;
    },
  });
  return { ...result, items: await toMessageResources(ctx.db.kysely, result.items, baseUrl) };
}

async function getMessageOrThrow(ctx: AppContext, scope: WorkspaceScope, threadId: string, messageId: string): Promise<MessageRow> {
  const row = await repo.findMessage(ctx.db.kysely, scope.workspaceId, threadId, messageId);
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

export async function getMessage(ctx: AppContext, scope: WorkspaceScope, threadId: string, messageId: string, baseUrl: string): Promise<MessageResource> {
  const thread = await getVisibleThreadOrThrow(ctx, scope, threadId);
  return toMessageResource(ctx.db.kysely, await getMessageOrThrow(ctx, scope, thread.id, messageId), baseUrl);
}

/** The thread's owner appends a message without calling a model. */
export async function createMessage(
  ctx: AppContext,
  scope: WorkspaceScope,
  threadId: string,
  input: CreateMessageInput,
  baseUrl: string,
): Promise<MessageResource> {
  const db = ctx.db.kysely;
  const thread = await getThreadForRunOrThrow(ctx, scope, threadId);
  const media = input.attachments?.length ? await loadAttachments(db, scope, input.attachments, 'attachments') : [];
  const role = input.role ?? 'user';
  const [row] = await db.transaction().execute((trx) =>
    appendMessages(trx, { id: thread.id, workspaceId: thread.workspace_id }, [
      {
        role,
        content: input.content,
        // Only a user message has an author; a hand-written assistant message is no agent's
        // output, so it carries no agent and its feedback does not reach the leaderboard.
        userId: role === 'user' ? scope.userId : null,
        metadata: input.metadata,
        attachments: media.map((m) => m.id),
      },
    ]),
  );
  return toMessageResource(db, row!, baseUrl);
}

function failValidation(errors: FieldErrors): never {
  const first = Object.values(errors)[0]![0]!;
  throw new AppError('VALIDATION', first, { fields: errors });
}

/**
 * The owner edits `content` and `metadata` (not of tool messages, which answer a model's call);
 * anyone who reads the thread, as a member or above, rates an assistant message.
 */
export async function updateMessage(
  ctx: AppContext,
  scope: WorkspaceScope,
  threadId: string,
  messageId: string,
  input: UpdateMessageInput,
  baseUrl: string,
): Promise<MessageResource> {
  const db = ctx.db.kysely;
  const edits = input.content !== undefined || input.metadata !== undefined;
  const rates = input.feedback !== undefined || input.feedback_comment !== undefined;
  const thread = edits ? await getThreadForRunOrThrow(ctx, scope, threadId) : await getVisibleThreadOrThrow(ctx, scope, threadId);
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  const current = await getMessageOrThrow(ctx, scope, thread.id, messageId);

  const errors: FieldErrors = {};
  if (current.role === 'tool') {
    for (const field of ['content', 'metadata'] as const) {
      if (input[field] !== undefined) errors[field] = [`The ${field} of a tool message cannot be changed.`];
    }
  }
  if (rates && current.role !== 'assistant') {
    errors[input.feedback !== undefined ? 'feedback' : 'feedback_comment'] = ['Feedback can only be given on assistant messages.'];
  } else if (rates) {
    const comment = input.feedback_comment?.trim() ? input.feedback_comment : null;
    const rated = input.feedback !== undefined ? input.feedback !== null : current.feedback !== null;
    if (comment !== null && !rated) errors.feedback = ['The feedback field is required when feedback comment is present.'];
  }
  if (Object.keys(errors).length > 0) failValidation(errors);

  const at = now();
  const changes: Parameters<typeof repo.updateMessage>[3] = {};
  if (input.content !== undefined) changes.content = input.content;
  if (input.metadata !== undefined) changes.metadata = toJson(input.metadata);
  if (input.feedback === null) {
    changes.feedback = null;
    changes.feedback_comment = null;
    changes.feedback_at = null;
  } else if (rates) {
    if (input.feedback !== undefined) changes.feedback = input.feedback;
    if (input.feedback_comment !== undefined) changes.feedback_comment = input.feedback_comment?.trim() ? input.feedback_comment : null;
    changes.feedback_at = at;
  }
  if (Object.keys(changes).length === 0) return toMessageResource(db, current, baseUrl);
  changes.updated_at = at;
  const update = (trx: Executor) => repo.updateMessage(trx, scope.workspaceId, current.id, changes);
  // Feedback counts in the metrics rollups: the change is counted in its transaction.
  const updated = changes.feedback_at === undefined ? await update(db) : await db.transaction().execute((trx) => countFeedbackChange(trx, current.id, () => update(trx)));
  return toMessageResource(db, updated, baseUrl);
}

/** The thread's owner deletes a message; the thread's count and last activity follow. */
export async function deleteMessage(ctx: AppContext, scope: WorkspaceScope, threadId: string, messageId: string): Promise<void> {
  const thread = await getThreadForRunOrThrow(ctx, scope, threadId);
  await ctx.db.kysely.transaction().execute(async (trx) => {
    // Deleting first: a concurrent delete of the same message waits on its row and then finds
    // nothing, so the count drops once.
    const deleted = await repo.deleteMessage(trx, thread.workspace_id, thread.id, messageId);
    if (!deleted) throw new AppError('NOT_FOUND');
    await countMessageRemoved(trx, thread.id, deleted);
    await bumpMessageCount(trx, thread.workspace_id, thread.id, -1, now());
    await refreshLastMessageAt(trx, thread.workspace_id, thread.id);
  });
}
