import type { Insertable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { ActivityRow, CustomerActivitiesTable } from './customer-accounts.table.js';

export interface ActivityFilter {
  accountId?: string;
  id?: string;
}

function filteredActivities(db: Executor, workspaceId: string, filter: ActivityFilter) {
  let query = db.selectFrom('customer_activities').where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null);
  if (filter.accountId !== undefined) query = query.where('account_id', '=', filter.accountId);
  if (filter.id !== undefined) query = query.where('id', '=', filter.id);
  return query;
}

/** One page, newest first (ids are UUID v7), and the total of the filter. */
export async function listActivities(
  db: Executor,
  workspaceId: string,
  filter: ActivityFilter,
  page: { offset: number; limit: number },
): Promise<{ rows: ActivityRow[]; total: number }> {
  const [rows, count] = await Promise.all([
    filteredActivities(db, workspaceId, filter).selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute(),
    filteredActivities(db, workspaceId, filter)
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.count) };
}

/** A live activity; `forUpdate` locks its row for the rest of the transaction (PostgreSQL only). */
export function findActivity(db: Executor, workspaceId: string, id: string, forUpdate = false): Promise<ActivityRow | undefined> {
  const query = filteredActivities(db, workspaceId, { id }).selectAll();
  return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

export function insertActivity(db: Executor, row: Insertable<CustomerActivitiesTable>): Promise<ActivityRow> {
  return db.insertInto('customer_activities').values(row).returningAll().executeTakeFirstOrThrow();
}

export function updateActivity(db: Executor, workspaceId: string, id: string, values: Updateable<CustomerActivitiesTable>): Promise<ActivityRow> {
  return db
    .updateTable('customer_activities')
    .set(values)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Soft-deletes the activity and unlinks the live tasks that pointed at it. Run it in a transaction. */
export async function softDeleteActivity(db: Executor, workspaceId: string, id: string, at: string): Promise<void> {
  await db
    .updateTable('customer_activities')
    .set({ deleted_at: at, updated_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .execute();
  await db
    .updateTable('customer_tasks')
    .set({ activity_id: null, updated_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('activity_id', '=', id)
    .where('deleted_at', 'is', null)
    .execute();
}

/** Account names by id for responses (deleted accounts included: their records are gone too). */
export async function accountNamesByIds(db: Executor, workspaceId: string, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('customer_accounts')
    .select(['id', 'name'])
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', [...new Set(ids)])
    .execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}
