import { sql, type ExpressionBuilder, type Insertable, type Updateable } from 'kysely';
import type { Database, Executor } from '../../db/database.js';
import { preparedInsert } from '../../db/prepared.js';
import { containsText } from '../../db/values.js';
import type { AgentRow } from '../agents/agents.table.js';
import type { ThreadRow, ThreadsTable, ThreadVisibility } from './threads.table.js';

/** Who reads: their own threads and the workspace-visible ones. */
function visibleTo(userId: number) {
  return (eb: ExpressionBuilder<Database, 'threads'>) => eb.or([eb('threads.user_id', '=', userId), eb('threads.visibility', '=', 'workspace')]);
}

export interface ThreadListFilter {
  search?: string;
  agentId?: string;
  visibility?: ThreadVisibility;
  mine?: boolean;
}

/**
 * The threads of the workspace the user may read, as the derived table `t` with `activity_at`
 * (last message, else creation): sorting "by last message" then needs no NULL handling, which
 * keyset cursors could not compare.
 */
export function listThreadsQuery(db: Executor, workspaceId: string, userId: number, filter: ThreadListFilter) {
  let inner = db
    .selectFrom('threads')
    .selectAll('threads')
    .select(sql<string>`coalesce(threads.last_message_at, threads.created_at)`.as('activity_at'))
    .where('threads.workspace_id', '=', workspaceId)
    .where(visibleTo(userId));
  if (filter.search) inner = inner.where(containsText('threads.name', filter.search));
  if (filter.agentId) inner = inner.where('threads.agent_id', '=', filter.agentId);
  if (filter.visibility) inner = inner.where('threads.visibility', '=', filter.visibility);
  if (filter.mine) inner = inner.where('threads.user_id', '=', userId);
  return db.selectFrom(inner.as('t'));
}

/** A thread of the workspace the user may read. */
export function findVisibleThread(db: Executor, workspaceId: string, userId: number, id: string): Promise<ThreadRow | undefined> {
  return db
    .selectFrom('threads')
    .selectAll()
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .where(visibleTo(userId))
    .executeTakeFirst();
}

const THREAD_COLUMNS = [
  'id', 'workspace_id', 'user_id', 'agent_id', 'name', 'visibility', 'metadata', 'message_count', 'last_message_at', 'created_at', 'updated_at',
] as const satisfies ReadonlyArray<keyof ThreadsTable>;

// An agent run without a thread starts one: prepared once, like the run itself.
const insertThreadRow = preparedInsert<'threads', ThreadRow>('threads', THREAD_COLUMNS);

export function insertThread(db: Executor, values: Required<Pick<Insertable<ThreadsTable>, (typeof THREAD_COLUMNS)[number]>>): Promise<ThreadRow> {
  return insertThreadRow(db, values);
}

export function updateThread(db: Executor, workspaceId: string, id: string, values: Updateable<ThreadsTable>): Promise<ThreadRow | undefined> {
  return db.updateTable('threads').set(values).where('id', '=', id).where('workspace_id', '=', workspaceId).returningAll().executeTakeFirst();
}

export async function deleteThread(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('threads').where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
}

/**
 * Adds `delta` messages to the thread's count and stamps its activity. Being an update, it
 * locks the thread row until the transaction ends: the lock that orders concurrent appends.
 */
export function bumpMessageCount(db: Executor, workspaceId: string, id: string, delta: number, at: string): Promise<{ message_count: number } | undefined> {
  const changes: Updateable<ThreadsTable> = { message_count: sql<number>`message_count + ${delta}` as unknown as number, updated_at: at };
  if (delta > 0) changes.last_message_at = at;
  return db
    .updateTable('threads')
    .set(changes)
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .returning('message_count')
    .executeTakeFirst();
}

/** Recomputes when the thread last had a message, after one was deleted. */
export async function refreshLastMessageAt(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db
    .updateTable('threads')
    .set((eb) => ({
      last_message_at: eb.selectFrom('messages').select((m) => m.fn.max('messages.created_at').as('at')).where('messages.thread_id', '=', id),
    }))
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .execute();
}

/** The running run of each thread that has one (at most one per thread: a unique index). */
export async function findActiveRuns(db: Executor, workspaceId: string, threadIds: readonly string[]): Promise<Map<string, string>> {
  if (threadIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('runs')
    .select(['id', 'thread_id'])
    .where('workspace_id', '=', workspaceId)
    .where('thread_id', 'in', [...new Set(threadIds)])
    .where('status', '=', 'running')
    .execute();
  return new Map(rows.map((r) => [r.thread_id!, r.id]));
}

/**
 * The agents threads point at, for their nested `agent`. By id alone: an agent shared from
 * another workspace can drive a thread here, and the thread row was already authorized.
 */
export function findThreadAgents(db: Executor, agentIds: readonly string[]): Promise<AgentRow[]> {
  if (agentIds.length === 0) return Promise.resolve([]);
  return db.selectFrom('agents').selectAll().where('id', 'in', [...new Set(agentIds)]).execute();
}

/** Threads per workspace the user may read (workspace metrics). */
export async function countVisibleThreadsByWorkspace(db: Executor, userId: number, workspaceIds: readonly string[]): Promise<Map<string, number>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('threads')
    .select(['workspace_id', (eb) => eb.fn.countAll<number>().as('count')])
    .where('workspace_id', 'in', [...workspaceIds])
    .where(visibleTo(userId))
    .groupBy('workspace_id')
    .execute();
  return new Map(rows.map((r) => [r.workspace_id, Number(r.count)]));
}

/** Messages per workspace in the threads the user may read: the sum of their counts. */
export async function countVisibleMessagesByWorkspace(db: Executor, userId: number, workspaceIds: readonly string[]): Promise<Map<string, number>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('threads')
    .select(['workspace_id', (eb) => eb.fn.sum<number>('message_count').as('count')])
    .where('workspace_id', 'in', [...workspaceIds])
    .where(visibleTo(userId))
    .groupBy('workspace_id')
    .execute();
  return new Map(rows.map((r) => [r.workspace_id, Number(r.count ?? 0)]));
}
