import { sql, type Insertable, type SqlBool, type Updateable } from 'kysely';
import type { Dialect, Executor } from '../../db/database.js';
import { likePattern } from '../../db/values.js';
import type { ContactRow, CustomerContactsTable } from './customer-accounts.table.js';

const NAME_AND_EMAIL = sql`lower(c.first_name || ' ' || coalesce(c.last_name, '') || ' ' || c.email)`;

/** An FTS5 phrase: the text, quoted. */
const ftsPhrase = (text: string) => `"${text.replace(/"/g, '""')}"`;

/**
 * "Contains" on names and email through the trigram index of each database (see the migration),
 * the same way accounts are searched; under three characters, a scan of the workspace's contacts.
 * On SQLite the FTS5 table indexes each column apart, so a term with a space ("Margaret Ham")
 * may span columns: the index then narrows by each word of three characters or more, and the
 * concatenation decides, exactly as on PostgreSQL.
 */
export function nameOrEmailContains(dialect: Dialect, search: string) {
  const term = search.toLowerCase();
  const scan = sql<SqlBool>`${NAME_AND_EMAIL} like ${likePattern(term)} escape '\\'`;
  if (dialect !== 'sqlite' || [...term].length < 3) return scan;
  if (!/\s/.test(term)) {
    return sql<SqlBool>`c.rowid in (select rowid from customer_contacts_fts where customer_contacts_fts match ${ftsPhrase(term)})`;
  }
  const words = term.split(/\s+/).filter((word) => [...word].length >= 3);
  if (words.length === 0) return scan;
  const match = words.map(ftsPhrase).join(' AND ');
  return sql<SqlBool>`(c.rowid in (select rowid from customer_contacts_fts where customer_contacts_fts match ${match}) and ${scan})`;
}

export interface ContactFilter {
  accountId?: string;
  contactTypeId?: string;
}

function filteredContacts(db: Executor, workspaceId: string, filter: ContactFilter) {
  let query = db.selectFrom('customer_contacts as c').where('c.workspace_id', '=', workspaceId).where('c.deleted_at', 'is', null);
  if (filter.contactTypeId) query = query.where('c.contact_type_id', '=', filter.contactTypeId);
  if (filter.accountId) {
    const accountId = filter.accountId;
    query = query.where('c.id', 'in', (eb) => eb.selectFrom('customer_account_contacts').select('contact_id').where('account_id', '=', accountId));
  }
  return query;
}

/** One page, newest first, and the total of the filter. */
export async function listContacts(
  db: Executor,
  workspaceId: string,
  filter: ContactFilter,
  page: { offset: number; limit: number },
): Promise<{ rows: ContactRow[]; total: number }> {
  const [rows, count] = await Promise.all([
    filteredContacts(db, workspaceId, filter).selectAll('c').orderBy('c.id', 'desc').limit(page.limit).offset(page.offset).execute(),
    filteredContacts(db, workspaceId, filter)
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.count) };
}

/** Contacts whose email contains `email` and/or whose name or email contains `q`; newest first. */
export function searchContacts(db: Executor, dialect: Dialect, workspaceId: string, search: { email?: string; q?: string }, limit: number) {
  let query = filteredContacts(db, workspaceId, {});
  if (search.email) query = query.where(sql<SqlBool>`lower(c.email) like ${likePattern(search.email.toLowerCase())} escape '\\'`);
  if (search.q) query = query.where(nameOrEmailContains(dialect, search.q));
  return query.selectAll('c').orderBy('c.id', 'desc').limit(limit).execute();
}

export function findContact(db: Executor, workspaceId: string, id: string): Promise<ContactRow | undefined> {
  return db
    .selectFrom('customer_contacts')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export function findContactsByIds(db: Executor, workspaceId: string, ids: readonly string[]): Promise<ContactRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('customer_contacts')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', [...new Set(ids)])
    .where('deleted_at', 'is', null)
    .orderBy('id', 'desc')
    .execute();
}

/** Live contacts with these emails (case-insensitive). */
export function findContactsByEmails(db: Executor, workspaceId: string, emails: readonly string[]): Promise<ContactRow[]> {
  if (emails.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('customer_contacts')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where(sql<string>`lower(email)`, 'in', [...new Set(emails.map((e) => e.toLowerCase()))])
    .where('deleted_at', 'is', null)
    .execute();
}

export function insertContact(db: Executor, row: Insertable<CustomerContactsTable>): Promise<ContactRow> {
  return db.insertInto('customer_contacts').values(row).returningAll().executeTakeFirstOrThrow();
}

export function updateContact(db: Executor, workspaceId: string, id: string, values: Updateable<CustomerContactsTable>): Promise<ContactRow> {
  return db
    .updateTable('customer_contacts')
    .set(values)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Soft-deletes a contact and removes its links to accounts; run it in a transaction. */
export async function softDeleteContact(db: Executor, workspaceId: string, id: string, at: string): Promise<void> {
  await db.updateTable('customer_contacts').set({ deleted_at: at, updated_at: at }).where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
  await db.deleteFrom('customer_account_contacts').where('contact_id', '=', id).execute();
}

/** Links contacts to accounts; existing links stay as they are. */
export async function addLinks(db: Executor, links: ReadonlyArray<{ contactId: string; accountId: string }>, at: string): Promise<void> {
  const unique = new Map(links.map((l) => [`${l.contactId}:${l.accountId}`, l]));
  if (unique.size === 0) return;
  await db
    .insertInto('customer_account_contacts')
    .values([...unique.values()].map((l) => ({ contact_id: l.contactId, account_id: l.accountId, created_at: at })))
    .onConflict((oc) => oc.columns(['account_id', 'contact_id']).doNothing())
    .execute();
}

/** Makes the contact's links exactly these accounts. */
export async function replaceLinks(db: Executor, contactId: string, accountIds: readonly string[], at: string): Promise<void> {
  await db.deleteFrom('customer_account_contacts').where('contact_id', '=', contactId).execute();
  await addLinks(
    db,
    accountIds.map((accountId) => ({ contactId, accountId })),
    at,
  );
}

export interface LinkedAccount {
  id: string;
  name: string;
  primaryDomain: string;
}

/** The live accounts of each contact, by name. */
export async function linkedAccounts(db: Executor, workspaceId: string, contactIds: readonly string[]): Promise<Map<string, LinkedAccount[]>> {
  const result = new Map<string, LinkedAccount[]>();
  if (contactIds.length === 0) return result;
  const rows = await db
    .selectFrom('customer_account_contacts as l')
    .innerJoin('customer_accounts as a', 'a.id', 'l.account_id')
    .select(['l.contact_id', 'a.id', 'a.name', 'a.primary_domain'])
    .where('l.contact_id', 'in', [...new Set(contactIds)])
    .where('a.workspace_id', '=', workspaceId)
    .where('a.deleted_at', 'is', null)
    .orderBy('a.name')
    .execute();
  for (const row of rows) {
    const list = result.get(row.contact_id) ?? [];
    list.push({ id: row.id, name: row.name, primaryDomain: row.primary_domain });
    result.set(row.contact_id, list);
  }
  return result;
}
