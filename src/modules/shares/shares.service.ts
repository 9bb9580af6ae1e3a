import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { newId, now } from '../../db/values.js';
import { AppError, type FieldErrors } from '../../errors.js';
import { findUserByEmail, findUsersByIds } from '../users/users.repository.js';
import { toUserLeaf } from '../users/user.shape.js';
import { findMembership } from '../workspaces/workspaces.repository.js';
import { toWorkspaceLeaf } from '../workspaces/workspace.shape.js';
import type { WorkspaceRole, WorkspaceRow } from '../workspaces/workspaces.table.js';
import * as repo from './shares.repository.js';
import type { ShareInput, ShareResource } from './shares.schemas.js';
import type { GranteeType, SharePermission, ShareResourceType, ShareRow } from './shares.table.js';

/** A permission on a shared resource; `owner` is its creator's and is never granted. */
export type ResourcePermission = SharePermission | 'owner';

const RANK: Record<ResourcePermission, number> = { view: 1, run: 2, edit: 3, owner: 4 };

/** Whether `held` covers `needed` (`edit` covers `run` covers `view`). */
export function permits(held: ResourcePermission | undefined, needed: ResourcePermission): boolean {
  return held !== undefined && RANK[held] >= RANK[needed];
}

/** The higher of two permissions; undefined counts as none. */
export function higherPermission<P extends ResourcePermission>(a: P | undefined, b: P | undefined): P | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return RANK[a] >= RANK[b] ? a : b;
}

/** What a share operation needs to know about the resource it is about. */
export interface ShareableResource {
  type: ShareResourceType;
  id: string;
  workspaceId: string;
  /** Its creator, who holds `owner` and cannot be granted anything. */
  creatorId: number | null;
}

/** The grants that reach a caller, one per grantee type. */
export interface GrantsOfCaller {
  user?: SharePermission;
  workspace?: SharePermission;
  public?: SharePermission;
}

/**
 * The highest of the grants that reach a caller. A viewer of the acting workspace gets at most
 * `view` through that workspace's grant: the grant is to the workspace, whose roles still apply.
 */
export function grantedPermission(grants: GrantsOfCaller, actingRole?: WorkspaceRole): SharePermission | undefined {
  const throughWorkspace = grants.workspace && actingRole === 'viewer' ? 'view' : grants.workspace;
  return higherPermission(higherPermission(grants.user, throughWorkspace), grants.public);
}

/**
 * Grants on many resources that reach a user acting in a workspace, by resource id: one query.
 */
export async function grantsOfCaller(
  db: Executor,
  resourceType: ShareResourceType,
  resourceIds: readonly string[],
  userId: number,
  actingWorkspaceId: string,
): Promise<Map<string, GrantsOfCaller>> {
  const byResource = new Map<string, GrantsOfCaller>();
  for (const row of await repo.findGrantsFor(db, resourceType, resourceIds, userId, actingWorkspaceId)) {
    const grants = byResource.get(row.resource_id) ?? {};
    grants[row.grantee_type] = higherPermission(grants[row.grantee_type], row.permission);
    byResource.set(row.resource_id, grants);
  }
  return byResource;
}

/**
 * The highest permission that grants give a user acting in a workspace on one resource: grants
 * to the user, to the acting workspace (at most `view` for a viewer there, when `actingRole` is
 * given) and to everyone. Undefined when no grant reaches them.
 */
export async function effectiveGrant(
  db: Executor,
  resourceType: ShareResourceType,
  resourceId: string,
  userId: number,
  actingWorkspaceId: string,
  actingRole?: WorkspaceRole,
): Promise<SharePermission | undefined> {
  const grants = (await grantsOfCaller(db, resourceType, [resourceId], userId, actingWorkspaceId)).get(resourceId) ?? {};
  return grantedPermission(grants, actingRole);
}

function failValidation(errors: FieldErrors): never {
  const first = Object.values(errors)[0]![0]!;
  throw new AppError('VALIDATION', first, { fields: errors });
}

interface ResolvedGrant {
  granteeType: GranteeType;
  userId: number | null;
  workspaceId: string | null;
  permission: SharePermission;
}

/**
 * Turns a share request into grants, checking every grantee: users by email (not the creator),
 * workspaces the granter belongs to. 422 naming each bad field.
 */
async function resolveGrants(db: Executor, resource: ShareableResource, granterId: number, input: ShareInput): Promise<ResolvedGrant[]> {
  const errors: FieldErrors = {};
  const add = (field: string, message: string) => (errors[field] ??= []).push(message);
  if (input.users === undefined && input.workspaces === undefined && input.public === undefined) {
    failValidation({ users: ['The users field is required when none of workspaces / public are present.'] });
  }
  const grants: ResolvedGrant[] = [];
  const seenUsers = new Set<string>();
  for (const [i, entry] of (input.users ?? []).entries()) {
    const field = `users.${i}.email`;
    const email = entry.email.trim().toLowerCase();
    if (seenUsers.has(email)) {
      add(field, `The ${field} field has a duplicate value.`);
      continue;
    }
    seenUsers.add(email);
    const user = await findUserByEmail(db, email);
    if (!user) add(field, `The selected ${field} is invalid.`);
    else if (user.id === resource.creatorId) add(field, `The ${field} field must not be the ${resource.type}’s creator, who already owns it.`);
    else grants.push({ granteeType: 'user', userId: user.id, workspaceId: null, permission: entry.permission });
  }
  const seenWorkspaces = new Set<string>();
  for (const [i, entry] of (input.workspaces ?? []).entries()) {
    const field = `workspaces.${i}.workspace_uuid`;
    const id = entry.workspace_uuid.toLowerCase();
    if (seenWorkspaces.has(id)) {
      add(field, `The ${field.replace(/_/g, ' ')} field has a duplicate value.`);
      continue;
    }
    seenWorkspaces.add(id);
    // Only workspaces the granter belongs to: others' existence is not revealed.
    if (!(await findMembership(db, id, granterId))) add(field, `The selected ${field.replace(/_/g, ' ')} is invalid.`);
    else grants.push({ granteeType: 'workspace', userId: null, workspaceId: id, permission: entry.permission });
  }
  if (input.public) grants.push({ granteeType: 'public', userId: null, workspaceId: null, permission: input.public });
  if (Object.keys(errors).length > 0) failValidation(errors);
  return grants;
}

/**
 * Applies a share request to a resource: upserts each grant (a grantee granted again gets the
 * new permission) and removes the public grant when `public` is null. The caller checks that
 * the granter may share, and passes a transaction so the request applies whole or not at all.
 */
export async function grantShares(trx: Executor, resource: ShareableResource, granterId: number, input: ShareInput): Promise<void> {
  const grants = await resolveGrants(trx, resource, granterId, input);
  const at = now();
  for (const grant of grants) {
    await repo.upsertGrant(trx, {
      id: newId(),
      workspace_id: resource.workspaceId,
      resource_type: resource.type,
      resource_id: resource.id,
      grantee_type: grant.granteeType,
      grantee_user_id: grant.userId,
      grantee_workspace_id: grant.workspaceId,
      permission: grant.permission,
      user_id: granterId,
      created_at: at,
      updated_at: at,
    });
  }
  if (input.public === null) await repo.deletePublicGrant(trx, resource.workspaceId, resource.type, resource.id);
}

/** Every grant on a resource, oldest first. */
export async function listAllShares(db: Executor, resource: ShareableResource, viewerId: number): Promise<ShareResource[]> {
  return toShareResources(db, await repo.listGrants(db, resource.workspaceId, resource.type, resource.id), viewerId);
}

export const SORT_COLUMNS = { created_at: 's.created_at', updated_at: 's.updated_at' } as const;

/** A page of a resource's grants. */
export async function listShares(
  db: Executor,
  resource: ShareableResource,
  viewerId: number,
  page: PageRequest,
  filter: { granteeType?: GranteeType },
): Promise<PageResult<ShareResource>> {
  let base = repo.grantsQuery(db, resource.workspaceId, resource.type, resource.id);
  if (filter.granteeType) base = base.where('s.grantee_type', '=', filter.granteeType);
  const result = await fetchPage(page, {
    base,
    select: (q) => q.selectAll('s').select(sql.ref(page.sort.column).as('sort_value')),
    idColumn: 's.id',
    sortField: 'sort_value',
    idField: 'id',
    map: (row: ShareRow & { sort_value?: unknown }) => {
      const { sort_value: _sort, ...share } = row;
      return share as ShareRow;
    },
  });
  return { ...result, items: await toShareResources(db, result.items, viewerId) };
}

/** Removes one grant of a resource; NOT_FOUND when it is not one of its grants. */
export async function revokeShare(db: Executor, resource: ShareableResource, shareId: string): Promise<void> {
  const grant = await repo.findGrant(db, resource.workspaceId, resource.type, resource.id, shareId.toLowerCase());
  if (!grant) throw new AppError('NOT_FOUND');
  await repo.deleteGrant(db, resource.workspaceId, grant.id);
}

/** Removes every grant of a resource (when it is deleted), in the caller's transaction. */
export function deleteSharesOf(trx: Executor, resource: Pick<ShareableResource, 'type' | 'id' | 'workspaceId'>): Promise<void> {
  return repo.deleteGrantsOf(trx, resource.workspaceId, resource.type, resource.id);
}

/** Share resources with their user and workspace nested; one query for each kind of grantee. */
export async function toShareResources(db: Executor, rows: ShareRow[], viewerId: number): Promise<ShareResource[]> {
  const userIds = rows.flatMap((r) => (r.grantee_user_id === null ? [] : [r.grantee_user_id]));
  const workspaceIds = rows.flatMap((r) => (r.grantee_workspace_id === null ? [] : [r.grantee_workspace_id]));
  const users = new Map((await findUsersByIds(db, userIds)).map((u) => [u.id, toUserLeaf(u)]));
  const workspaces = new Map(
    (await repo.findWorkspacesForViewer(db, workspaceIds, viewerId)).map((w) => {
      const { viewer_role, ...workspace } = w;
      return [workspace.id, toWorkspaceLeaf(workspace as WorkspaceRow, viewer_role ?? undefined)];
    }),
  );
  return rows.map((row) => ({
    uuid: row.id,
    resource_type: row.resource_type,
    resource_uuid: row.resource_id,
    grantee_type: row.grantee_type,
    permission: row.permission,
    user: row.grantee_user_id === null ? null : (users.get(row.grantee_user_id) ?? null),
    workspace: row.grantee_workspace_id === null ? null : (workspaces.get(row.grantee_workspace_id) ?? null),
    created_at: row.created_at,
    updated_at: row.updated_at,
  }));
}
