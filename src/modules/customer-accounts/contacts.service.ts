import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fromJson, isUniqueViolation, isUuid, newId, now, toJson } from '../../db/values.js';
import { AppError } from '../../errors.js';
import type { ThenaListResult, ThenaPage } from '../../http/thena.js';
import { authorize } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { accountOfQuery } from './activities.service.js';
import { attributeFields, attributeValuesByIds, ensureSeeded, filterValueId, resolveAttributeValue } from './attribute-values.service.js';
import { lockAttributes } from './attributes.js';
import * as repo from './contacts.repository.js';
import type {
  BulkCreateContactsInput,
  ContactListQueryValue,
  ContactResponse,
  CreateContactInput,
  IngestContactsInput,
  IngestUserInput,
  UpdateContactInput,
} from './contacts.schemas.js';
import { findAccountsByIds, findAccountsByPrimaryDomains } from './customer-accounts.repository.js';
import { ACCOUNT_ATTRIBUTE_NAMES, insertAccountInTransaction } from './customer-accounts.service.js';
import type { ContactRow } from './customer-accounts.table.js';
import { conflictOnRace, requireUuid, type CustomFieldValuesValue } from './records.js';

/** Email domains of mail providers: ingesting their users creates no account. */
const FREE_MAIL_DOMAINS = new Set([
  'gmail.com',
  'googlemail.com',
  'yahoo.com',
  'ymail.com',
  'outlook.com',
  'hotmail.com',
  'live.com',
  'msn.com',
  'icloud.com',
  'me.com',
  'mac.com',
  'aol.com',
  'proton.me',
  'protonmail.com',
  'gmx.com',
  'gmx.de',
  'gmx.net',
  'web.de',
  'mail.com',
  'yandex.com',
  'yandex.ru',
  'zoho.com',
  'qq.com',
  '163.com',
  'fastmail.com',
  'hey.com',
  'tutanota.com',
]);

/** Contact responses; accounts and contact types are read once for the whole list. */
export async function toContactResponses(db: Executor, workspaceId: string, rows: ContactRow[]): Promise<ContactResponse[]> {
  const [accounts, values] = await Promise.all([
    repo.linkedAccounts(
      db,
      workspaceId,
      rows.map((r) => r.id),
    ),
    attributeValuesByIds(
      db,
      workspaceId,
      rows.map((r) => r.contact_type_id),
    ),
  ]);
  return rows.map((row) => ({
    id: row.id,
    firstName: row.first_name,
    lastName: row.last_name,
    email: row.email,
    phoneNumber: row.phone_number,
    avatarUrl: row.avatar_url,
    accounts: accounts.get(row.id) ?? [],
    ...attributeFields('contactType', row.contact_type_id, values),
    customFieldValues: fromJson<CustomFieldValuesValue | null>(row.custom_field_values) ?? [],
    metadata: fromJson<Record<string, unknown> | null>(row.metadata) ?? {},
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }));
}

async function toContactResponse(db: Executor, row: ContactRow): Promise<ContactResponse> {
  const [response] = await toContactResponses(db, row.workspace_id, [row]);
  return response!;
}

/** A live contact of the workspace, or NOT_FOUND (also for another workspace's id or a non-UUID). */
export async function getContactRowOrThrow(db: Executor, workspaceId: string, id: string): Promise<ContactRow> {
  const row = await repo.findContact(db, workspaceId, requireUuid(id));
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

function duplicateEmail(email: string): AppError {
  return new AppError('CONFLICT', `A contact with the email ${email} already exists`);
}

/** The accounts a body names must all be live accounts of the workspace: 400 otherwise. */
async function accountIdsOf(db: Executor, workspaceId: string, accountIds: readonly string[] | undefined, field = 'accountIds'): Promise<string[]> {
  if (accountIds === undefined || accountIds.length === 0) return [];
  const wanted = [...new Set(accountIds.map((id) => id.toLowerCase()))];
  const found = wanted.every(isUuid) ? await findAccountsByIds(db, workspaceId, wanted) : [];
  if (found.length !== wanted.length) throw new AppError('BAD_REQUEST', `${field} must hold ids of accounts of the workspace`);
  return wanted;
}

export async function listContacts(
  ctx: AppContext,
  scope: WorkspaceScope,
  query: ContactListQueryValue,
  page: ThenaPage,
): Promise<ThenaListResult<ContactResponse>> {
  const db = ctx.db.kysely;
  await ensureSeeded(ctx, scope.workspaceId);
  const accountId = await accountOfQuery(db, scope.workspaceId, query.accountId);
  const contactTypeId = await filterValueId(db, scope.workspaceId, 'contact_type', query.contactType);
  if (contactTypeId === null) return { items: [], total: 0 };
  const { rows, total } = await repo.listContacts(
    db,
    scope.workspaceId,
    { ...(accountId ? { accountId } : {}), ...(contactTypeId ? { contactTypeId } : {}) },
    { offset: (page.page - 1) * page.limit, limit: page.limit },
  );
  return { items: await toContactResponses(db, scope.workspaceId, rows), total };
}

export async function getContact(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<ContactResponse> {
  await ensureSeeded(ctx, scope.workspaceId);
  return toContactResponse(ctx.db.kysely, await getContactRowOrThrow(ctx.db.kysely, scope.workspaceId, id));
}

export async function filterContactsByIds(ctx: AppContext, scope: WorkspaceScope, ids: string[]): Promise<ContactResponse[]> {
  const db = ctx.db.kysely;
  const rows = await repo.findContactsByIds(db, scope.workspaceId, ids.filter(isUuid).map((id) => id.toLowerCase()));
  return toContactResponses(db, scope.workspaceId, rows);
}

/** At most 100 contacts, newest first, matching `email` and/or `q` (any part, case-insensitive). */
export async function searchContacts(ctx: AppContext, scope: WorkspaceScope, search: { email?: string; q?: string }): Promise<ContactResponse[]> {
  if (!search.email && !search.q) throw new AppError('BAD_REQUEST', 'email or q should not be empty');
  const db = ctx.db.kysely;
  await ensureSeeded(ctx, scope.workspaceId);
  const rows = await repo.searchContacts(db, ctx.db.dialect, scope.workspaceId, search, 100);
  return toContactResponses(db, scope.workspaceId, rows);
}

type NewContact = Omit<CreateContactInput, 'accountIds'>;

/** Inserts one contact in the caller's transaction (which holds the contact_type lock). */
async function insertContact(trx: Executor, scope: WorkspaceScope, input: NewContact, at: string, sinkSource: string | null = null): Promise<ContactRow> {
  const contactType = await resolveAttributeValue(trx, scope.workspaceId, 'contact_type', 'contactType', input.contactType);
  return repo.insertContact(trx, {
    id: newId(),
    workspace_id: scope.workspaceId,
    first_name: input.firstName.trim(),
    last_name: input.lastName ?? null,
    email: input.email.toLowerCase(),
    phone_number: input.phoneNumber ?? null,
    avatar_url: input.avatarUrl ?? null,
    contact_type_id: contactType?.id ?? null,
    custom_field_values: toJson(input.customFieldValues ?? []),
    metadata: toJson(input.metadata ?? {}),
    sink_source: sinkSource,
    created_at: at,
    updated_at: at,
  });
}

export async function createContact(ctx: AppContext, scope: WorkspaceScope, input: CreateContactInput): Promise<ContactResponse> {
  authorize(scope.role, 'write');
  await ensureSeeded(ctx, scope.workspaceId);
  const db = ctx.db.kysely;
  const email = input.email.toLowerCase();
  try {
    const row = await db.transaction().execute(async (trx) => {
      await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, ['contact_type'], 'shared');
      if ((await repo.findContactsByEmails(trx, scope.workspaceId, [email])).length > 0) throw duplicateEmail(email);
      const accountIds = await accountIdsOf(trx, scope.workspaceId, input.accountIds);
      const at = now();
      const contact = await insertContact(trx, scope, input, at);
      await repo.replaceLinks(trx, contact.id, accountIds, at);
      return contact;
    });
    return toContactResponse(db, row);
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateEmail(email);
    throw error;
  }
}

/**
 * Creates many contacts in one transaction. A contact whose email exists (or repeats in the
 * request) is skipped; anything else wrong fails the whole request, naming the item.
 */
export async function bulkCreateContacts(
  ctx: AppContext,
  scope: WorkspaceScope,
  input: BulkCreateContactsInput,
): Promise<{ total: number; created: number; skipped: number }> {
  authorize(scope.role, 'write');
  await ensureSeeded(ctx, scope.workspaceId);
  const created = await conflictOnRace(ctx.db.kysely.transaction().execute(async (trx) => {
    await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, ['contact_type'], 'shared');
    const sharedAccounts = await accountIdsOf(trx, scope.workspaceId, input.accountIds);
    const existing = await repo.findContactsByEmails(
      trx,
      scope.workspaceId,
      input.contacts.map((c) => c.email),
    );
    const taken = new Set(existing.map((c) => c.email.toLowerCase()));
    const at = now();
    const links: Array<{ contactId: string; accountId: string }> = [];
    let count = 0;
    for (const [index, item] of input.contacts.entries()) {
      const email = item.email.toLowerCase();
      if (taken.has(email)) continue;
      taken.add(email);
      try {
        const own = await accountIdsOf(trx, scope.workspaceId, item.accountIds, 'accountIds');
        const contact = await insertContact(trx, scope, { ...item, contactType: item.contactType ?? input.contactType }, at);
        for (const accountId of new Set([...sharedAccounts, ...own])) links.push({ contactId: contact.id, accountId });
      } catch (error) {
        if (error instanceof AppError && error.code === 'BAD_REQUEST' && error.publicMessage) {
          throw new AppError('BAD_REQUEST', `contacts.${index}.${error.publicMessage}`);
        }
        throw error;
      }
      count += 1;
    }
    await repo.addLinks(trx, links, at);
    return count;
  }));
  return { total: input.contacts.length, created, skipped: input.contacts.length - created };
}

/** "acme.com" → "Acme"; "www.acme.co.uk" → "Acme". */
export function accountNameOfDomain(domain: string): string {
  const labels = domain.split('.').filter((label) => label !== '' && !['www', 'mail', 'app', 'mx'].includes(label));
  const label = labels[0] ?? domain;
  return label.charAt(0).toUpperCase() + label.slice(1);
}

/** First and last name of an ingested user: as given, or split from `name`, or the email's local part. */
function namesOf(user: IngestUserInput): { firstName: string; lastName: string | undefined } {
  if (user.firstName) return { firstName: user.firstName, lastName: user.lastName };
  const full = user.name?.trim();
  if (full) {
    const space = full.indexOf(' ');
    return space < 0 ? { firstName: full, lastName: user.lastName } : { firstName: full.slice(0, space), lastName: user.lastName ?? full.slice(space + 1).trim() };
  }
  return { firstName: user.email.split('@')[0]!.slice(0, 100), lastName: user.lastName };
}

export interface IngestResult {
  total: number;
  created: number;
  updated: number;
  accountsCreated: number;
  contacts: ContactResponse[];
}

/**
 * Ingests users from a source (Slack, Zendesk…), in one transaction: each email becomes a
 * contact (an existing one keeps its data and gains what it lacked), linked to the account whose
 * primary domain is the email's domain; that account is created when missing, except for
 * free-mail domains.
 */
export async function ingestContacts(ctx: AppContext, scope: WorkspaceScope, input: IngestContactsInput): Promise<IngestResult> {
  authorize(scope.role, 'write');
  await ensureSeeded(ctx, scope.workspaceId);
  const db = ctx.db.kysely;
  // Each email once: its first mention wins, later ones fill what it left out.
  const byEmail = new Map<string, IngestUserInput>();
  for (const user of input.users) {
    const key = user.email.toLowerCase();
    const first = byEmail.get(key);
    byEmail.set(key, first ? { ...user, ...first } : user);
  }
  const users = [...byEmail.values()];
  const result = await conflictOnRace(db.transaction().execute(async (trx) => {
    await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, ['contact_type', ...ACCOUNT_ATTRIBUTE_NAMES], 'shared');
    const at = now();
    const domains = [...new Set(users.map((u) => u.email.toLowerCase().split('@')[1]!).filter((d) => !FREE_MAIL_DOMAINS.has(d)))];
    const accountByDomain = new Map((await findAccountsByPrimaryDomains(trx, scope.workspaceId, domains)).map((a) => [a.primary_domain, a.id]));
    let accountsCreated = 0;
    for (const domain of domains) {
      if (accountByDomain.has(domain)) continue;
      const account = await insertAccountInTransaction(trx, scope, {
        name: accountNameOfDomain(domain),
        primaryDomain: domain,
        source: input.sinkSource.toLowerCase(),
      });
      accountByDomain.set(domain, account.id);
      accountsCreated += 1;
    }
    const existing = new Map(
      (
        await repo.findContactsByEmails(
          trx,
          scope.workspaceId,
          users.map((u) => u.email),
        )
      ).map((c) => [c.email.toLowerCase(), c]),
    );
    const rows: ContactRow[] = [];
    const links: Array<{ contactId: string; accountId: string }> = [];
    let created = 0;
    for (const user of users) {
      const email = user.email.toLowerCase();
      const names = namesOf(user);
      const current = existing.get(email);
      let row: ContactRow;
      if (current) {
        row = await repo.updateContact(trx, scope.workspaceId, current.id, {
          last_name: current.last_name ?? names.lastName ?? null,
          phone_number: current.phone_number ?? user.phoneNumber ?? null,
          avatar_url: current.avatar_url ?? user.avatarUrl ?? null,
          metadata: toJson({ ...(user.metadata ?? {}), ...(fromJson<Record<string, unknown> | null>(current.metadata) ?? {}) }),
          updated_at: at,
        });
      } else {
        const contact: NewContact = {
          firstName: names.firstName,
          email,
          ...(names.lastName ? { lastName: names.lastName } : {}),
          ...(user.phoneNumber ? { phoneNumber: user.phoneNumber } : {}),
          ...(user.avatarUrl ? { avatarUrl: user.avatarUrl } : {}),
          ...(user.metadata ? { metadata: user.metadata } : {}),
        };
        row = await insertContact(trx, scope, contact, at, input.sinkSource);
        created += 1;
      }
      const accountId = accountByDomain.get(email.split('@')[1]!);
      if (accountId) links.push({ contactId: row.id, accountId });
      rows.push(row);
    }
    await repo.addLinks(trx, links, at);
    return { rows, created, accountsCreated };
  }));
  return {
    total: users.length,
    created: result.created,
    updated: users.length - result.created,
    accountsCreated: result.accountsCreated,
    contacts: await toContactResponses(db, scope.workspaceId, result.rows),
  };
}

export async function updateContact(ctx: AppContext, scope: WorkspaceScope, id: string, input: UpdateContactInput): Promise<ContactResponse> {
  const db = ctx.db.kysely;
  await ensureSeeded(ctx, scope.workspaceId);
  await getContactRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'write');
  const email = input.email?.toLowerCase();
  try {
    const row = await db.transaction().execute(async (trx) => {
      await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, ['contact_type'], 'shared');
      const current = await getContactRowOrThrow(trx, scope.workspaceId, id);
      if (email !== undefined && email !== current.email.toLowerCase()) {
        if ((await repo.findContactsByEmails(trx, scope.workspaceId, [email])).length > 0) throw duplicateEmail(email);
      }
      const at = now();
      if (input.accountIds !== undefined) await repo.replaceLinks(trx, current.id, await accountIdsOf(trx, scope.workspaceId, input.accountIds), at);
      const contactType =
        input.contactType === undefined ? undefined : await resolveAttributeValue(trx, scope.workspaceId, 'contact_type', 'contactType', input.contactType);
      return repo.updateContact(trx, scope.workspaceId, current.id, {
        ...(input.firstName !== undefined ? { first_name: input.firstName.trim() } : {}),
        ...(input.lastName !== undefined ? { last_name: input.lastName } : {}),
        ...(email !== undefined ? { email } : {}),
        ...(input.phoneNumber !== undefined ? { phone_number: input.phoneNumber } : {}),
        ...(input.avatarUrl !== undefined ? { avatar_url: input.avatarUrl } : {}),
        ...(contactType !== undefined ? { contact_type_id: contactType?.id ?? null } : {}),
        ...(input.customFieldValues !== undefined ? { custom_field_values: toJson(input.customFieldValues) } : {}),
        ...(input.metadata !== undefined ? { metadata: toJson(input.metadata) } : {}),
        updated_at: at,
      });
    });
    return toContactResponse(db, row);
  } catch (error) {
    if (isUniqueViolation(error) && email !== undefined) throw duplicateEmail(email);
    throw error;
  }
}

/** Soft-deletes the contact and unlinks it from its accounts. */
export async function deleteContact(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  const db = ctx.db.kysely;
  const row = await getContactRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'write');
  await db.transaction().execute((trx) => repo.softDeleteContact(trx, scope.workspaceId, row.id, now()));
}
