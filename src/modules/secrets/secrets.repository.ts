import type { Insertable } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { WorkspaceKeyRow, WorkspaceKeysTable } from './secrets.table.js';

export function findWorkspaceKey(db: Executor, workspaceId: string): Promise<WorkspaceKeyRow | undefined> {
  return db.selectFrom('workspace_keys').selectAll().where('workspace_id', '=', workspaceId).executeTakeFirst();
}

export function findWorkspaceKeyById(db: Executor, workspaceId: string, id: string): Promise<WorkspaceKeyRow | undefined> {
  return db.selectFrom('workspace_keys').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
}

export async function insertWorkspaceKey(db: Executor, values: Insertable<WorkspaceKeysTable>): Promise<void> {
  await db.insertInto('workspace_keys').values(values).execute();
}

/** Ids of every master key that wraps a stored data key. */
export async function masterKeyIdsInUse(db: Executor): Promise<string[]> {
  const rows = await db.selectFrom('workspace_keys').select('master_key_id').distinct().execute();
  return rows.map((r) => r.master_key_id);
}

/** Data keys not wrapped by the given master key (rotation work). */
export function keysNotWrappedBy(db: Executor, masterKeyId: string): Promise<WorkspaceKeyRow[]> {
  return db.selectFrom('workspace_keys').selectAll().where('master_key_id', '!=', masterKeyId).execute();
}

export async function rewrapWorkspaceKey(db: Executor, id: string, wrapped: string, masterKeyId: string, at: string): Promise<void> {
  await db.updateTable('workspace_keys').set({ wrapped_key: wrapped, master_key_id: masterKeyId, updated_at: at }).where('id', '=', id).execute();
}
