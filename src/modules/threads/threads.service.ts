import { sql } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { fromJson, newId, now, toJson } from '../../db/values.js';
import { findActiveRunOfThread } from '../runs/runs.repository.js';
import { AppError, fieldError } from '../../errors.js';
import { getAgentAccessOrThrow, toAgentLeaf } from '../agents/access.js';
import { countThreadChange, countThreadCreated, countThreadRemoved } from '../metrics/rollups.js';
import { findUsersByIds } from '../users/users.repository.js';
import { toUserLeaf } from '../users/user.shape.js';
import { can } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import * as repo from './threads.repository.js';
import type { CreateThreadInput, ThreadResource, UpdateThreadInput } from './threads.schemas.js';
import type { ThreadRow, ThreadVisibility } from './threads.table.js';

export const SORT_COLUMNS = {
  updated_at: 't.updated_at',
  created_at: 't.created_at',
  // Threads without messages sort by when they were started.
  last_message_at: 't.activity_at',
} as const;

/** Thread resources for the caller; owners, agents and running runs are read once per list. */
export async function toThreadResources(db: Executor, rows: ThreadRow[], viewerId: number): Promise<ThreadResource[]> {
  if (rows.length === 0) return [];
  const [owners, agents, activeRuns] = await Promise.all([
    findUsersByIds(db, rows.map((r) => r.user_id)),
    repo.findThreadAgents(db, rows.flatMap((r) => (r.agent_id ? [r.agent_id] : []))),
    // A list's threads share one workspace; other callers may map threads of several.
    Promise.all([...new Set(rows.map((r) => r.workspace_id))].map((workspaceId) =>
      repo.findActiveRuns(db, workspaceId, rows.filter((r) => r.workspace_id === workspaceId).map((r) => r.id)),
    )).then((maps) => new Map(maps.flatMap((m) => [...m]))),
  ]);
  const ownerById = new Map(owners.map((u) => [u.id, toUserLeaf(u)]));
  const agentById = new Map(agents.map((a) => [a.id, a]));
  return rows.map((row) => {
    const agent = row.agent_id ? agentById.get(row.agent_id) : undefined;
    return {
      uuid: row.id,
      name: row.name,
      agent_uuid: row.agent_id,
      agent: agent ? toAgentLeaf(agent) : null,
      visibility: row.visibility,
      metadata: fromJson<Record<string, unknown>>(row.metadata) ?? {},
      message_count: Number(row.message_count),
      last_message_at: row.last_message_at,
      active_run_uuid: activeRuns.get(row.id) ?? null,
      is_owner: row.user_id === viewerId,
      user: ownerById.get(row.user_id)!,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  });
}

/** One thread as the API shows it to `viewerId`. */
export async function toThreadResource(db: Executor, row: ThreadRow, viewerId: number): Promise<ThreadResource> {
  const [resource] = await toThreadResources(db, [row], viewerId);
  return resource!;
}

export async function listThreads(
  ctx: AppContext,
  scope: WorkspaceScope,
  page: PageRequest,
  filter: repo.ThreadListFilter,
): Promise<PageResult<ThreadResource>> {
  const result = await fetchPage(page, {
    base: repo.listThreadsQuery(ctx.db.kysely, scope.workspaceId, scope.userId, filter),
    select: (q) => q.selectAll('t').select(sql.ref(page.sort.column).as('sort_value')),
    idColumn: 't.id',
    sortField: 'sort_value',
    idField: 'id',
    map: (row: ThreadRow & { sort_value?: unknown; activity_at?: unknown }) => {
      const { sort_value: _sort, activity_at: _activity, ...thread } = row;
      return thread as ThreadRow;
    },
  });
  return { ...result, items: await toThreadResources(ctx.db.kysely, result.items, scope.userId) };
}

/** A thread the caller may read: their own, or a workspace-visible one of the acting workspace; NOT_FOUND otherwise. */
export async function getVisibleThreadOrThrow(ctx: AppContext, scope: WorkspaceScope, threadId: string): Promise<ThreadRow> {
  const row = await repo.findVisibleThread(ctx.db.kysely, scope.workspaceId, scope.userId, threadId);
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

/** Only a thread's owner writes to it, and never as a viewer. */
function assertOwnerWrites(scope: WorkspaceScope, thread: ThreadRow): void {
  if (thread.user_id !== scope.userId || !can(scope.role, 'write')) throw new AppError('FORBIDDEN');
}

/**
 * A thread the caller may run or append to: visible (else NOT_FOUND), theirs and with a role
 * that writes (else FORBIDDEN).
 */
export async function getThreadForRunOrThrow(ctx: AppContext, scope: WorkspaceScope, threadId: string): Promise<ThreadRow> {
  const thread = await getVisibleThreadOrThrow(ctx, scope, threadId);
  assertOwnerWrites(scope, thread);
  return thread;
}

export async function getThread(ctx: AppContext, scope: WorkspaceScope, threadId: string): Promise<ThreadResource> {
  return toThreadResource(ctx.db.kysely, await getVisibleThreadOrThrow(ctx, scope, threadId), scope.userId);
}

/** Stores a new thread in the caller's transaction (counted in the metrics rollups); the caller has checked the agent. */
export async function createThread(
  trx: Executor,
  values: {
    workspaceId: string;
    userId: number;
    agentId: string | null;
    name: string | null;
    visibility?: ThreadVisibility;
    metadata?: Record<string, unknown>;
    /** Messages the same transaction appends at once (appendMessages with `createdWithThem`). */
    messageCount?: number;
  },
): Promise<ThreadRow> {
  const at = now();
  const row = await repo.insertThread(trx, {
    id: newId(),
    workspace_id: values.workspaceId,
    user_id: values.userId,
    agent_id: values.agentId,
    name: values.name,
    visibility: values.visibility ?? 'private',
    metadata: toJson(values.metadata ?? {}),
    message_count: values.messageCount ?? 0,
    last_message_at: values.messageCount ? at : null,
    created_at: at,
    updated_at: at,
  });
  await countThreadCreated(trx, row);
  return row;
}

/** Names a thread (generate-name); returns the updated row. */
export async function renameThread(db: Executor, workspaceId: string, threadId: string, name: string): Promise<ThreadRow> {
  const row = await repo.updateThread(db, workspaceId, threadId, { name, updated_at: now() });
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

/** An agent the caller may run, for a thread's `agent_uuid`: one they cannot see is a 422 on that field. */
async function runnableAgentId(ctx: AppContext, scope: WorkspaceScope, agentId: string): Promise<string> {
  try {
    const { agent } = await getAgentAccessOrThrow(ctx, scope, agentId.toLowerCase(), 'run');
    return agent.id;
  } catch (error) {
    if (error instanceof AppError && error.code === 'NOT_FOUND') throw fieldError('agent_uuid', 'The selected agent uuid is invalid.');
    throw error;
  }
}

const trimmedName = (name: string | null | undefined) => (name === undefined || name === null ? name : name.trim() || null);

export async function createThreadForCaller(ctx: AppContext, scope: WorkspaceScope, input: CreateThreadInput): Promise<ThreadResource> {
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  const agentId = input.agent_uuid ? await runnableAgentId(ctx, scope, input.agent_uuid) : null;
  const row = await ctx.db.kysely.transaction().execute((trx) =>
    createThread(trx, {
      workspaceId: scope.workspaceId,
      userId: scope.userId,
      agentId,
      name: trimmedName(input.name) ?? null,
      visibility: input.visibility,
      metadata: input.metadata,
    }),
  );
  return toThreadResource(ctx.db.kysely, row, scope.userId);
}

export async function updateThread(ctx: AppContext, scope: WorkspaceScope, threadId: string, input: UpdateThreadInput): Promise<ThreadResource> {
  const db = ctx.db.kysely;
  const current = await getThreadForRunOrThrow(ctx, scope, threadId);
  const changes: Parameters<typeof repo.updateThread>[3] = {};
  if (input.name !== undefined) changes.name = trimmedName(input.name);
  if (input.visibility !== undefined) changes.visibility = input.visibility;
  if (input.metadata !== undefined) changes.metadata = toJson(input.metadata);
  if (input.agent_uuid !== undefined && input.agent_uuid?.toLowerCase() !== current.agent_id) {
    changes.agent_id = input.agent_uuid === null ? null : await runnableAgentId(ctx, scope, input.agent_uuid);
  }
  if (Object.keys(changes).length === 0) return toThreadResource(db, current, scope.userId);
  changes.updated_at = now();
  // A new visibility or agent moves what the thread counts in the metrics rollups, in the same transaction.
  const row = await db.transaction().execute((trx) => countThreadChange(trx, threadId, () => repo.updateThread(trx, scope.workspaceId, threadId, changes)));
  if (!row) throw new AppError('NOT_FOUND');
  return toThreadResource(db, row, scope.userId);
}

/** Its owner, or an admin or owner of the workspace, deletes a thread they can see, with its messages. */
export async function deleteThread(ctx: AppContext, scope: WorkspaceScope, threadId: string): Promise<void> {
  const thread = await getVisibleThreadOrThrow(ctx, scope, threadId);
  const moderator = scope.role === 'admin' || scope.role === 'owner';
  if (!can(scope.role, 'write') || (thread.user_id !== scope.userId && !moderator)) throw new AppError('FORBIDDEN');
  // Deleting under a live run would pull its thread away mid-write; cancel it first.
  const active = await findActiveRunOfThread(ctx.db.kysely, scope.workspaceId, thread.id);
  if (active && active.lease_expires_at !== null && active.lease_expires_at > now()) throw new AppError('CONFLICT', `The thread has a run in progress (${active.id}): cancel it first.`);
  await ctx.db.kysely.transaction().execute(async (trx) => {
    // What the thread, its messages and its runs counted leaves the metrics rollups with them.
    await countThreadRemoved(trx, thread.id);
    await repo.deleteThread(trx, scope.workspaceId, threadId);
  });
}
