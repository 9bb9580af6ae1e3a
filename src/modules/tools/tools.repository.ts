import type { Insertable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { containsText, fromJson } from '../../db/values.js';
import { usableAccountsQuery } from '../accounts/accounts.repository.js';
import { visibleProvidersQuery } from '../providers/providers.repository.js';
import type { AccountRow } from '../accounts/accounts.table.js';
import type { StoredToolKind, ToolRow, ToolsTable } from './tools.table.js';

export interface ToolViewer {
  workspaceId: string;
  userId: number;
}

/** A stored tool with what the catalog shows of its provider. */
export type ToolListRow = ToolRow & { provider_slug: string; provider_enabled: unknown };

/**
 * Stored tools a member of the workspace sees: HTTP tools of the providers they see (the
 * providers' own visibility rules), and MCP tools of the workspace's accounts they may use.
 */
export function visibleToolsQuery(db: Executor, viewer: ToolViewer) {
  return db
    .selectFrom('tools as t')
    .innerJoin('providers as tp', 'tp.id', 't.provider_id')
    .where((eb) =>
      eb.or([
        eb.and([eb('t.kind', '=', 'http'), eb('t.provider_id', 'in', visibleProvidersQuery(db, viewer).select('p.id'))]),
        eb.and([
          eb('t.kind', '=', 'mcp'),
          eb('t.workspace_id', '=', viewer.workspaceId),
          eb('t.account_id', 'in', usableAccountsQuery(db, viewer.workspaceId, viewer.userId).select('a.id')),
        ]),
      ]),
    );
}

export interface ToolListFilter {
  kind?: StoredToolKind;
  providerId?: string;
  accountId?: string;
  group?: string;
  search?: string;
}

export function listToolsQuery(db: Executor, viewer: ToolViewer, filter: ToolListFilter) {
  let query = visibleToolsQuery(db, viewer);
  if (filter.kind) query = query.where('t.kind', '=', filter.kind);
  if (filter.providerId) query = query.where('t.provider_id', '=', filter.providerId);
  if (filter.accountId) {
    const accountId = filter.accountId;
    query = query.where((eb) => eb.or([eb('t.account_id', '=', accountId), eb('t.default_account_id', '=', accountId)]));
  }
  if (filter.group) query = query.where('tp.slug', '=', filter.group);
  if (filter.search) {
    const search = filter.search;
    query = query.where((eb) => eb.or([containsText('t.name', search), containsText('t.display_name', search), containsText('t.description', search)]));
  }
  return query;
}

function withProvider<Q extends ReturnType<typeof visibleToolsQuery>>(query: Q) {
  return query.selectAll('t').select(['tp.slug as provider_slug', 'tp.is_enabled as provider_enabled']);
}

export function findVisibleTool(db: Executor, viewer: ToolViewer, id: string): Promise<ToolListRow | undefined> {
  return withProvider(visibleToolsQuery(db, viewer)).where('t.id', '=', id).executeTakeFirst() as Promise<ToolListRow | undefined>;
}

export async function findVisibleTools(db: Executor, viewer: ToolViewer, ids: readonly string[]): Promise<ToolListRow[]> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return [];
  return (await withProvider(visibleToolsQuery(db, viewer)).where('t.id', 'in', unique).execute()) as ToolListRow[];
}

export function selectListColumns(query: ReturnType<typeof visibleToolsQuery>) {
  return withProvider(query);
}

export async function httpNameTaken(db: Executor, workspaceId: string, providerId: string, name: string, exceptId?: string): Promise<boolean> {
  let query = db
    .selectFrom('tools')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('provider_id', '=', providerId)
    .where('kind', '=', 'http')
    .where('name', '=', name);
  if (exceptId) query = query.where('id', '!=', exceptId);
  return (await query.executeTakeFirst()) !== undefined;
}

export function insertTool(db: Executor, values: Insertable<ToolsTable>): Promise<ToolRow> {
  return db.insertInto('tools').values(values).returningAll().executeTakeFirstOrThrow();
}

export function updateTool(db: Executor, workspaceId: string, id: string, values: Updateable<ToolsTable>): Promise<ToolRow> {
  return db.updateTable('tools').set(values).where('id', '=', id).where('workspace_id', '=', workspaceId).returningAll().executeTakeFirstOrThrow();
}

export async function deleteTool(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('tools').where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
}

/** The MCP tools an account's server listed, for replacing them after a verification. */
export function findMcpToolsOfAccount(db: Executor, workspaceId: string, accountId: string): Promise<ToolRow[]> {
  return db.selectFrom('tools').selectAll().where('workspace_id', '=', workspaceId).where('account_id', '=', accountId).where('kind', '=', 'mcp').execute();
}

export async function deleteToolsByIds(db: Executor, workspaceId: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.deleteFrom('tools').where('workspace_id', '=', workspaceId).where('id', 'in', [...ids]).execute();
}

/** The server's own name of an MCP tool (`config.name`). */
export function mcpServerNameOf(row: ToolRow): string {
  return fromJson<{ name?: string }>(row.config)?.name ?? row.name;
}

/** An account of the workspace by id, whoever owns it (a tool's default account). */
export function findWorkspaceAccount(db: Executor, workspaceId: string, id: string): Promise<AccountRow | undefined> {
  return db.selectFrom('connected_accounts').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
}

/** The newest verified account of a provider that the user may use in the workspace. */
export function findNewestVerifiedAccount(db: Executor, workspaceId: string, userId: number, providerId: string): Promise<AccountRow | undefined> {
  return usableAccountsQuery(db, workspaceId, userId)
    .selectAll('a')
    .where('a.provider_id', '=', providerId)
    .where('a.verification_status', '=', 'verified')
    .orderBy('a.id', 'desc')
    .limit(1)
    .executeTakeFirst();
}
