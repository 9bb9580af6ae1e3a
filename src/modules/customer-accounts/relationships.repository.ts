import { sql, type Insertable, type Updateable } from 'kysely';
import type { Dialect, Executor } from '../../db/database.js';
import { transactionLock } from '../../db/locks.js';
import type {
  AccountRelationshipRow,
  CustomerAccountRelationshipsTable,
  CustomerAccountRow,
  CustomerRelationshipTypesTable,
  RelationshipTypeRow,
} from './customer-accounts.table.js';

/**
 * Serialises changes to a workspace's relationship types on PostgreSQL for the rest of the
 * transaction: type writes take it exclusively, relationship writes shared, so a type cannot be
 * deleted or re-linked between being read and being used. SQLite has one writer already.
 */
export async function lockRelationshipTypes(db: Executor, dialect: Dialect, workspaceId: string, mode: 'exclusive' | 'shared'): Promise<void> {
  await transactionLock(db, dialect, `customer-relationship-types:${workspaceId}`, mode);
}

/**
 * Serialises relationship writes between two accounts (in either direction) on PostgreSQL, so
 * a relationship and its inverse are checked and written as one. Take it after the types lock.
 */
export async function lockAccountPair(db: Executor, dialect: Dialect, workspaceId: string, a: string, b: string): Promise<void> {
  const [first, second] = a < b ? [a, b] : [b, a];
  await transactionLock(db, dialect, `customer-relationship-pair:${workspaceId}:${first}:${second}`);
}

// Relationship types

export function listTypes(db: Executor, workspaceId: string): Promise<RelationshipTypeRow[]> {
  return db
    .selectFrom('customer_relationship_types')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .orderBy(sql`lower(name)`)
    .orderBy('id')
    .execute();
}

export function findType(db: Executor, workspaceId: string, id: string): Promise<RelationshipTypeRow | undefined> {
  return db
    .selectFrom('customer_relationship_types')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

/** The live type with this name, case-insensitively. */
export function findTypeByName(db: Executor, workspaceId: string, name: string): Promise<RelationshipTypeRow | undefined> {
  return db
    .selectFrom('customer_relationship_types')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where(sql<string>`lower(name)`, '=', name.toLowerCase())
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

/** Types by id for building responses (deleted ones included). */
export function findTypesByIds(db: Executor, workspaceId: string, ids: readonly string[]): Promise<RelationshipTypeRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('customer_relationship_types')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', [...new Set(ids)])
    .execute();
}

export function insertType(db: Executor, row: Insertable<CustomerRelationshipTypesTable>): Promise<RelationshipTypeRow> {
  return db.insertInto('customer_relationship_types').values(row).returningAll().executeTakeFirstOrThrow();
}

export function updateType(
  db: Executor,
  workspaceId: string,
  id: string,
  values: Updateable<CustomerRelationshipTypesTable>,
): Promise<RelationshipTypeRow> {
  return db
    .updateTable('customer_relationship_types')
    .set(values)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Clears the inverse pointer of every live type of the workspace that points to `id`, except `id` itself. */
export async function clearInversesPointingTo(db: Executor, workspaceId: string, id: string, at: string): Promise<void> {
  await db
    .updateTable('customer_relationship_types')
    .set({ inverse_relationship_id: null, updated_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('inverse_relationship_id', '=', id)
    .where('id', '!=', id)
    .where('deleted_at', 'is', null)
    .execute();
}

/** Live relationships of this type. */
export async function countRelationshipsOfType(db: Executor, workspaceId: string, typeId: string): Promise<number> {
  const row = await db
    .selectFrom('customer_account_relationships')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('workspace_id', '=', workspaceId)
    .where('relationship_type_id', '=', typeId)
    .where('deleted_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

// Relationships

/** One page of the relationships starting from an account, newest first (ids are UUID v7), and their total. */
export async function listRelationships(
  db: Executor,
  workspaceId: string,
  accountId: string,
  page: { offset: number; limit: number },
): Promise<{ rows: AccountRelationshipRow[]; total: number }> {
  const base = db
    .selectFrom('customer_account_relationships')
    .where('workspace_id', '=', workspaceId)
    .where('account_id', '=', accountId)
    .where('deleted_at', 'is', null);
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute(),
    base.select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.count) };
}

export function findRelationship(db: Executor, workspaceId: string, id: string): Promise<AccountRelationshipRow | undefined> {
  return db
    .selectFrom('customer_account_relationships')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

/** The live relationship from one account to another with this type. */
export function findRelationshipByKey(
  db: Executor,
  workspaceId: string,
  key: { accountId: string; relatedAccountId: string; typeId: string },
): Promise<AccountRelationshipRow | undefined> {
  return db
    .selectFrom('customer_account_relationships')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('account_id', '=', key.accountId)
    .where('related_account_id', '=', key.relatedAccountId)
    .where('relationship_type_id', '=', key.typeId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export function insertRelationship(db: Executor, row: Insertable<CustomerAccountRelationshipsTable>): Promise<AccountRelationshipRow> {
  return db.insertInto('customer_account_relationships').values(row).returningAll().executeTakeFirstOrThrow();
}

export function updateRelationship(
  db: Executor,
  workspaceId: string,
  id: string,
  values: Updateable<CustomerAccountRelationshipsTable>,
): Promise<AccountRelationshipRow> {
  return db
    .updateTable('customer_account_relationships')
    .set(values)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function softDeleteRelationships(db: Executor, workspaceId: string, ids: readonly string[], at: string): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('customer_account_relationships')
    .set({ deleted_at: at, updated_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', [...ids])
    .where('deleted_at', 'is', null)
    .execute();
}

/**
 * Live accounts of the workspace among these ids. On PostgreSQL the rows are share-locked for
 * the rest of the transaction, so an account cannot be deleted while a relationship to it is
 * being written (its delete soft-deletes its relationships).
 */
export function findLiveAccounts(db: Executor, dialect: Dialect, workspaceId: string, ids: readonly string[]): Promise<Pick<CustomerAccountRow, 'id'>[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('customer_accounts')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', [...new Set(ids)])
    .where('deleted_at', 'is', null)
    .$if(dialect === 'postgres', (q) => q.forShare())
    .execute();
}

/** The few account fields a relationship shows, by id (deleted accounts included). */
export function findAccountSummaries(
  db: Executor,
  workspaceId: string,
  ids: readonly string[],
): Promise<Pick<CustomerAccountRow, 'id' | 'name' | 'primary_domain'>[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('customer_accounts')
    .select(['id', 'name', 'primary_domain'])
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', [...new Set(ids)])
    .execute();
}
