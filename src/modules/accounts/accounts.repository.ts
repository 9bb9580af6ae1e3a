import type { Insertable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedQuery } from '../../db/prepared.js';
import { containsText } from '../../db/values.js';
import type { AccountRow, AccountScope, ConnectedAccountsTable, OAuth2StateRow, OAuth2StatesTable } from './accounts.table.js';

/** Accounts of the workspace the user may use: their own and the public ones. */
export function usableAccountsQuery(db: Executor, workspaceId: string, userId: number) {
  return db
    .selectFrom('connected_accounts as a')
    .where('a.workspace_id', '=', workspaceId)
    .where((eb) => eb.or([eb('a.user_id', '=', userId), eb('a.scope', '=', 'public')]));
}

export interface AccountListFilter {
  search?: string;
  providerId?: string;
  scope?: AccountScope;
  mine?: boolean;
}

export function listAccountsQuery(db: Executor, workspaceId: string, userId: number, filter: AccountListFilter) {
  let query = usableAccountsQuery(db, workspaceId, userId);
  if (filter.search) query = query.where(containsText('a.provider_display_name', filter.search));
  if (filter.providerId) query = query.where('a.provider_id', '=', filter.providerId);
  if (filter.scope) query = query.where('a.scope', '=', filter.scope);
  if (filter.mine) query = query.where('a.user_id', '=', userId);
  return query;
}

const usableAccount = preparedQuery((db, p: { workspaceId: string; userId: number; id: string }) =>
  usableAccountsQuery(db, p.workspaceId, p.userId).selectAll('a').where('a.id', '=', p.id),
);

export async function findUsableAccount(db: Executor, workspaceId: string, userId: number, id: string): Promise<AccountRow | undefined> {
  const [row] = await usableAccount(db, { workspaceId, userId, id });
  return row;
}

export function insertAccount(db: Executor, values: Insertable<ConnectedAccountsTable>): Promise<AccountRow> {
  return db.insertInto('connected_accounts').values(values).returningAll().executeTakeFirstOrThrow();
}

export function updateAccount(db: Executor, workspaceId: string, id: string, values: Updateable<ConnectedAccountsTable>): Promise<AccountRow> {
  return db
    .updateTable('connected_accounts')
    .set(values)
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteAccount(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('connected_accounts').where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
}

export async function insertOAuth2State(db: Executor, values: Insertable<OAuth2StatesTable>): Promise<void> {
  await db.insertInto('oauth2_states').values(values).execute();
}

/** Takes a state out of the table: a state is good for one callback only. */
export function consumeOAuth2State(db: Executor, id: string): Promise<OAuth2StateRow | undefined> {
  return db.deleteFrom('oauth2_states').where('id', '=', id).returningAll().executeTakeFirst();
}

export async function deleteExpiredOAuth2States(db: Executor, before: string): Promise<void> {
  await db.deleteFrom('oauth2_states').where('expires_at', '<', before).execute();
}

/** Accounts per workspace the user may use there (workspace metrics). */
export async function countUsableAccountsByWorkspace(
  db: Executor,
  userId: number,
  workspaceIds: readonly string[],
): Promise<Map<string, number>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('connected_accounts')
    .select(['workspace_id', (eb) => eb.fn.countAll<number>().as('count')])
    .where('workspace_id', 'in', [...workspaceIds])
    .where((eb) => eb.or([eb('user_id', '=', userId), eb('scope', '=', 'public')]))
    .groupBy('workspace_id')
    .execute();
  return new Map(rows.map((r) => [r.workspace_id, Number(r.count)]));
}
