import type { Insertable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { CustomerTasksTable, TaskRow } from './customer-accounts.table.js';

export interface TaskFilter {
  accountId?: string;
  id?: string;
  assigneeId?: number;
  statusId?: string;
  priorityId?: string;
}

function filteredTasks(db: Executor, workspaceId: string, filter: TaskFilter) {
  let query = db.selectFrom('customer_tasks').where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null);
  if (filter.accountId !== undefined) query = query.where('account_id', '=', filter.accountId);
  if (filter.id !== undefined) query = query.where('id', '=', filter.id);
  if (filter.assigneeId !== undefined) query = query.where('assignee_id', '=', filter.assigneeId);
  if (filter.statusId !== undefined) query = query.where('status_id', '=', filter.statusId);
  if (filter.priorityId !== undefined) query = query.where('priority_id', '=', filter.priorityId);
  return query;
}

/** One page, newest first (ids are UUID v7), and the total of the filter. */
export async function listTasks(
  db: Executor,
  workspaceId: string,
  filter: TaskFilter,
  page: { offset: number; limit: number },
): Promise<{ rows: TaskRow[]; total: number }> {
  const [rows, count] = await Promise.all([
    filteredTasks(db, workspaceId, filter).selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute(),
    filteredTasks(db, workspaceId, filter)
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.count) };
}

/** A live task; `forUpdate` locks its row for the rest of the transaction (PostgreSQL only). */
export function findTask(db: Executor, workspaceId: string, id: string, forUpdate = false): Promise<TaskRow | undefined> {
  const query = filteredTasks(db, workspaceId, { id }).selectAll();
  return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

export function insertTask(db: Executor, row: Insertable<CustomerTasksTable>): Promise<TaskRow> {
  return db.insertInto('customer_tasks').values(row).returningAll().executeTakeFirstOrThrow();
}

export function updateTask(db: Executor, workspaceId: string, id: string, values: Updateable<CustomerTasksTable>): Promise<TaskRow> {
  return db
    .updateTable('customer_tasks')
    .set(values)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function softDeleteTask(db: Executor, workspaceId: string, id: string, at: string): Promise<void> {
  await db
    .updateTable('customer_tasks')
    .set({ deleted_at: at, updated_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .execute();
}
