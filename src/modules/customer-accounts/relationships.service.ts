import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { isUniqueViolation, isUuid, newId, now } from '../../db/values.js';
import { AppError } from '../../errors.js';
import type { ThenaListResult, ThenaPage } from '../../http/thena.js';
import { authorize } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { getAccountRowOrThrow } from './customer-accounts.service.js';
import type { AccountRelationshipRow, RelationshipTypeRow } from './customer-accounts.table.js';
import { requireUuid } from './records.js';
import * as repo from './relationships.repository.js';
import type {
  AccountRelationshipResponse,
  CreateAccountRelationshipInput,
  CreateRelationshipTypeInput,
  RelationshipListQueryValue,
  RelationshipTypeResponse,
  UpdateAccountRelationshipInput,
  UpdateRelationshipTypeInput,
} from './relationships.schemas.js';

/**
 * Account relationships ("Acme is the parent of Acme EU") and the workspace's relationship
 * types. Rules beyond the reference:
 *
 * - Types are workspace configuration (admins). A type's inverse is linked both ways: giving A
 *   the inverse B also gives B the inverse A, and unlinks the previous partners of both, in one
 *   transaction. A type may be its own inverse (a symmetric type such as "Sibling"): set its own
 *   id as `inverseRelationshipId` with PUT. Deleting a type clears its partner's pointer; a type
 *   that live relationships use cannot be deleted (409 naming the count).
 * - Creating a relationship whose type has an inverse also creates the inverse relationship
 *   (related account → account, with the inverse type) when it is not there yet, in the same
 *   transaction. That pair then moves together: changing the type moves the inverse to the new
 *   type's inverse (or removes it when the new type has none), and deleting one deletes both.
 *   Re-linking type inverses later does not rewrite existing relationships.
 */

// Responses

/** Type responses; inverses are read once for the whole list and shown one level deep. */
export async function toRelationshipTypeResponses(db: Executor, workspaceId: string, rows: RelationshipTypeRow[]): Promise<RelationshipTypeResponse[]> {
  const known = new Map(rows.map((row) => [row.id, row]));
  const missing = rows.map((r) => r.inverse_relationship_id).filter((id): id is string => id !== null && !known.has(id));
  for (const row of await repo.findTypesByIds(db, workspaceId, missing)) known.set(row.id, row);
  return rows.map((row) => {
    const inverse = row.inverse_relationship_id === null ? undefined : known.get(row.inverse_relationship_id);
    return {
      id: row.id,
      name: row.name,
      inverseRelationshipId: row.inverse_relationship_id,
      inverseRelationship: inverse ? { id: inverse.id, name: inverse.name } : null,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  });
}

async function toRelationshipTypeResponse(db: Executor, row: RelationshipTypeRow): Promise<RelationshipTypeResponse> {
  const [response] = await toRelationshipTypeResponses(db, row.workspace_id, [row]);
  return response!;
}

/** Relationship responses; accounts and types are read once for the whole list. */
export async function toAccountRelationshipResponses(
  db: Executor,
  workspaceId: string,
  rows: AccountRelationshipRow[],
): Promise<AccountRelationshipResponse[]> {
  const [accounts, typeRows] = await Promise.all([
    repo.findAccountSummaries(
      db,
      workspaceId,
      rows.flatMap((r) => [r.account_id, r.related_account_id]),
    ),
    repo.findTypesByIds(
      db,
      workspaceId,
      rows.map((r) => r.relationship_type_id),
    ),
  ]);
  const accountById = new Map(accounts.map((a) => [a.id, { id: a.id, name: a.name, primaryDomain: a.primary_domain }]));
  const typeById = new Map((await toRelationshipTypeResponses(db, workspaceId, typeRows)).map((t) => [t.id, t]));
  const accountOf = (id: string) => accountById.get(id) ?? { id, name: '', primaryDomain: '' };
  return rows.map((row) => ({
    id: row.id,
    accountId: row.account_id,
    account: accountOf(row.account_id),
    relatedAccountId: row.related_account_id,
    relatedAccount: accountOf(row.related_account_id),
    relationshipType: typeById.get(row.relationship_type_id)!,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }));
}

async function toAccountRelationshipResponse(db: Executor, row: AccountRelationshipRow): Promise<AccountRelationshipResponse> {
  const [response] = await toAccountRelationshipResponses(db, row.workspace_id, [row]);
  return response!;
}

// Lookups

/** A live relationship type of the workspace, or NOT_FOUND (also for another workspace's id). */
export async function getRelationshipTypeRowOrThrow(db: Executor, workspaceId: string, id: string): Promise<RelationshipTypeRow> {
  const row = await repo.findType(db, workspaceId, requireUuid(id));
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

/** A live relationship of the workspace, or NOT_FOUND (also for another workspace's id). */
export async function getAccountRelationshipRowOrThrow(db: Executor, workspaceId: string, id: string): Promise<AccountRelationshipRow> {
  const row = await repo.findRelationship(db, workspaceId, requireUuid(id));
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

/** A type a request body names: a 400 naming the field when the workspace has no such live type. */
async function requireBodyType(db: Executor, workspaceId: string, ref: string, field: string): Promise<RelationshipTypeRow> {
  const row = isUuid(ref) ? await repo.findType(db, workspaceId, ref.toLowerCase()) : undefined;
  if (!row) throw new AppError('BAD_REQUEST', `${field} must be the id of a relationship type`);
  return row;
}

function bodyAccountId(ref: string, field: string): string {
  if (!isUuid(ref)) throw new AppError('BAD_REQUEST', `${field} must be the id of an account`);
  return ref.toLowerCase();
}

function duplicateTypeName(name: string): AppError {
  return new AppError('CONFLICT', `A relationship type named ${name} already exists`);
}

function duplicateRelationship(typeName: string): AppError {
  return new AppError('CONFLICT', `The account already has a ${typeName} relationship with the related account`);
}

function typeName(input: string): string {
  const name = input.trim();
  if (name === '') throw new AppError('BAD_REQUEST', 'name should not be empty');
  return name;
}

// Relationship types

export async function listRelationshipTypes(ctx: AppContext, scope: WorkspaceScope): Promise<RelationshipTypeResponse[]> {
  const db = ctx.db.kysely;
  return toRelationshipTypeResponses(db, scope.workspaceId, await repo.listTypes(db, scope.workspaceId));
}

/**
 * Makes `a` and `b` each other's inverse (`a` alone when they are the same type), unlinking
 * whatever pointed to either of them before. Run it in a transaction holding the types lock.
 */
async function linkInverses(trx: Executor, workspaceId: string, a: RelationshipTypeRow, b: RelationshipTypeRow, at: string): Promise<void> {
  await repo.clearInversesPointingTo(trx, workspaceId, a.id, at);
  if (b.id !== a.id) await repo.clearInversesPointingTo(trx, workspaceId, b.id, at);
  await repo.updateType(trx, workspaceId, a.id, { inverse_relationship_id: b.id, updated_at: at });
  if (b.id !== a.id) await repo.updateType(trx, workspaceId, b.id, { inverse_relationship_id: a.id, updated_at: at });
}

/** Clears `a`'s inverse and its partner's pointer back. Run it in a transaction holding the types lock. */
async function unlinkInverse(trx: Executor, workspaceId: string, a: RelationshipTypeRow, at: string): Promise<void> {
  await repo.clearInversesPointingTo(trx, workspaceId, a.id, at);
  await repo.updateType(trx, workspaceId, a.id, { inverse_relationship_id: null, updated_at: at });
}

/** Adds a type, linked both ways to `inverseRelationshipId` when given. Admins only. */
export async function createRelationshipType(
  ctx: AppContext,
  scope: WorkspaceScope,
  input: CreateRelationshipTypeInput,
): Promise<RelationshipTypeResponse> {
  authorize(scope.role, 'configure');
  const name = typeName(input.name);
  const db = ctx.db.kysely;
  try {
    const row = await db.transaction().execute(async (trx) => {
      await repo.lockRelationshipTypes(trx, ctx.db.dialect, scope.workspaceId, 'exclusive');
      if (await repo.findTypeByName(trx, scope.workspaceId, name)) throw duplicateTypeName(name);
      const inverse =
        input.inverseRelationshipId === undefined || input.inverseRelationshipId === null
          ? undefined
          : await requireBodyType(trx, scope.workspaceId, input.inverseRelationshipId, 'inverseRelationshipId');
      const at = now();
      const created = await repo.insertType(trx, {
        id: newId(),
        workspace_id: scope.workspaceId,
        name,
        inverse_relationship_id: null,
        created_at: at,
        updated_at: at,
      });
      if (!inverse) return created;
      await linkInverses(trx, scope.workspaceId, created, inverse, at);
      return getRelationshipTypeRowOrThrow(trx, scope.workspaceId, created.id);
    });
    return toRelationshipTypeResponse(db, row);
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateTypeName(name);
    throw error;
  }
}

/**
 * Renames a type and/or changes its inverse: another type's id links the two both ways (their
 * previous partners are unlinked), the type's own id makes it symmetric, null clears it.
 */
export async function updateRelationshipType(
  ctx: AppContext,
  scope: WorkspaceScope,
  id: string,
  input: UpdateRelationshipTypeInput,
): Promise<RelationshipTypeResponse> {
  const db = ctx.db.kysely;
  // Existence before permission: another workspace's id is a 404 for everyone.
  await getRelationshipTypeRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'configure');
  const name = input.name === undefined ? undefined : typeName(input.name);
  try {
    const row = await db.transaction().execute(async (trx) => {
      await repo.lockRelationshipTypes(trx, ctx.db.dialect, scope.workspaceId, 'exclusive');
      const current = await getRelationshipTypeRowOrThrow(trx, scope.workspaceId, id);
      if (name !== undefined && name.toLowerCase() !== current.name.toLowerCase()) {
        const clash = await repo.findTypeByName(trx, scope.workspaceId, name);
        if (clash && clash.id !== current.id) throw duplicateTypeName(name);
      }
      const at = now();
      if (input.inverseRelationshipId === null) {
        if (current.inverse_relationship_id !== null) await unlinkInverse(trx, scope.workspaceId, current, at);
      } else if (input.inverseRelationshipId !== undefined) {
        const target =
          isUuid(input.inverseRelationshipId) && input.inverseRelationshipId.toLowerCase() === current.id
            ? current
            : await requireBodyType(trx, scope.workspaceId, input.inverseRelationshipId, 'inverseRelationshipId');
        const linked = current.inverse_relationship_id === target.id && (target.id === current.id || target.inverse_relationship_id === current.id);
        if (!linked) await linkInverses(trx, scope.workspaceId, current, target, at);
      }
      return repo.updateType(trx, scope.workspaceId, current.id, { ...(name !== undefined ? { name } : {}), updated_at: at });
    });
    return toRelationshipTypeResponse(db, row);
  } catch (error) {
    if (isUniqueViolation(error) && name !== undefined) throw duplicateTypeName(name);
    throw error;
  }
}

/** Deletes a type no live relationship uses (409 naming the count otherwise), unlinking its partner. */
export async function deleteRelationshipType(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  const db = ctx.db.kysely;
  await getRelationshipTypeRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'configure');
  await db.transaction().execute(async (trx) => {
    await repo.lockRelationshipTypes(trx, ctx.db.dialect, scope.workspaceId, 'exclusive');
    const current = await getRelationshipTypeRowOrThrow(trx, scope.workspaceId, id);
    const used = await repo.countRelationshipsOfType(trx, scope.workspaceId, current.id);
    if (used > 0) {
      throw new AppError('CONFLICT', `${current.name} is used by ${used} ${used === 1 ? 'relationship' : 'relationships'}; delete or change them first`);
    }
    const at = now();
    await repo.clearInversesPointingTo(trx, scope.workspaceId, current.id, at);
    await repo.updateType(trx, scope.workspaceId, current.id, { inverse_relationship_id: null, deleted_at: at, updated_at: at });
  });
}

// Relationships

/** The relationships starting from an account (404 when the workspace has no such live account), newest first. */
export async function listAccountRelationships(
  ctx: AppContext,
  scope: WorkspaceScope,
  query: RelationshipListQueryValue,
  page: ThenaPage,
): Promise<ThenaListResult<AccountRelationshipResponse>> {
  const db = ctx.db.kysely;
  const account = await getAccountRowOrThrow(db, scope.workspaceId, query.accountId);
  const { rows, total } = await repo.listRelationships(db, scope.workspaceId, account.id, {
    offset: (page.page - 1) * page.limit,
    limit: page.limit,
  });
  return { items: await toAccountRelationshipResponses(db, scope.workspaceId, rows), total };
}

/** Both accounts must be live accounts of the workspace: a 400 naming the field otherwise. */
async function requireBodyAccounts(ctx: AppContext, trx: Executor, workspaceId: string, accountId: string, relatedAccountId: string): Promise<void> {
  const live = new Set((await repo.findLiveAccounts(trx, ctx.db.dialect, workspaceId, [accountId, relatedAccountId])).map((a) => a.id));
  if (!live.has(accountId)) throw new AppError('BAD_REQUEST', 'accountId must be the id of an account');
  if (!live.has(relatedAccountId)) throw new AppError('BAD_REQUEST', 'relatedAccountId must be the id of an account');
}

/**
 * Relates two accounts. When the type has an inverse, the inverse relationship (related account
 * → account) is created too if missing, in the same transaction.
 */
export async function createAccountRelationship(
  ctx: AppContext,
  scope: WorkspaceScope,
  input: CreateAccountRelationshipInput,
): Promise<AccountRelationshipResponse> {
  authorize(scope.role, 'write');
  const accountId = bodyAccountId(input.accountId, 'accountId');
  const relatedAccountId = bodyAccountId(input.relatedAccountId, 'relatedAccountId');
  if (accountId === relatedAccountId) throw new AppError('BAD_REQUEST', 'relatedAccountId must be another account than accountId');
  const db = ctx.db.kysely;
  let typeNameForConflict = 'such';
  try {
    const row = await db.transaction().execute(async (trx) => {
      await repo.lockRelationshipTypes(trx, ctx.db.dialect, scope.workspaceId, 'shared');
      await repo.lockAccountPair(trx, ctx.db.dialect, scope.workspaceId, accountId, relatedAccountId);
      await requireBodyAccounts(ctx, trx, scope.workspaceId, accountId, relatedAccountId);
      const type = await requireBodyType(trx, scope.workspaceId, input.relationshipType, 'relationshipType');
      typeNameForConflict = type.name;
      if (await repo.findRelationshipByKey(trx, scope.workspaceId, { accountId, relatedAccountId, typeId: type.id })) {
        throw duplicateRelationship(type.name);
      }
      const at = now();
      const created = await repo.insertRelationship(trx, {
        id: newId(),
        workspace_id: scope.workspaceId,
        account_id: accountId,
        related_account_id: relatedAccountId,
        relationship_type_id: type.id,
        created_at: at,
        updated_at: at,
      });
      if (type.inverse_relationship_id !== null) await ensureInverse(trx, scope.workspaceId, created, type.inverse_relationship_id, at);
      return created;
    });
    return toAccountRelationshipResponse(db, row);
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateRelationship(typeNameForConflict);
    throw error;
  }
}

/** Creates `related → account` with the inverse type unless it exists. */
async function ensureInverse(trx: Executor, workspaceId: string, row: AccountRelationshipRow, inverseTypeId: string, at: string): Promise<void> {
  const key = { accountId: row.related_account_id, relatedAccountId: row.account_id, typeId: inverseTypeId };
  if (await repo.findRelationshipByKey(trx, workspaceId, key)) return;
  await repo.insertRelationship(trx, {
    id: newId(),
    workspace_id: workspaceId,
    account_id: key.accountId,
    related_account_id: key.relatedAccountId,
    relationship_type_id: inverseTypeId,
    created_at: at,
    updated_at: at,
  });
}

/** The inverse of a relationship: `related → account` with its type's inverse type, when both exist. */
async function findInverse(trx: Executor, workspaceId: string, row: AccountRelationshipRow): Promise<AccountRelationshipRow | undefined> {
  const type = await repo.findType(trx, workspaceId, row.relationship_type_id);
  if (!type || type.inverse_relationship_id === null) return undefined;
  return repo.findRelationshipByKey(trx, workspaceId, {
    accountId: row.related_account_id,
    relatedAccountId: row.account_id,
    typeId: type.inverse_relationship_id,
  });
}

/**
 * Changes a relationship's type. Its inverse moves with it: to the new type's inverse (created
 * when missing), or away when the new type has none.
 */
export async function updateAccountRelationship(
  ctx: AppContext,
  scope: WorkspaceScope,
  id: string,
  input: UpdateAccountRelationshipInput,
): Promise<AccountRelationshipResponse> {
  const db = ctx.db.kysely;
  const existing = await getAccountRelationshipRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'write');
  let typeNameForConflict = 'such';
  try {
    const row = await db.transaction().execute(async (trx) => {
      await repo.lockRelationshipTypes(trx, ctx.db.dialect, scope.workspaceId, 'shared');
      await repo.lockAccountPair(trx, ctx.db.dialect, scope.workspaceId, existing.account_id, existing.related_account_id);
      const current = await getAccountRelationshipRowOrThrow(trx, scope.workspaceId, id);
      const type = await requireBodyType(trx, scope.workspaceId, input.relationshipType, 'relationshipType');
      typeNameForConflict = type.name;
      if (type.id === current.relationship_type_id) return current;
      const key = { accountId: current.account_id, relatedAccountId: current.related_account_id };
      if (await repo.findRelationshipByKey(trx, scope.workspaceId, { ...key, typeId: type.id })) throw duplicateRelationship(type.name);
      const inverse = await findInverse(trx, scope.workspaceId, current);
      const at = now();
      const updated = await repo.updateRelationship(trx, scope.workspaceId, current.id, { relationship_type_id: type.id, updated_at: at });
      const inverseTypeId = type.inverse_relationship_id;
      if (inverse) {
        const target =
          inverseTypeId === null
            ? undefined
            : await repo.findRelationshipByKey(trx, scope.workspaceId, {
                accountId: current.related_account_id,
                relatedAccountId: current.account_id,
                typeId: inverseTypeId,
              });
        if (inverseTypeId === null || (target && target.id !== inverse.id)) {
          await repo.softDeleteRelationships(trx, scope.workspaceId, [inverse.id], at);
        } else if (!target) {
          await repo.updateRelationship(trx, scope.workspaceId, inverse.id, { relationship_type_id: inverseTypeId, updated_at: at });
        }
      } else if (inverseTypeId !== null) {
        await ensureInverse(trx, scope.workspaceId, updated, inverseTypeId, at);
      }
      return updated;
    });
    return toAccountRelationshipResponse(db, row);
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateRelationship(typeNameForConflict);
    throw error;
  }
}

/** Soft-deletes a relationship together with its inverse. */
export async function deleteAccountRelationship(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  const db = ctx.db.kysely;
  const existing = await getAccountRelationshipRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'write');
  await db.transaction().execute(async (trx) => {
    await repo.lockRelationshipTypes(trx, ctx.db.dialect, scope.workspaceId, 'shared');
    await repo.lockAccountPair(trx, ctx.db.dialect, scope.workspaceId, existing.account_id, existing.related_account_id);
    const current = await getAccountRelationshipRowOrThrow(trx, scope.workspaceId, id);
    const inverse = await findInverse(trx, scope.workspaceId, current);
    await repo.softDeleteRelationships(trx, scope.workspaceId, inverse ? [current.id, inverse.id] : [current.id], now());
  });
}
