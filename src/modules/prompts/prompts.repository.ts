import type { Insertable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { containsText } from '../../db/values.js';
import type { PromptRow, PromptsTable, PromptVersionRow, PromptVersionsTable, PromptVisibility } from './prompts.table.js';

/** Prompts of the workspace the user sees: every non-private one, and their own private ones. */
export function visiblePromptsQuery(db: Executor, workspaceId: string, userId: number) {
  return db
    .selectFrom('prompts as p')
    .where('p.workspace_id', '=', workspaceId)
    .where((eb) => eb.or([eb('p.visibility', '!=', 'private'), eb('p.user_id', '=', userId)]));
}

export interface PromptListFilter {
  search?: string;
  visibility?: PromptVisibility;
  mine?: boolean;
}

export function listPromptsQuery(db: Executor, workspaceId: string, userId: number, filter: PromptListFilter) {
  let query = visiblePromptsQuery(db, workspaceId, userId);
  if (filter.search) {
    const search = filter.search;
    query = query.where((eb) => eb.or([containsText('p.name', search), containsText('p.description', search)]));
  }
  if (filter.visibility) query = query.where('p.visibility', '=', filter.visibility);
  if (filter.mine) query = query.where('p.user_id', '=', userId);
  return query;
}

/**
 * A prompt of the workspace the user sees. `forUpdate` locks its row until the end of the
 * caller's transaction (PostgreSQL only: SQLite has a single writer).
 */
export function findVisiblePrompt(
  db: Executor,
  workspaceId: string,
  userId: number,
  id: string,
  forUpdate = false,
): Promise<PromptRow | undefined> {
  const query = visiblePromptsQuery(db, workspaceId, userId).selectAll('p').where('p.id', '=', id);
  return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

/**
 * A public prompt of any workspace. The one lookup without a workspace: `public` means any
 * signed-in user of the instance may read the prompt by its uuid.
 */
export function findPublicPrompt(db: Executor, id: string): Promise<PromptRow | undefined> {
  return db.selectFrom('prompts').selectAll().where('id', '=', id).where('visibility', '=', 'public').executeTakeFirst();
}

export function insertPrompt(db: Executor, values: Insertable<PromptsTable>): Promise<PromptRow> {
  return db.insertInto('prompts').values(values).returningAll().executeTakeFirstOrThrow();
}

export function updatePrompt(db: Executor, workspaceId: string, id: string, values: Updateable<PromptsTable>): Promise<PromptRow> {
  return db
    .updateTable('prompts')
    .set(values)
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Deletes the prompt; its versions go with it (foreign key cascade). */
export async function deletePrompt(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('prompts').where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
}

export async function insertPromptVersion(db: Executor, values: Insertable<PromptVersionsTable>): Promise<void> {
  await db.insertInto('prompt_versions').values(values).execute();
}

export function promptVersionsQuery(db: Executor, workspaceId: string, promptId: string) {
  return db.selectFrom('prompt_versions as v').where('v.workspace_id', '=', workspaceId).where('v.prompt_id', '=', promptId);
}

export function findPromptVersion(db: Executor, workspaceId: string, promptId: string, version: number): Promise<PromptVersionRow | undefined> {
  return promptVersionsQuery(db, workspaceId, promptId).selectAll('v').where('v.version', '=', version).executeTakeFirst();
}

/** Prompts per workspace the user sees there (workspace metrics). */
export async function countVisiblePromptsByWorkspace(
  db: Executor,
  userId: number,
  workspaceIds: readonly string[],
): Promise<Map<string, number>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('prompts')
    .select(['workspace_id', (eb) => eb.fn.countAll<number>().as('count')])
    .where('workspace_id', 'in', [...workspaceIds])
    .where((eb) => eb.or([eb('visibility', '!=', 'private'), eb('user_id', '=', userId)]))
    .groupBy('workspace_id')
    .execute();
  return new Map(rows.map((r) => [r.workspace_id, Number(r.count)]));
}
