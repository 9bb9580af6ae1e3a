import type { Insertable } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fromJson, isUniqueViolation, isUuid, newId, now, toJson } from '../../db/values.js';
import { AppError } from '../../errors.js';
import type { ThenaListResult, ThenaPage } from '../../http/thena.js';
import { authorize } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { attributeValueOf, attributeValuesByIds, ensureSeeded, filterValueId, resolveAttributeValue } from './attribute-values.service.js';
import { lockAttributes, type Attribute } from './attributes.js';
import * as repo from './customer-accounts.repository.js';
import type { AccountListQueryValue, AccountResponse, CreateAccountInput, UpdateAccountInput } from './customer-accounts.schemas.js';
import type { CustomerAccountRow, CustomerAccountsTable } from './customer-accounts.table.js';
import { conflictOnRace, peopleByIds, requireMember, requireUuid, userIdOf, type CustomFieldValuesValue } from './records.js';

/** The attribute-backed fields of an account: request field → attribute and column. */
const ACCOUNT_ATTRIBUTES = [
  { field: 'status', attribute: 'account_status', column: 'status_id' },
  { field: 'classification', attribute: 'account_classification', column: 'classification_id' },
  { field: 'health', attribute: 'account_health', column: 'health_id' },
  { field: 'industry', attribute: 'account_industry', column: 'industry_id' },
] as const;

const ATTRIBUTE_NAMES: Attribute[] = ACCOUNT_ATTRIBUTES.map((a) => a.attribute);

/** Account responses; attribute values and owners are read once for the whole list. */
export async function toAccountResponses(db: Executor, workspaceId: string, rows: CustomerAccountRow[]): Promise<AccountResponse[]> {
  const [values, people] = await Promise.all([
    attributeValuesByIds(
      db,
      workspaceId,
      rows.flatMap((r) => [r.status_id, r.classification_id, r.health_id, r.industry_id]),
    ),
    peopleByIds(
      db,
      rows.map((r) => r.account_owner_id),
    ),
  ]);
  // Written out field by field (no spreads): lists build many of these, and a literal with a
  // fixed shape is what V8 and the serializer handle fastest.
  return rows.map((row) => {
    const owner = row.account_owner_id === null ? undefined : people.get(row.account_owner_id);
    const status = attributeValueOf(row.status_id, values);
    const classification = attributeValueOf(row.classification_id, values);
    const health = attributeValueOf(row.health_id, values);
    const industry = attributeValueOf(row.industry_id, values);
    return {
      id: row.id,
      name: row.name,
      description: row.description,
      source: row.source,
      logo: row.logo,
      statusId: row.status_id,
      status: status.value,
      statusConfiguration: status.configuration,
      classificationId: row.classification_id,
      classification: classification.value,
      classificationConfiguration: classification.configuration,
      healthId: row.health_id,
      health: health.value,
      healthConfiguration: health.configuration,
      industryId: row.industry_id,
      industry: industry.value,
      industryConfiguration: industry.configuration,
      primaryDomain: row.primary_domain,
      secondaryDomain: row.secondary_domain,
      accountOwner: owner?.name ?? null,
      accountOwnerId: row.account_owner_id === null ? null : String(row.account_owner_id),
      accountOwnerEmail: owner?.email ?? null,
      accountOwnerAvatarUrl: owner?.avatarUrl ?? null,
      annualRevenue: row.annual_revenue === null ? null : Number(row.annual_revenue),
      employees: row.employees,
      website: row.website,
      billingAddress: fromJson<Record<string, unknown> | null>(row.billing_address),
      shippingAddress: fromJson<Record<string, unknown> | null>(row.shipping_address),
      customFieldValues: fromJson<CustomFieldValuesValue | null>(row.custom_field_values) ?? [],
      metadata: fromJson<Record<string, unknown> | null>(row.metadata) ?? {},
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  });
}

async function toAccountResponse(db: Executor, row: CustomerAccountRow): Promise<AccountResponse> {
  const [response] = await toAccountResponses(db, row.workspace_id, [row]);
  return response!;
}

/** A live account of the workspace, or NOT_FOUND (also for another workspace's id). */
export async function getAccountRowOrThrow(db: Executor, workspaceId: string, id: string): Promise<CustomerAccountRow> {
  const row = await repo.findAccount(db, workspaceId, requireUuid(id));
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

function duplicateDomain(domain: string): AppError {
  return new AppError('CONFLICT', `An account with the primary domain ${domain} already exists`);
}

export async function listAccounts(
  ctx: AppContext,
  scope: WorkspaceScope,
  query: AccountListQueryValue,
  page: ThenaPage,
): Promise<ThenaListResult<AccountResponse>> {
  const db = ctx.db.kysely;
  await ensureSeeded(ctx, scope.workspaceId);
  const filter: repo.AccountFilter = {};
  for (const { field, attribute } of ACCOUNT_ATTRIBUTES) {
    const id = await filterValueId(db, scope.workspaceId, attribute, query[field]);
    if (id === null) return { items: [], total: 0 };
    if (id !== undefined) filter[`${field}Id`] = id;
  }
  const owner = userIdOf(query.accountOwnerId, 'accountOwnerId');
  if (owner !== undefined && owner !== null) filter.accountOwnerId = owner;
  if (query.search) filter.search = query.search;
  const { rows, total } = await repo.listAccounts(db, ctx.db.dialect, scope.workspaceId, filter, {
    offset: (page.page - 1) * page.limit,
    limit: page.limit,
  });
  return { items: await toAccountResponses(db, scope.workspaceId, rows), total };
}

export async function getAccount(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<AccountResponse> {
  await ensureSeeded(ctx, scope.workspaceId);
  return toAccountResponse(ctx.db.kysely, await getAccountRowOrThrow(ctx.db.kysely, scope.workspaceId, id));
}

export async function filterAccountsByIds(ctx: AppContext, scope: WorkspaceScope, ids: string[]): Promise<AccountResponse[]> {
  const db = ctx.db.kysely;
  // Ids that are not UUIDs name no account; they are left out like unknown ones.
  const rows = await repo.findAccountsByIds(db, scope.workspaceId, ids.filter(isUuid).map((id) => id.toLowerCase()));
  return toAccountResponses(db, scope.workspaceId, rows);
}

export async function filterAccountsByPrimaryDomains(ctx: AppContext, scope: WorkspaceScope, domains: string[]): Promise<AccountResponse[]> {
  const db = ctx.db.kysely;
  const rows = await repo.findAccountsByPrimaryDomains(db, scope.workspaceId, domains);
  return toAccountResponses(db, scope.workspaceId, rows);
}

type AccountColumns = Partial<Pick<CustomerAccountRow, 'status_id' | 'classification_id' | 'health_id' | 'industry_id'>>;

/** Looks up attribute values by (attribute, reference) once per request: bulk creates repeat them. */
type AttributeResolver = (attribute: Attribute, field: string, ref: string | null | undefined) => Promise<string | null>;

function attributeResolver(db: Executor, workspaceId: string): AttributeResolver {
  const cache = new Map<string, Promise<string | null>>();
  return (attribute, field, ref) => {
    const key = `${attribute}\u0000${ref === undefined ? '\u0001default' : String(ref).toLowerCase()}`;
    let found = cache.get(key);
    if (!found) {
      found = resolveAttributeValue(db, workspaceId, attribute, field, ref).then((row) => row?.id ?? null);
      cache.set(key, found);
      // A failed lookup is not kept: its error belongs to the request item that caused it.
      found.catch(() => cache.delete(key));
    }
    return found;
  };
}

/** Attribute value ids for the fields the input names (all of them on create: defaults fill in). */
async function resolveAccountAttributes(
  resolve: AttributeResolver,
  input: Partial<Record<'status' | 'classification' | 'health' | 'industry', string>>,
  fillDefaults: boolean,
): Promise<AccountColumns> {
  const columns: AccountColumns = {};
  for (const { field, attribute, column } of ACCOUNT_ATTRIBUTES) {
    if (input[field] === undefined && !fillDefaults) continue;
    columns[column] = await resolve(attribute, field, input[field]);
  }
  return columns;
}

function optionalFields(input: Omit<UpdateAccountInput, 'name' | 'primaryDomain'>) {
  return {
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.source !== undefined ? { source: input.source } : {}),
    ...(input.logo !== undefined ? { logo: input.logo } : {}),
    ...(input.website !== undefined ? { website: input.website } : {}),
    ...(input.secondaryDomain !== undefined ? { secondary_domain: input.secondaryDomain.toLowerCase() } : {}),
    ...(input.annualRevenue !== undefined ? { annual_revenue: input.annualRevenue } : {}),
    ...(input.employees !== undefined ? { employees: input.employees } : {}),
    ...(input.billingAddress !== undefined ? { billing_address: toJson(input.billingAddress) } : {}),
    ...(input.shippingAddress !== undefined ? { shipping_address: toJson(input.shippingAddress) } : {}),
    ...(input.customFieldValues !== undefined ? { custom_field_values: toJson(input.customFieldValues) } : {}),
    ...(input.metadata !== undefined ? { metadata: toJson(input.metadata) } : {}),
  };
}

async function ownerOf(db: Executor, workspaceId: string, accountOwnerId: string | undefined): Promise<number | undefined> {
  const owner = userIdOf(accountOwnerId, 'accountOwnerId');
  if (owner === undefined || owner === null) return undefined;
  await requireMember(db, workspaceId, owner, 'accountOwnerId');
  return owner;
}

/** The row of a new account (attribute locks already taken by the caller's transaction). */
async function newAccountRow(
  trx: Executor,
  scope: WorkspaceScope,
  resolve: AttributeResolver,
  input: CreateAccountInput,
  at: string,
): Promise<Insertable<CustomerAccountsTable>> {
  const owner = await ownerOf(trx, scope.workspaceId, input.accountOwnerId);
  return {
    id: newId(),
    workspace_id: scope.workspaceId,
    name: input.name.trim(),
    primary_domain: input.primaryDomain.toLowerCase(),
    description: null,
    source: null,
    logo: null,
    website: null,
    secondary_domain: null,
    account_owner_id: owner ?? null,
    annual_revenue: null,
    employees: null,
    billing_address: null,
    shipping_address: null,
    custom_field_values: toJson([]),
    metadata: toJson({}),
    ...optionalFields(input),
    ...(await resolveAccountAttributes(resolve, input, true)),
    created_by: scope.userId,
    created_at: at,
    updated_at: at,
  };
}

/**
 * Creates an account in the caller's transaction, which holds the account attributes' shared
 * locks (contacts' ingest creates the accounts of new email domains this way).
 */
export async function insertAccountInTransaction(trx: Executor, scope: WorkspaceScope, input: CreateAccountInput): Promise<CustomerAccountRow> {
  return repo.insertAccount(trx, await newAccountRow(trx, scope, attributeResolver(trx, scope.workspaceId), input, now()));
}

/** The attributes an account write locks (shared), for callers that create accounts. */
export const ACCOUNT_ATTRIBUTE_NAMES: readonly Attribute[] = ATTRIBUTE_NAMES;

export async function createAccount(ctx: AppContext, scope: WorkspaceScope, input: CreateAccountInput): Promise<AccountResponse> {
  authorize(scope.role, 'write');
  await ensureSeeded(ctx, scope.workspaceId);
  const db = ctx.db.kysely;
  try {
    const row = await db.transaction().execute(async (trx) => {
      await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, ATTRIBUTE_NAMES, 'shared');
      const [existing] = await repo.findAccountsByPrimaryDomains(trx, scope.workspaceId, [input.primaryDomain]);
      if (existing) throw duplicateDomain(input.primaryDomain.toLowerCase());
      return insertAccountInTransaction(trx, scope, input);
    });
    return toAccountResponse(db, row);
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateDomain(input.primaryDomain.toLowerCase());
    throw error;
  }
}

/**
 * Creates many accounts in one transaction. An account whose primary domain exists already (or
 * appears earlier in the same request) is skipped; anything else wrong fails the whole request.
 */
export async function bulkCreateAccounts(
  ctx: AppContext,
  scope: WorkspaceScope,
  accounts: CreateAccountInput[],
): Promise<{ total: number; created: number; skipped: number }> {
  authorize(scope.role, 'write');
  await ensureSeeded(ctx, scope.workspaceId);
  const db = ctx.db.kysely;
  const created = await conflictOnRace(
    db.transaction().execute(async (trx) => {
      await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, ATTRIBUTE_NAMES, 'shared');
      const existing = await repo.findAccountsByPrimaryDomains(
        trx,
        scope.workspaceId,
        accounts.map((a) => a.primaryDomain),
      );
      const taken = new Set(existing.map((a) => a.primary_domain.toLowerCase()));
      const at = now();
      const resolve = attributeResolver(trx, scope.workspaceId);
      const rows: Insertable<CustomerAccountsTable>[] = [];
      for (const [index, account] of accounts.entries()) {
        const domain = account.primaryDomain.toLowerCase();
        if (taken.has(domain)) continue;
        taken.add(domain);
        try {
          rows.push(await newAccountRow(trx, scope, resolve, account, at));
        } catch (error) {
          if (error instanceof AppError && error.code === 'BAD_REQUEST' && error.publicMessage) {
            throw new AppError('BAD_REQUEST', `accounts.${index}.${error.publicMessage}`);
          }
          throw error;
        }
      }
      await repo.insertAccounts(trx, scope.workspaceId, rows);
      return rows.length;
    }),
  );
  return { total: accounts.length, created, skipped: accounts.length - created };
}

export async function updateAccount(ctx: AppContext, scope: WorkspaceScope, id: string, input: UpdateAccountInput): Promise<AccountResponse> {
  const db = ctx.db.kysely;
  await ensureSeeded(ctx, scope.workspaceId);
  await getAccountRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'write');
  const domain = input.primaryDomain?.toLowerCase();
  try {
    const row = await db.transaction().execute(async (trx) => {
      await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, ATTRIBUTE_NAMES, 'shared');
      const current = await getAccountRowOrThrow(trx, scope.workspaceId, id);
      if (domain !== undefined && domain !== current.primary_domain) {
        const [clash] = await repo.findAccountsByPrimaryDomains(trx, scope.workspaceId, [domain]);
        if (clash && clash.id !== current.id) throw duplicateDomain(domain);
      }
      const owner = input.accountOwnerId === undefined ? undefined : await ownerOf(trx, scope.workspaceId, input.accountOwnerId);
      return repo.updateAccount(trx, scope.workspaceId, current.id, {
        ...(input.name !== undefined ? { name: input.name.trim() } : {}),
        ...(domain !== undefined ? { primary_domain: domain } : {}),
        ...(owner !== undefined ? { account_owner_id: owner } : {}),
        ...optionalFields(input),
        ...(await resolveAccountAttributes(attributeResolver(trx, scope.workspaceId), input, false)),
        updated_at: now(),
      });
    });
    return toAccountResponse(db, row);
  } catch (error) {
    if (isUniqueViolation(error) && domain !== undefined) throw duplicateDomain(domain);
    throw error;
  }
}

/** Soft-deletes the account with its relationships, activities, notes and tasks, in one transaction. */
export async function deleteAccount(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  const db = ctx.db.kysely;
  const row = await getAccountRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'write');
  await db.transaction().execute((trx) => repo.softDeleteAccount(trx, scope.workspaceId, row.id, now()));
}
