import { sql, type Insertable, type Updateable } from 'kysely';
import type { Dialect, Executor } from '../../db/database.js';
import { transactionLock } from '../../db/locks.js';
import { containsText } from '../../db/values.js';
import {
  TASK_STATUSES,
  type CommandRoomEventRow,
  type CommandRoomTaskRow,
  type CommandRoomTasksTable,
  type TaskLinkType,
  type TaskStatus,
} from './command-room.table.js';

/**
 * Serializes the board writes of one workspace until the caller's transaction ends. Every write
 * takes it first: positions are read and shifted under it, and the event row is inserted under
 * it, so event ids of a workspace are allocated (and committed) in the order the changes commit.
 * On SQLite one write transaction runs at a time already.
 */
export function lockBoard(trx: Executor, dialect: Dialect, workspaceId: string): Promise<void> {
  return transactionLock(trx, dialect, `command-room:${workspaceId}`);
}

export function findTask(db: Executor, workspaceId: string, id: string): Promise<CommandRoomTaskRow | undefined> {
  return db.selectFrom('command_room_tasks').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
}

export async function countColumn(db: Executor, workspaceId: string, status: TaskStatus): Promise<number> {
  const row = await db
    .selectFrom('command_room_tasks')
    .select(sql<number>`count(*)`.as('count'))
    .where('workspace_id', '=', workspaceId)
    .where('status', '=', status)
    .executeTakeFirst();
  return Number(row?.count ?? 0);
}

/** Adds `delta` to the positions of a column from `from` (inclusive) to `to` (inclusive, open when undefined). */
export async function shiftColumn(db: Executor, workspaceId: string, status: TaskStatus, delta: 1 | -1, from: number, to?: number): Promise<void> {
  let query = db
    .updateTable('command_room_tasks')
    .set({ position: sql`position + ${delta}` })
    .where('workspace_id', '=', workspaceId)
    .where('status', '=', status)
    .where('position', '>=', from);
  if (to !== undefined) query = query.where('position', '<=', to);
  await query.execute();
}

export function insertTask(db: Executor, values: Insertable<CommandRoomTasksTable>): Promise<CommandRoomTaskRow> {
  return db.insertInto('command_room_tasks').values(values).returningAll().executeTakeFirstOrThrow();
}

export function updateTask(db: Executor, workspaceId: string, id: string, values: Updateable<CommandRoomTasksTable>): Promise<CommandRoomTaskRow> {
  return db
    .updateTable('command_room_tasks')
    .set(values)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteTask(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('command_room_tasks').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
}

/** Appends a board change; the caller holds the board lock (see lockBoard). */
export async function insertEvent(db: Executor, values: { workspaceId: string; taskId: string; type: string; data: string; at: string }): Promise<number> {
  const row = await db
    .insertInto('command_room_events')
    .values({ workspace_id: values.workspaceId, task_id: values.taskId, type: values.type, data: values.data, created_at: values.at })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export interface TaskListFilter {
  search?: string;
  status?: TaskStatus;
  assigneeId?: number;
  linkType?: TaskLinkType;
}

export function listTasksQuery(db: Executor, workspaceId: string, filter: TaskListFilter) {
  let query = db.selectFrom('command_room_tasks as t').where('t.workspace_id', '=', workspaceId);
  if (filter.status) query = query.where('t.status', '=', filter.status);
  if (filter.assigneeId !== undefined) query = query.where('t.assignee_id', '=', filter.assigneeId);
  if (filter.linkType) query = query.where('t.link_type', '=', filter.linkType);
  if (filter.search) {
    const search = filter.search;
    query = query.where((eb) => eb.or([containsText('t.title', search), containsText('t.description', search)]));
  }
  return query;
}

/** The board's order: columns as TASK_STATUSES lists them, then position. */
export const columnRank = sql<number>`case t.status ${sql.join(
  TASK_STATUSES.map((status, index) => sql`when ${sql.lit(status)} then ${sql.lit(index)}`),
  sql` `,
)} end`;

/** Board changes of a workspace after `afterId`, oldest first. */
export function findEventsAfter(db: Executor, workspaceId: string, afterId: number, limit: number): Promise<CommandRoomEventRow[]> {
  return db
    .selectFrom('command_room_events')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '>', afterId)
    .orderBy('id', 'asc')
    .limit(limit)
    .execute();
}

export async function latestEventId(db: Executor, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('command_room_events')
    .select(sql<number | null>`max(id)`.as('id'))
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  return Number(row?.id ?? 0);
}

export async function eventExists(db: Executor, workspaceId: string, id: number): Promise<boolean> {
  const row = await db.selectFrom('command_room_events').select('id').where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
  return row !== undefined;
}

/** Tasks that follow any of these ids (an execution, its workflow; a run's thread or agent), in one workspace. */
export function findTasksLinkedTo(db: Executor, workspaceId: string, links: ReadonlyArray<{ type: TaskLinkType; id: string }>): Promise<CommandRoomTaskRow[]> {
  if (links.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('command_room_tasks')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('link_id', 'in', links.map((l) => l.id))
    .where((eb) => eb.or(links.map((l) => eb.and([eb('link_type', '=', l.type), eb('link_id', '=', l.id)]))))
    .execute();
}

/** Whether any task follows one of these ids: the cheap check before following a run. */
export async function anyTaskLinkedTo(db: Executor, workspaceId: string, ids: readonly string[]): Promise<boolean> {
  const row = await db
    .selectFrom('command_room_tasks')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('link_id', 'in', ids)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Tasks following an execution or run that has not ended yet (the reconcile pass). */
export function findActiveFollowers(db: Executor, limit: number): Promise<CommandRoomTaskRow[]> {
  return db
    .selectFrom('command_room_tasks')
    .selectAll()
    .where('followed_id', 'is not', null)
    .where('followed_status', 'in', ['queued', 'running', 'waiting'])
    .limit(limit)
    .execute();
}

/** What a link shows: the target's name, and who may see it (private targets). */
export interface LinkTarget {
  id: string;
  name: string | null;
  visibility: string;
  user_id: number | null;
}

export async function findLinkTargets(db: Executor, workspaceId: string, type: TaskLinkType, ids: readonly string[]): Promise<LinkTarget[]> {
  if (ids.length === 0) return [];
  const unique = [...new Set(ids)];
  switch (type) {
    case 'agent':
      return db.selectFrom('agents').select(['id', 'name', 'visibility', 'user_id']).where('workspace_id', '=', workspaceId).where('id', 'in', unique).execute();
    case 'workflow':
      return db.selectFrom('workflows').select(['id', 'name', 'visibility', 'user_id']).where('workspace_id', '=', workspaceId).where('id', 'in', unique).execute();
    case 'thread':
      return db.selectFrom('threads').select(['id', 'name', 'visibility', 'user_id']).where('workspace_id', '=', workspaceId).where('id', 'in', unique).execute();
    case 'execution':
      return db
        .selectFrom('workflow_executions as e')
        .innerJoin('workflows as w', 'w.id', 'e.workflow_id')
        .select(['e.id as id', 'w.name as name', 'w.visibility as visibility', 'w.user_id as user_id'])
        .where('e.workspace_id', '=', workspaceId)
        .where('e.id', 'in', unique)
        .execute();
  }
}

/** Deletes events older than `before`, and beyond the newest `keep` of each workspace, in batches. */
export async function pruneEvents(db: Executor, before: string, keep: number, batch: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const ids = (await db.selectFrom('command_room_events').select('id').where('created_at', '<', before).limit(batch).execute()).map((r) => r.id);
    if (ids.length === 0) break;
    await db.deleteFrom('command_room_events').where('id', 'in', ids).execute();
    deleted += ids.length;
    if (ids.length < batch) break;
  }
  const crowded = await db
    .selectFrom('command_room_events')
    .select(['workspace_id', sql<number>`count(*)`.as('count')])
    .groupBy('workspace_id')
    .having(sql<number>`count(*)`, '>', keep)
    .execute();
  for (const { workspace_id: workspaceId } of crowded) {
    // The id of the newest event past the ones kept: it and everything older goes.
    const cutoff = await db
      .selectFrom('command_room_events')
      .select('id')
      .where('workspace_id', '=', workspaceId)
      .orderBy('id', 'desc')
      .offset(keep)
      .limit(1)
      .executeTakeFirst();
    if (!cutoff) continue;
    for (;;) {
      const ids = (
        await db
          .selectFrom('command_room_events')
          .select('id')
          .where('workspace_id', '=', workspaceId)
          .where('id', '<=', cutoff.id)
          .limit(batch)
          .execute()
      ).map((r) => r.id);
      if (ids.length === 0) break;
      await db.deleteFrom('command_room_events').where('id', 'in', ids).execute();
      deleted += ids.length;
      if (ids.length < batch) break;
    }
  }
  return deleted;
}
