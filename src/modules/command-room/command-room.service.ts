import { sql, type Updateable } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import type { PageResult } from '../../db/paging.js';
import { isUuid, newId, now, toJson } from '../../db/values.js';
import { AppError, fieldError } from '../../errors.js';
import { resolveAgentAccessOrThrow } from '../agents/access.js';
import { visibleWorkflowsSubquery } from '../executions/executions.service.js';
import { isManager } from '../shares/visibility.js';
import { findVisibleThread } from '../threads/threads.repository.js';
import { findUsersByIds } from '../users/users.repository.js';
import { toUserLeaf } from '../users/user.shape.js';
import { resolveWorkflowAccessOrThrow } from '../workflows/access.js';
import { can } from '../workspaces/permissions.js';
import { findMember } from '../workspaces/workspaces.repository.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { followStateAtLink, type FollowState } from './command-room.links.js';
import * as repo from './command-room.repository.js';
import type { CommandRoomTaskResource, CreateTaskInput, UpdateTaskInput } from './command-room.schemas.js';
import { commandRoomOf, mayViewLink, type BoardViewer, type LinkAudience, type StoredEventData } from './command-room.stream.js';
import type { CommandRoomTaskRow, CommandRoomTasksTable, TaskLinkType, TaskStatus } from './command-room.table.js';

export type BoardEventType = 'task.created' | 'task.updated' | 'task.moved' | 'task.deleted';

/** A task as every viewer's copy starts: the link's name shown, with who may see it. */
export interface TaskEntry {
  resource: CommandRoomTaskResource;
  audience: LinkAudience | null;
}

export function viewerOf(scope: WorkspaceScope): BoardViewer {
  return { userId: scope.userId, manager: isManager(scope.role) };
}

/** The resource as `viewer` sees it: a private link target's name and status only for those who may see it. */
export function forViewer(entry: TaskEntry, viewer: BoardViewer): CommandRoomTaskResource {
  const { resource } = entry;
  if (!resource.link || mayViewLink(entry.audience, viewer)) return resource;
  return { ...resource, link: { ...resource.link, name: null, status: null } };
}

/** Task resources with assignees and link targets read in one query each (per link type). */
export async function toTaskEntries(db: Executor, rows: CommandRoomTaskRow[]): Promise<TaskEntry[]> {
  if (rows.length === 0) return [];
  const workspaceId = rows[0]!.workspace_id;
  const assignees = new Map((await findUsersByIds(db, rows.flatMap((r) => (r.assignee_id === null ? [] : [r.assignee_id])))).map((u) => [u.id, u]));
  const targets = new Map<string, repo.LinkTarget>();
  const byType = new Map<TaskLinkType, string[]>();
  for (const row of rows) {
    if (row.link_type && row.link_id) byType.set(row.link_type, [...(byType.get(row.link_type) ?? []), row.link_id]);
  }
  for (const [type, ids] of byType) {
    for (const target of await repo.findLinkTargets(db, workspaceId, type, ids)) targets.set(`${type}:${target.id}`, target);
  }
  return rows.map((row) => {
    const assignee = row.assignee_id === null ? undefined : assignees.get(row.assignee_id);
    const target = row.link_type && row.link_id ? targets.get(`${row.link_type}:${row.link_id}`) : undefined;
    const audience: LinkAudience | null =
      target && target.visibility === 'private' ? { userId: target.user_id, managers: row.link_type !== 'thread' } : null;
    return {
      audience,
      resource: {
        uuid: row.id,
        title: row.title,
        description: row.description,
        status: row.status,
        position: Number(row.position),
        progress: row.progress === null ? null : Number(row.progress),
        assignee: assignee ? toUserLeaf(assignee) : null,
        due_at: row.due_at,
        link:
          row.link_type && row.link_id
            ? { type: row.link_type, uuid: row.link_id, name: target?.name ?? null, status: row.followed_status }
            : null,
        created_at: row.created_at,
        updated_at: row.updated_at,
      },
    };
  });
}

// ---- board writes ------------------------------------------------------------------------

interface PendingEvent {
  type: BoardEventType;
  taskId: string;
  data: StoredEventData;
}

/**
 * One board change: a transaction that takes the workspace's board lock first, then changes
 * rows and appends the events. Because the events are inserted under the lock, a workspace's
 * event ids are allocated in commit order: a reader that sees event N has every earlier event of
 * the workspace too, which is what lets the stream resume from an id without gaps. Hubs are told
 * after the commit.
 */
export async function writeBoard<T>(
  ctx: AppContext,
  workspaceId: string,
  change: (trx: Executor, emit: (event: PendingEvent) => void) => Promise<T>,
  options: { linked?: boolean } = {},
): Promise<T> {
  let emitted = 0;
  const result = await ctx.db.kysely.transaction().execute(async (trx) => {
    await repo.lockBoard(trx, ctx.db.dialect, workspaceId);
    const events: PendingEvent[] = [];
    const value = await change(trx, (event) => events.push(event));
    const at = now();
    for (const event of events) {
      await repo.insertEvent(trx, { workspaceId, taskId: event.taskId, type: event.type, data: toJson(event.data), at });
    }
    emitted = events.length;
    return value;
  });
  if (emitted > 0) commandRoomOf(ctx).changed(workspaceId, options.linked === true);
  return result;
}

/** The event of a changed task: its resource as of this transaction. */
export async function taskEvent(trx: Executor, type: BoardEventType, row: CommandRoomTaskRow): Promise<{ event: PendingEvent; entry: TaskEntry }> {
  const [entry] = await toTaskEntries(trx, [row]);
  return { event: { type, taskId: row.id, data: { task: entry!.resource, audience: entry!.audience } }, entry: entry! };
}

const clamp = (value: number, min: number, max: number) => Math.min(Math.max(value, min), max);

/**
 * Moves a task (read under the lock) to `status` at `position` (default: the end of that column),
 * keeping both columns dense: the gap it leaves closes, the place it takes opens. Returns the
 * position it gets; the caller writes it with the rest of its changes.
 */
export async function moveInBoard(trx: Executor, task: CommandRoomTaskRow, status: TaskStatus, position: number | undefined): Promise<number> {
  const from = Number(task.position);
  if (status === task.status) {
    const last = (await repo.countColumn(trx, task.workspace_id, status)) - 1;
    const to = clamp(position ?? last, 0, last);
    if (to < from) await repo.shiftColumn(trx, task.workspace_id, status, 1, to, from - 1);
    else if (to > from) await repo.shiftColumn(trx, task.workspace_id, status, -1, from + 1, to);
    return to;
  }
  await repo.shiftColumn(trx, task.workspace_id, task.status, -1, from + 1);
  const size = await repo.countColumn(trx, task.workspace_id, status);
  const to = clamp(position ?? size, 0, size);
  await repo.shiftColumn(trx, task.workspace_id, status, 1, to);
  return to;
}

// ---- checks ------------------------------------------------------------------------------

function assertWrites(scope: WorkspaceScope): void {
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
}

async function checkAssignee(ctx: AppContext, scope: WorkspaceScope, assigneeId: number | null | undefined): Promise<void> {
  if (assigneeId === undefined || assigneeId === null) return;
  if (!(await findMember(ctx.db.kysely, scope.workspaceId, assigneeId))) {
    throw fieldError('assignee_id', 'The selected assignee id is invalid.');
  }
}

function dueAtOf(value: string | null | undefined): string | null | undefined {
  if (value === undefined || value === null) return value;
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw fieldError('due_at', 'The due at field must be a valid date.');
  return new Date(time).toISOString();
}

function titleOf(value: string): string {
  const title = value.trim();
  if (!title) throw fieldError('title', 'The title field is required.');
  return title;
}

/**
 * The link target must be of the acting workspace and visible to the caller: one they cannot
 * see is a 422 on `link.uuid`, as an unknown one is (threads answer `agent_uuid` the same way).
 */
async function checkLink(ctx: AppContext, scope: WorkspaceScope, link: { type: TaskLinkType; uuid: string }): Promise<string> {
  const id = link.uuid.toLowerCase();
  const invalid = () => fieldError('link.uuid', `The selected link uuid is invalid.`);
  const db = ctx.db.kysely;
  if (!isUuid(id)) throw invalid();
  try {
    switch (link.type) {
      case 'agent': {
        const { agent } = await resolveAgentAccessOrThrow(db, scope, id, 'view');
        if (agent.workspace_id !== scope.workspaceId) throw invalid();
        return id;
      }
      case 'workflow': {
        const { workflow } = await resolveWorkflowAccessOrThrow(db, scope, id, 'view');
        if (workflow.workspace_id !== scope.workspaceId) throw invalid();
        return id;
      }
      case 'thread':
        if (!(await findVisibleThread(db, scope.workspaceId, scope.userId, id))) throw invalid();
        return id;
      case 'execution': {
        const row = await db
          .selectFrom('workflow_executions')
          .select('id')
          .where('workspace_id', '=', scope.workspaceId)
          .where('id', '=', id)
          .where('workflow_id', 'in', visibleWorkflowsSubquery(db, scope))
          .executeTakeFirst();
        if (!row) throw invalid();
        return id;
      }
    }
  } catch (error) {
    if (error instanceof AppError && (error.code === 'NOT_FOUND' || error.code === 'FORBIDDEN')) throw invalid();
    throw error;
  }
}

function followColumns(follow: FollowState | undefined): Pick<CommandRoomTasksTable, 'followed_id' | 'followed_status' | 'progress'> {
  return {
    followed_id: follow?.followedId ?? null,
    followed_status: follow?.followedStatus ?? null,
    progress: follow ? (follow.progress ?? 0) : null,
  };
}

// ---- API ---------------------------------------------------------------------------------

export async function createTask(ctx: AppContext, scope: WorkspaceScope, input: CreateTaskInput): Promise<CommandRoomTaskResource> {
  assertWrites(scope);
  const title = titleOf(input.title);
  const dueAt = dueAtOf(input.due_at) ?? null;
  await checkAssignee(ctx, scope, input.assignee_id);
  const linkId = input.link ? await checkLink(ctx, scope, input.link) : null;
  const workspaceId = scope.workspaceId;
  const created = await writeBoard(ctx, workspaceId, async (trx, emit) => {
    const at = now();
    const follow = input.link && linkId ? await followStateAtLink(trx, workspaceId, input.link.type, linkId) : undefined;
    // A status sent wins; otherwise a followed run's decides.
    const status = input.status ?? follow?.status ?? 'todo';
    const size = await repo.countColumn(trx, workspaceId, status);
    const position = clamp(input.position ?? size, 0, size);
    await repo.shiftColumn(trx, workspaceId, status, 1, position);
    const row = await repo.insertTask(trx, {
      id: newId(),
      workspace_id: workspaceId,
      user_id: scope.userId,
      title,
      description: input.description ?? null,
      status,
      position,
      assignee_id: input.assignee_id ?? null,
      due_at: dueAt,
      link_type: input.link?.type ?? null,
      link_id: linkId,
      linked_at: linkId ? at : null,
      ...followColumns(follow),
      created_at: at,
      updated_at: at,
    });
    const { event, entry } = await taskEvent(trx, 'task.created', row);
    emit(event);
    return { entry, follow };
  }, { linked: linkId !== null });
  if (created.follow) markFollowed(ctx, created.follow.followedId);
  return forViewer(created.entry, viewerOf(scope));
}

/** Tells this process's run hooks that a run or execution in flight here now has a follower. */
function markFollowed(ctx: AppContext, id: string): void {
  const entry = commandRoomOf(ctx).following.get(id);
  if (entry) {
    entry.known = true;
    entry.check = Promise.resolve(true);
  }
}

export async function updateTask(ctx: AppContext, scope: WorkspaceScope, taskId: string, input: UpdateTaskInput): Promise<CommandRoomTaskResource> {
  assertWrites(scope);
  const id = taskId.toLowerCase();
  if (!isUuid(id)) throw new AppError('NOT_FOUND');
  const title = input.title === undefined ? undefined : titleOf(input.title);
  const dueAt = dueAtOf(input.due_at);
  await checkAssignee(ctx, scope, input.assignee_id);
  const linkId = input.link ? await checkLink(ctx, scope, input.link) : input.link;
  const workspaceId = scope.workspaceId;
  const result = await writeBoard(ctx, workspaceId, async (trx, emit) => {
    const task = await repo.findTask(trx, workspaceId, id);
    if (!task) throw new AppError('NOT_FOUND');
    const at = now();
    const changes: Updateable<CommandRoomTasksTable> = {};
    if (title !== undefined && title !== task.title) changes.title = title;
    if (input.description !== undefined && input.description !== task.description) changes.description = input.description;
    if (input.assignee_id !== undefined && input.assignee_id !== task.assignee_id) changes.assignee_id = input.assignee_id;
    if (dueAt !== undefined && dueAt !== task.due_at) changes.due_at = dueAt;
    let follow: FollowState | undefined;
    const linkChanged = input.link !== undefined && ((input.link?.type ?? null) !== task.link_type || (linkId ?? null) !== task.link_id);
    if (linkChanged) {
      follow = input.link && linkId ? await followStateAtLink(trx, workspaceId, input.link.type, linkId) : undefined;
      Object.assign(changes, {
        link_type: input.link?.type ?? null,
        link_id: linkId ?? null,
        linked_at: linkId ? at : null,
        ...followColumns(follow),
      });
    }
    const status = input.status ?? (linkChanged && follow ? follow.status : task.status);
    const moves = status !== task.status || (input.position !== undefined && input.position !== Number(task.position));
    if (moves) {
      const position = await moveInBoard(trx, task, status, input.position);
      if (status !== task.status) changes.status = status;
      if (position !== Number(task.position) || status !== task.status) changes.position = position;
    }
    if (Object.keys(changes).length === 0) {
      const [entry] = await toTaskEntries(trx, [task]);
      return { entry: entry!, follow };
    }
    changes.updated_at = at;
    const row = await repo.updateTask(trx, workspaceId, id, changes);
    const moved = changes.status !== undefined || changes.position !== undefined;
    const { event, entry } = await taskEvent(trx, moved ? 'task.moved' : 'task.updated', row);
    emit(event);
    return { entry, follow };
  }, { linked: Boolean(input.link) });
  if (result.follow) markFollowed(ctx, result.follow.followedId);
  return forViewer(result.entry, viewerOf(scope));
}

export async function deleteTask(ctx: AppContext, scope: WorkspaceScope, taskId: string): Promise<void> {
  assertWrites(scope);
  const id = taskId.toLowerCase();
  if (!isUuid(id)) throw new AppError('NOT_FOUND');
  await writeBoard(ctx, scope.workspaceId, async (trx, emit) => {
    const task = await repo.findTask(trx, scope.workspaceId, id);
    if (!task) throw new AppError('NOT_FOUND');
    await repo.deleteTask(trx, scope.workspaceId, id);
    await repo.shiftColumn(trx, scope.workspaceId, task.status, -1, Number(task.position) + 1);
    emit({ type: 'task.deleted', taskId: id, data: { task: { uuid: id }, audience: null } });
  });
}

export async function getTask(ctx: AppContext, scope: WorkspaceScope, taskId: string): Promise<CommandRoomTaskResource> {
  const id = taskId.toLowerCase();
  if (!isUuid(id)) throw new AppError('NOT_FOUND');
  const task = await repo.findTask(ctx.db.kysely, scope.workspaceId, id);
  if (!task) throw new AppError('NOT_FOUND');
  const [entry] = await toTaskEntries(ctx.db.kysely, [task]);
  return forViewer(entry!, viewerOf(scope));
}

/**
 * The board: tasks in column order (todo, in_progress, blocked, done, failed, canceled), then by
 * position. `lastEventId` is the newest event before the board was read: a stream opened with it
 * misses nothing (it may repeat a change the page already shows).
 */
export async function listTasks(
  ctx: AppContext,
  scope: WorkspaceScope,
  paging: { page: number; perPage: number },
  filter: repo.TaskListFilter,
): Promise<{ page: PageResult<CommandRoomTaskResource>; lastEventId: number }> {
  const db = ctx.db.kysely;
  const lastEventId = await repo.latestEventId(db, scope.workspaceId);
  const base = repo.listTasksQuery(db, scope.workspaceId, filter);
  const countRow = await base.select(sql<number>`count(*)`.as('count')).executeTakeFirst();
  const total = Number(countRow?.count ?? 0);
  const { page, perPage } = paging;
  const rows =
    total === 0 || (page - 1) * perPage >= total
      ? []
      : await base
          .selectAll('t')
          .orderBy(repo.columnRank)
          .orderBy('t.position')
          .orderBy('t.id')
          .limit(perPage)
          .offset((page - 1) * perPage)
          .execute();
  const viewer = viewerOf(scope);
  const items = (await toTaskEntries(db, rows)).map((entry) => forViewer(entry, viewer));
  return { page: { kind: 'offset', items, total, page, perPage }, lastEventId };
}
