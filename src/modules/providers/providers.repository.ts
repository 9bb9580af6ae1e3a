import type { Insertable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedQuery } from '../../db/prepared.js';
import { containsText } from '../../db/values.js';
import type { ProviderRow, ProvidersTable, ProviderType, AuthenticationStrategy } from './providers.table.js';

export interface ProviderViewer {
  workspaceId: string;
  userId: number;
}

/**
 * Providers a member of the workspace sees: the official catalog, the workspace's own (private
 * ones to their creator only) and custom providers other workspaces made public.
 */
export function visibleProvidersQuery(db: Executor, viewer: ProviderViewer) {
  return db.selectFrom('providers as p').where((eb) =>
    eb.or([
      eb('p.workspace_id', 'is', null),
      eb('p.visibility', '=', 'public'),
      eb.and([
        eb('p.workspace_id', '=', viewer.workspaceId),
        eb.or([eb('p.visibility', '!=', 'private'), eb('p.user_id', '=', viewer.userId)]),
      ]),
    ]),
  );
}

export interface ProviderListFilter {
  search?: string;
  type?: ProviderType;
  isOfficial?: boolean;
  strategy?: AuthenticationStrategy;
}

export function listProvidersQuery(db: Executor, viewer: ProviderViewer, filter: ProviderListFilter) {
  let query = visibleProvidersQuery(db, viewer);
  if (filter.search) {
    const search = filter.search;
    query = query.where((eb) => eb.or([containsText('p.name', search), containsText('p.slug', search), containsText('p.description', search)]));
  }
  if (filter.type) query = query.where('p.type', '=', filter.type);
  if (filter.isOfficial !== undefined) query = query.where('p.is_official', '=', filter.isOfficial);
  if (filter.strategy) query = query.where('p.authentication_strategy', '=', filter.strategy);
  return query;
}

/** A provider the viewer may see, or undefined (another workspace's is not revealed). */
export function findVisibleProvider(db: Executor, viewer: ProviderViewer, id: string): Promise<ProviderRow | undefined> {
  return visibleProvidersQuery(db, viewer).selectAll('p').where('p.id', '=', id).executeTakeFirst();
}

/** Any provider by id, for rows that already reference it (an account's provider). */
const providerById = preparedQuery((db, p: { id: string }) => db.selectFrom('providers').selectAll().where('id', '=', p.id));

export async function findProviderById(db: Executor, id: string): Promise<ProviderRow | undefined> {
  const [row] = await providerById(db, { id });
  return row;
}

export async function findProvidersByIds(db: Executor, ids: readonly string[]): Promise<ProviderRow[]> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return [];
  if (unique.length === 1) return providerById(db, { id: unique[0]! });
  return db.selectFrom('providers').selectAll().where('id', 'in', unique).execute();
}

/** Id, workspace and version of providers: enough to know whether a cached resource is current. */
export function findProviderVersions(db: Executor, ids: readonly string[]) {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return Promise.resolve([]);
  return db.selectFrom('providers').select(['id', 'workspace_id', 'updated_at']).where('id', 'in', unique).execute();
}

export async function slugTaken(db: Executor, workspaceId: string, slug: string, exceptId?: string): Promise<boolean> {
  let query = db
    .selectFrom('providers')
    .select('id')
    .where('slug', '=', slug)
    .where((eb) => eb.or([eb('workspace_id', 'is', null), eb('workspace_id', '=', workspaceId)]));
  if (exceptId) query = query.where('id', '!=', exceptId);
  return (await query.executeTakeFirst()) !== undefined;
}

export function insertProvider(db: Executor, values: Insertable<ProvidersTable>): Promise<ProviderRow> {
  return db.insertInto('providers').values(values).returningAll().executeTakeFirstOrThrow();
}

export function updateProvider(db: Executor, workspaceId: string, id: string, values: Updateable<ProvidersTable>): Promise<ProviderRow> {
  return db
    .updateTable('providers')
    .set(values)
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteProvider(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('providers').where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
}

export async function countAccountsOfProvider(db: Executor, providerId: string): Promise<number> {
  const row = await db
    .selectFrom('connected_accounts')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('provider_id', '=', providerId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Custom providers per workspace the caller sees there (workspace metrics). */
export async function countCustomProvidersByWorkspace(
  db: Executor,
  userId: number,
  workspaceIds: readonly string[],
): Promise<Map<string, number>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('providers')
    .select(['workspace_id', (eb) => eb.fn.countAll<number>().as('count')])
    .where('workspace_id', 'in', [...workspaceIds])
    .where((eb) => eb.or([eb('visibility', '!=', 'private'), eb('user_id', '=', userId)]))
    .groupBy('workspace_id')
    .execute();
  return new Map(rows.map((r) => [r.workspace_id as string, Number(r.count)]));
}
