import { sql, type Insertable, type SqlBool, type Updateable } from 'kysely';
import type { Dialect, Executor } from '../../db/database.js';
import { preparedQuery } from '../../db/prepared.js';
import { likePattern } from '../../db/values.js';
import type { CustomerAccountRow, CustomerAccountsTable } from './customer-accounts.table.js';

export interface AccountFilter {
  statusId?: string;
  classificationId?: string;
  healthId?: string;
  industryId?: string;
  accountOwnerId?: number;
  search?: string;
}

/**
 * "Contains" on name and domains through each database's trigram index: pg_trgm on PostgreSQL,
 * the FTS5 trigram table on SQLite. Under three characters no trigram exists, so both fall back
 * to a scan of the workspace's accounts (still correct, rarely asked).
 */
export function accountSearch(dialect: Dialect, search: string) {
  const term = search.toLowerCase();
  if (dialect === 'postgres') {
    return sql<SqlBool>`lower(a.name || ' ' || a.primary_domain || ' ' || coalesce(a.secondary_domain, '')) like ${likePattern(term)} escape '\\'`;
  }
  if ([...term].length >= 3) {
    const phrase = `"${term.replace(/"/g, '""')}"`;
    return sql<SqlBool>`a.rowid in (select rowid from customer_accounts_fts where customer_accounts_fts match ${phrase})`;
  }
  return sql<SqlBool>`lower(a.name || ' ' || a.primary_domain || ' ' || coalesce(a.secondary_domain, '')) like ${likePattern(term)} escape '\\'`;
}

function filteredAccounts(db: Executor, dialect: Dialect, workspaceId: string, filter: AccountFilter) {
  let query = db.selectFrom('customer_accounts as a').where('a.workspace_id', '=', workspaceId).where('a.deleted_at', 'is', null);
  if (filter.statusId) query = query.where('a.status_id', '=', filter.statusId);
  if (filter.classificationId) query = query.where('a.classification_id', '=', filter.classificationId);
  if (filter.healthId) query = query.where('a.health_id', '=', filter.healthId);
  if (filter.industryId) query = query.where('a.industry_id', '=', filter.industryId);
  if (filter.accountOwnerId !== undefined) query = query.where('a.account_owner_id', '=', filter.accountOwnerId);
  if (filter.search) query = query.where(accountSearch(dialect, filter.search));
  return query;
}

function isUnfiltered(filter: AccountFilter): boolean {
  return Object.values(filter).every((value) => value === undefined);
}

const accountCounter = preparedQuery((db, p: { workspaceId: string }) =>
  db.selectFrom('customer_workspace_setups').select('account_count').where('workspace_id', '=', p.workspaceId),
);

/** The workspace's live accounts, from the counter its writes keep (undefined before seeding). */
async function storedAccountCount(db: Executor, workspaceId: string): Promise<number | undefined> {
  const [row] = await accountCounter(db, { workspaceId });
  return row === undefined ? undefined : Number(row.account_count);
}

/** The page every client asks for first (no filter), built once per database: it is the hot path. */
const unfilteredPage = preparedQuery((db, p: { workspaceId: string; limit: number; offset: number }) =>
  db
    .selectFrom('customer_accounts as a')
    .selectAll('a')
    .where('a.workspace_id', '=', p.workspaceId)
    .where('a.deleted_at', 'is', null)
    .orderBy('a.id', 'desc')
    .limit(p.limit)
    .offset(p.offset),
);

/** Moves the workspace's account counter, in the caller's transaction. */
async function adjustAccountCount(db: Executor, workspaceId: string, delta: number): Promise<void> {
  if (delta === 0) return;
  await db
    .updateTable('customer_workspace_setups')
    .set((eb) => ({ account_count: eb('account_count', '+', delta) }))
    .where('workspace_id', '=', workspaceId)
    .execute();
}

/**
 * One page, newest first (ids are UUID v7), and the total of the filter. Without filters the
 * total is the workspace's counter; with filters it is counted through the filter's index.
 */
export async function listAccounts(
  db: Executor,
  dialect: Dialect,
  workspaceId: string,
  filter: AccountFilter,
  page: { offset: number; limit: number },
): Promise<{ rows: CustomerAccountRow[]; total: number }> {
  const countRows = async () => {
    const row = await filteredAccounts(db, dialect, workspaceId, filter)
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  };
  if (isUnfiltered(filter)) {
    const [rows, total] = await Promise.all([
      unfilteredPage(db, { workspaceId, limit: page.limit, offset: page.offset }),
      storedAccountCount(db, workspaceId).then((count) => count ?? countRows()),
    ]);
    return { rows, total };
  }
  const [rows, total] = await Promise.all([
    filteredAccounts(db, dialect, workspaceId, filter).selectAll('a').orderBy('a.id', 'desc').limit(page.limit).offset(page.offset).execute(),
    countRows(),
  ]);
  return { rows, total };
}

export function findAccount(db: Executor, workspaceId: string, id: string): Promise<CustomerAccountRow | undefined> {
  return db
    .selectFrom('customer_accounts')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export function findAccountsByIds(db: Executor, workspaceId: string, ids: readonly string[]): Promise<CustomerAccountRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('customer_accounts')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', [...new Set(ids)])
    .where('deleted_at', 'is', null)
    .orderBy('id', 'desc')
    .execute();
}

/** Live accounts whose primary domain is one of these, case-insensitively. */
export function findAccountsByPrimaryDomains(db: Executor, workspaceId: string, domains: readonly string[]): Promise<CustomerAccountRow[]> {
  if (domains.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('customer_accounts')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where(sql<string>`lower(primary_domain)`, 'in', [...new Set(domains.map((d) => d.toLowerCase()))])
    .where('deleted_at', 'is', null)
    .orderBy('id', 'desc')
    .execute();
}

/** Inserts an account and counts it; run it in a transaction. */
export async function insertAccount(db: Executor, row: Insertable<CustomerAccountsTable>): Promise<CustomerAccountRow> {
  const inserted = await db.insertInto('customer_accounts').values(row).returningAll().executeTakeFirstOrThrow();
  await adjustAccountCount(db, row.workspace_id, 1);
  return inserted;
}

/**
 * Inserts many accounts of one workspace, a few hundred rows per statement (under SQLite's
 * parameter limit), and counts them; run it in a transaction.
 */
export async function insertAccounts(db: Executor, workspaceId: string, rows: Insertable<CustomerAccountsTable>[]): Promise<void> {
  for (let start = 0; start < rows.length; start += 250) {
    await db.insertInto('customer_accounts').values(rows.slice(start, start + 250)).execute();
  }
  await adjustAccountCount(db, workspaceId, rows.length);
}

export function updateAccount(
  db: Executor,
  workspaceId: string,
  id: string,
  values: Updateable<CustomerAccountsTable>,
): Promise<CustomerAccountRow> {
  return db
    .updateTable('customer_accounts')
    .set(values)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Soft-deletes the account (uncounting it) and what hangs off it: relationships, activities, notes, tasks. Run it in a transaction. */
export async function softDeleteAccount(db: Executor, workspaceId: string, id: string, at: string): Promise<void> {
  const deleted = await db
    .updateTable('customer_accounts')
    .set({ deleted_at: at, updated_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  await adjustAccountCount(db, workspaceId, -Number(deleted.numUpdatedRows));
  await db
    .updateTable('customer_account_relationships')
    .set({ deleted_at: at, updated_at: at })
    .where('workspace_id', '=', workspaceId)
    .where((eb) => eb.or([eb('account_id', '=', id), eb('related_account_id', '=', id)]))
    .where('deleted_at', 'is', null)
    .execute();
  for (const table of ['customer_activities', 'customer_notes', 'customer_tasks'] as const) {
    await db
      .updateTable(table)
      .set({ deleted_at: at, updated_at: at })
      .where('workspace_id', '=', workspaceId)
      .where('account_id', '=', id)
      .where('deleted_at', 'is', null)
      .execute();
  }
  await db.deleteFrom('customer_account_contacts').where('account_id', '=', id).execute();
}

/** Live customer accounts per workspace (workspace metrics), from the counters. */
export async function countAccountsByWorkspace(db: Executor, workspaceIds: readonly string[]): Promise<Map<string, number>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('customer_workspace_setups')
    .select(['workspace_id', 'account_count'])
    .where('workspace_id', 'in', [...workspaceIds])
    .execute();
  return new Map(rows.map((r) => [r.workspace_id, Number(r.account_count)]));
}

/** Live contacts per workspace (workspace metrics). */
export async function countContactsByWorkspace(db: Executor, workspaceIds: readonly string[]): Promise<Map<string, number>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('customer_contacts')
    .select(['workspace_id', (eb) => eb.fn.countAll<number>().as('count')])
    .where('workspace_id', 'in', [...workspaceIds])
    .where('deleted_at', 'is', null)
    .groupBy('workspace_id')
    .execute();
  return new Map(rows.map((r) => [r.workspace_id, Number(r.count)]));
}
