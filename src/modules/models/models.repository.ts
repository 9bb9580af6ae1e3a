import type { Insertable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { containsText, isUuid } from '../../db/values.js';
import type { ModelRow, ModelsTable } from './models.table.js';
import type { Capability } from './models.schemas.js';

const CAPABILITY_COLUMNS = {
  tools: 'm.supports_tools',
  vision: 'm.supports_vision',
  json: 'm.supports_json',
  streaming: 'm.supports_streaming',
} as const;

/** The official catalog and the models listed by accounts the user may use in the workspace. */
export function visibleModelsQuery(db: Executor, workspaceId: string, userId: number) {
  return db
    .selectFrom('models as m')
    .innerJoin('providers as p', 'p.id', 'm.provider_id')
    .leftJoin('connected_accounts as a', 'a.id', 'm.account_id')
    .where((eb) =>
      eb.or([
        eb.and([eb('m.account_id', 'is', null), eb('m.workspace_id', 'is', null)]),
        eb.and([
          eb('m.workspace_id', '=', workspaceId),
          eb('a.workspace_id', '=', workspaceId),
          eb.or([eb('a.user_id', '=', userId), eb('a.scope', '=', 'public')]),
        ]),
      ]),
    );
}

export interface ModelListFilter {
  search?: string;
  provider?: string;
  capability?: Capability;
  accountId?: string;
  isOfficial?: boolean;
}

export function listModelsQuery(db: Executor, workspaceId: string, userId: number, filter: ModelListFilter) {
  let query = visibleModelsQuery(db, workspaceId, userId);
  if (filter.search) {
    const search = filter.search;
    query = query.where((eb) => eb.or([containsText('m.name', search), containsText('m.model_id', search)]));
  }
  if (filter.provider) {
    query = isUuid(filter.provider) ? query.where('m.provider_id', '=', filter.provider.toLowerCase()) : query.where('p.slug', '=', filter.provider);
  }
  if (filter.capability) query = query.where(CAPABILITY_COLUMNS[filter.capability], '=', true);
  if (filter.accountId) query = query.where('m.account_id', '=', filter.accountId);
  if (filter.isOfficial !== undefined) query = query.where('m.is_official', '=', filter.isOfficial);
  return query;
}

export function findVisibleModel(db: Executor, workspaceId: string, userId: number, id: string): Promise<ModelRow | undefined> {
  return visibleModelsQuery(db, workspaceId, userId).selectAll('m').where('m.id', '=', id).executeTakeFirst();
}

export async function deleteModelsOfAccount(db: Executor, workspaceId: string, accountId: string): Promise<void> {
  await db.deleteFrom('models').where('workspace_id', '=', workspaceId).where('account_id', '=', accountId).execute();
}

export async function insertModels(db: Executor, rows: Insertable<ModelsTable>[]): Promise<void> {
  // Chunks keep each statement under SQLite's bound-parameter limit.
  for (let i = 0; i < rows.length; i += 50) await db.insertInto('models').values(rows.slice(i, i + 50)).execute();
}
