import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { isUniqueViolation, isUuid, newId, now, toJson } from '../../db/values.js';
import { AppError, fieldError } from '../../errors.js';
import { findUserByEmail, findUserById, findUsersByIds } from '../users/users.repository.js';
import { toUserLeaf, type UserLeafResource } from '../users/user.shape.js';
import type { UserRow } from '../users/users.table.js';
import type { Principal } from '../auth/auth.service.js';
import { authorize } from './permissions.js';
import { WORKSPACE_COUNTERS, type WorkspaceCounterName } from './workspace-metrics.js';
import * as repo from './workspaces.repository.js';
import type { WorkspaceMetadataValue } from './workspace.shape.js';
import { workspaceFields } from './workspace.shape.js';
import type { WorkspaceRole, WorkspaceRow } from './workspaces.table.js';
import type { AddMemberInput, CreateWorkspaceInput, UpdateWorkspaceInput, WorkspaceResource } from './workspaces.schemas.js';

/** The workspace a request acts in, and the caller's standing there. */
export interface WorkspaceScope {
  workspaceId: string;
  role: WorkspaceRole;
  userId: number;
}

/** "My AI Workspace!" → "my-ai-workspace". */
export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/g, '');
  return slug || 'workspace';
}

async function availableSlug(db: Executor, name: string): Promise<string> {
  const base = slugify(name);
  if (!(await repo.slugExists(db, base))) return base;
  for (let attempt = 0; attempt < 5; attempt++) {
    const candidate = `${base}-${randomBytes(3).toString('hex')}`;
    if (!(await repo.slugExists(db, candidate))) return candidate;
  }
  return `${base}-${newId().slice(-12)}`;
}

/** Creates a workspace whose owner (and first member) is the user, in the caller's transaction. */
export async function createWorkspaceWithOwner(
  trx: Executor,
  ownerId: number,
  input: { name: string; slug?: string; profile_photo_url?: string | null; is_onboarded?: boolean; metadata?: WorkspaceMetadataValue },
): Promise<WorkspaceRow> {
  const at = now();
  const workspace = await repo.insertWorkspace(trx, {
    id: newId(),
    slug: input.slug ?? (await availableSlug(trx, input.name)),
    name: input.name.trim(),
    profile_photo_url: input.profile_photo_url ?? null,
    multiplai_id: null,
    is_onboarded: input.is_onboarded ?? false,
    metadata: toJson(input.metadata ?? {}),
    owner_id: ownerId,
    created_at: at,
    updated_at: at,
  });
  await repo.insertMember(trx, { workspace_id: workspace.id, user_id: ownerId, role: 'owner', created_at: at, updated_at: at });
  return workspace;
}

/** The principal's primary workspace and role, looked up once per cached principal. */
export async function primaryMembershipOf(ctx: AppContext, principal: Principal): Promise<repo.WorkspaceWithRole> {
  if (principal.primary) return principal.primary;
  const { user } = principal;
  // Every user has a primary workspace: it is created with them and cannot be deleted.
  const membership = user.primary_workspace_id ? await repo.findMembership(ctx.db.kysely, user.primary_workspace_id, user.id) : undefined;
  if (!membership) throw new Error(`User ${user.id} is not a member of a primary workspace`);
  principal.primary = membership;
  return membership;
}

/**
 * The workspace named by the request (`X-Workspace-Id`, or `x-org-id` on `/v1`), else the
 * user's primary one. A workspace the user does not belong to is NOT_FOUND: its existence
 * is not revealed.
 */
export async function resolveWorkspaceScope(ctx: AppContext, principal: Principal, requested: string | undefined): Promise<WorkspaceScope> {
  const { user } = principal;
  const workspaceId = requested?.toLowerCase() ?? user.primary_workspace_id;
  if (!workspaceId || !isUuid(workspaceId)) throw new AppError('NOT_FOUND');
  const membership =
    workspaceId === user.primary_workspace_id
      ? await primaryMembershipOf(ctx, principal)
      : await repo.findMembership(ctx.db.kysely, workspaceId, user.id);
  if (!membership) throw new AppError('NOT_FOUND');
  return { workspaceId: membership.workspace.id, role: membership.role, userId: user.id };
}

/** The caller's membership of a workspace named in the path; NOT_FOUND for non-members. */
export async function getMembershipOrThrow(db: Executor, workspaceId: string, userId: number): Promise<repo.WorkspaceWithRole> {
  const membership = await repo.findMembership(db, workspaceId, userId);
  if (!membership) throw new AppError('NOT_FOUND');
  return membership;
}

/** Workspace resources with their `user` (the owner) nested one level; one query for all owners. */
export async function toWorkspaceResources(db: Executor, items: repo.WorkspaceWithRole[]): Promise<WorkspaceResource[]> {
  const owners = new Map((await findUsersByIds(db, items.map((i) => i.workspace.owner_id))).map((u) => [u.id, u]));
  return items.map(({ workspace, role }) => {
    const owner = owners.get(workspace.owner_id);
    return { ...workspaceFields(workspace, role), user: owner ? toUserLeaf(owner) : null };
  });
}

export async function toWorkspaceResource(db: Executor, item: repo.WorkspaceWithRole): Promise<WorkspaceResource> {
  const [resource] = await toWorkspaceResources(db, [item]);
  return resource!;
}

const WORKSPACE_SORT_COLUMNS = { name: 'w.name', created_at: 'w.created_at', updated_at: 'w.updated_at' } as const;
export const WORKSPACE_SORTS = Object.keys(WORKSPACE_SORT_COLUMNS);

export async function listWorkspaces(
  ctx: AppContext,
  user: UserRow,
  page: PageRequest,
  filter: repo.WorkspaceListFilter,
): Promise<PageResult<WorkspaceResource>> {
  const result = await fetchPage(page, {
    base: repo.memberWorkspacesQuery(ctx.db.kysely, user.id, filter),
    select: (q) => q.select([...repo.workspaceColumns(), sql.ref(page.sort.column).as('sort_value')]),
    idColumn: 'w.id',
    sortField: 'sort_value',
    idField: 'id',
    map: (row: { member_role: WorkspaceRole }) => repo.toWorkspaceWithRole(row),
  });
  const resources = await toWorkspaceResources(ctx.db.kysely, result.items);
  return { ...result, items: resources };
}

export async function createWorkspace(ctx: AppContext, user: UserRow, input: CreateWorkspaceInput): Promise<WorkspaceResource> {
  try {
    const workspace = await ctx.db.kysely.transaction().execute(async (trx) => {
      if (input.slug && (await repo.slugExists(trx, input.slug))) throw slugTaken();
      return createWorkspaceWithOwner(trx, user.id, input);
    });
    return toWorkspaceResource(ctx.db.kysely, { workspace, role: 'owner' });
  } catch (error) {
    if (isUniqueViolation(error)) throw slugTaken();
    throw error;
  }
}

function slugTaken(): AppError {
  return fieldError('slug', 'The slug has already been taken.');
}

export async function getWorkspace(ctx: AppContext, user: UserRow, workspaceId: string): Promise<WorkspaceResource> {
  return toWorkspaceResource(ctx.db.kysely, await getMembershipOrThrow(ctx.db.kysely, workspaceId, user.id));
}

export async function updateWorkspace(
  ctx: AppContext,
  user: UserRow,
  workspaceId: string,
  input: UpdateWorkspaceInput,
): Promise<WorkspaceResource> {
  const membership = await getMembershipOrThrow(ctx.db.kysely, workspaceId, user.id);
  authorize(membership.role, 'manage_workspace');
  const changes: Parameters<typeof repo.updateWorkspace>[2] = {};
  if (input.name !== undefined) changes.name = input.name.trim();
  if (input.slug !== undefined) changes.slug = input.slug;
  if (input.profile_photo_url !== undefined) changes.profile_photo_url = input.profile_photo_url;
  if (input.is_onboarded !== undefined) changes.is_onboarded = input.is_onboarded;
  if (input.metadata !== undefined) changes.metadata = toJson(input.metadata);
  if (Object.keys(changes).length === 0) return toWorkspaceResource(ctx.db.kysely, membership);
  changes.updated_at = now();
  try {
    const workspace = await ctx.db.kysely.transaction().execute(async (trx) => {
      if (input.slug !== undefined && input.slug !== membership.workspace.slug && (await repo.slugExists(trx, input.slug))) {
        throw slugTaken();
      }
      return repo.updateWorkspace(trx, workspaceId, changes);
    });
    ctx.principals.forgetWorkspace(workspaceId);
    return toWorkspaceResource(ctx.db.kysely, { workspace, role: membership.role });
  } catch (error) {
    if (isUniqueViolation(error)) throw slugTaken();
    throw error;
  }
}

/** Deletes a workspace and everything in it; a user's primary workspace is kept (409). */
export async function deleteWorkspace(ctx: AppContext, user: UserRow, workspaceId: string): Promise<void> {
  const membership = await getMembershipOrThrow(ctx.db.kysely, workspaceId, user.id);
  authorize(membership.role, 'manage_workspace');
  await ctx.db.kysely.transaction().execute(async (trx) => {
    if (await repo.isSomeonesPrimaryWorkspace(trx, workspaceId)) {
      throw new AppError('CONFLICT', 'A primary workspace cannot be deleted.');
    }
    await repo.deleteWorkspace(trx, workspaceId);
  });
  ctx.principals.forgetWorkspace(workspaceId);
}

export interface MemberResource {
  user: UserLeafResource;
  role: WorkspaceRole;
  created_at: string;
  updated_at: string;
}

const MEMBER_SORT_COLUMNS = { created_at: 'm.created_at', name: 'u.name', email: 'u.email', role: 'm.role' } as const;
export const MEMBER_SORTS = Object.keys(MEMBER_SORT_COLUMNS);
export const SORT_COLUMNS = { workspaces: WORKSPACE_SORT_COLUMNS, members: MEMBER_SORT_COLUMNS };

export async function listMembers(
  ctx: AppContext,
  user: UserRow,
  workspaceId: string,
  page: PageRequest,
  filter: { search?: string; role?: WorkspaceRole },
): Promise<PageResult<MemberResource>> {
  await getMembershipOrThrow(ctx.db.kysely, workspaceId, user.id);
  return fetchPage(page, {
    base: repo.membersQuery(ctx.db.kysely, workspaceId, filter),
    select: (q) =>
      q.select([
        'u.id',
        'u.name',
        'u.first_name',
        'u.last_name',
        'u.email',
        'u.profile_photo_url',
        'u.multiplai_id',
        'u.created_at',
        'u.updated_at',
        'm.role as member_role',
        'm.created_at as member_created_at',
        'm.updated_at as member_updated_at',
        sql.ref(page.sort.column).as('sort_value'),
        'm.user_id as member_user_id',
      ]),
    idColumn: 'm.user_id',
    sortField: 'sort_value',
    idField: 'member_user_id',
    map: (row: UserRow & { member_role: WorkspaceRole; member_created_at: string; member_updated_at: string }) => ({
      user: toUserLeaf(row),
      role: row.member_role,
      created_at: row.member_created_at,
      updated_at: row.member_updated_at,
    }),
  });
}

async function toMemberResource(db: Executor, workspaceId: string, userId: number): Promise<MemberResource> {
  const [member, memberUser] = await Promise.all([repo.findMember(db, workspaceId, userId), findUserById(db, userId)]);
  if (!member || !memberUser) throw new AppError('NOT_FOUND');
  return { user: toUserLeaf(memberUser), role: member.role, created_at: member.created_at, updated_at: member.updated_at };
}

/**
 * Serialises membership changes of one workspace: on PostgreSQL by locking its row, on SQLite
 * by the single writer. Keeps "at least one owner" true under concurrent changes.
 */
async function lockWorkspace(ctx: AppContext, trx: Executor, workspaceId: string): Promise<void> {
  if (ctx.db.dialect === 'postgres') {
    await trx.selectFrom('workspaces').select('id').where('id', '=', workspaceId).forUpdate().execute();
  }
}

export async function addMember(ctx: AppContext, user: UserRow, workspaceId: string, input: AddMemberInput): Promise<MemberResource> {
  const membership = await getMembershipOrThrow(ctx.db.kysely, workspaceId, user.id);
  authorize(membership.role, 'manage_members');
  if (input.email === undefined && input.user_id === undefined) {
    throw fieldError('email', 'The email field is required when user id is not present.');
  }
  const role = input.role ?? 'member';
  if (role === 'owner' && membership.role !== 'owner') throw new AppError('FORBIDDEN');
  const invitee =
    input.user_id !== undefined ? await findUserById(ctx.db.kysely, input.user_id) : await findUserByEmail(ctx.db.kysely, input.email ?? '');
  if (!invitee) {
    throw input.user_id !== undefined
      ? fieldError('user_id', 'The selected user id is invalid.')
      : fieldError('email', 'The selected email is invalid.');
  }
  const at = now();
  try {
    await repo.insertMember(ctx.db.kysely, { workspace_id: workspaceId, user_id: invitee.id, role, created_at: at, updated_at: at });
  } catch (error) {
    if (isUniqueViolation(error)) throw new AppError('CONFLICT', 'The user is already a member of this workspace.');
    throw error;
  }
  return toMemberResource(ctx.db.kysely, workspaceId, invitee.id);
}

export async function changeMemberRole(
  ctx: AppContext,
  user: UserRow,
  workspaceId: string,
  memberId: number,
  role: WorkspaceRole,
): Promise<MemberResource> {
  const membership = await getMembershipOrThrow(ctx.db.kysely, workspaceId, user.id);
  authorize(membership.role, 'manage_members');
  await ctx.db.kysely.transaction().execute(async (trx) => {
    await lockWorkspace(ctx, trx, workspaceId);
    const member = await repo.findMember(trx, workspaceId, memberId);
    if (!member) throw new AppError('NOT_FOUND');
    // Only owners grant or take away ownership.
    if ((member.role === 'owner' || role === 'owner') && membership.role !== 'owner') throw new AppError('FORBIDDEN');
    if (member.role === 'owner' && role !== 'owner' && (await repo.countOwners(trx, workspaceId)) <= 1) {
      throw new AppError('CONFLICT', 'A workspace must keep at least one owner.');
    }
    if (member.role !== role) await repo.updateMemberRole(trx, workspaceId, memberId, role, now());
    if (member.role === 'owner' && role !== 'owner') await handOverWorkspaceUser(trx, workspaceId, memberId);
  });
  ctx.principals.forgetWorkspace(workspaceId);
  ctx.principals.forgetUser({ id: memberId });
  return toMemberResource(ctx.db.kysely, workspaceId, memberId);
}

/** Removes a member; members may remove themselves (leave), admins and owners remove others. */
export async function removeMember(ctx: AppContext, user: UserRow, workspaceId: string, memberId: number): Promise<void> {
  const membership = await getMembershipOrThrow(ctx.db.kysely, workspaceId, user.id);
  if (memberId !== user.id) authorize(membership.role, 'manage_members');
  await ctx.db.kysely.transaction().execute(async (trx) => {
    await lockWorkspace(ctx, trx, workspaceId);
    const member = await repo.findMember(trx, workspaceId, memberId);
    if (!member) throw new AppError('NOT_FOUND');
    if (member.role === 'owner' && memberId !== user.id && membership.role !== 'owner') throw new AppError('FORBIDDEN');
    const memberUser = await findUserById(trx, memberId);
    if (memberUser?.primary_workspace_id === workspaceId) {
      throw new AppError('CONFLICT', 'A user cannot leave their primary workspace.');
    }
    if (member.role === 'owner' && (await repo.countOwners(trx, workspaceId)) <= 1) {
      throw new AppError('CONFLICT', 'A workspace must keep at least one owner.');
    }
    await repo.deleteMember(trx, workspaceId, memberId);
    if (member.role === 'owner') await handOverWorkspaceUser(trx, workspaceId, memberId);
  });
  ctx.principals.forgetWorkspace(workspaceId);
  ctx.principals.forgetUser({ id: memberId });
}

/** When the owner shown as the workspace's `user` stops being an owner, another owner is shown. */
async function handOverWorkspaceUser(trx: Executor, workspaceId: string, formerOwnerId: number): Promise<void> {
  const workspace = await repo.findWorkspaceById(trx, workspaceId);
  if (!workspace || workspace.owner_id !== formerOwnerId) return;
  const next = await repo.findOtherOwner(trx, workspaceId, formerOwnerId);
  if (next) await repo.updateWorkspace(trx, workspaceId, { owner_id: next.user_id, updated_at: now() });
}

/**
 * Counts per workspace the user belongs to (or only `onlyWorkspaceId`), and their totals, from
 * every registered counter.
 */
export async function workspaceMetrics(ctx: AppContext, user: UserRow, onlyWorkspaceId?: string) {
  let query = repo.memberWorkspacesQuery(ctx.db.kysely, user.id, {});
  if (onlyWorkspaceId) query = query.where('w.id', '=', onlyWorkspaceId);
  const rows = await query
    .select(['w.id', 'w.slug', 'w.name'])
    .orderBy('w.name')
    .orderBy('w.id')
    .execute();
  const ids = rows.map((r) => r.id);
  const names = Object.keys(WORKSPACE_COUNTERS) as WorkspaceCounterName[];
  const results = await Promise.all(names.map((name) => WORKSPACE_COUNTERS[name](ctx.db.kysely, user.id, ids)));
  const totals = Object.fromEntries(names.map((name) => [name, 0])) as Record<WorkspaceCounterName, number>;
  const data = rows.map((row) => {
    const counts = {} as Record<WorkspaceCounterName, number>;
    names.forEach((name, i) => {
      counts[name] = results[i]!.get(row.id) ?? 0;
      totals[name] += counts[name];
    });
    return { workspace: { uuid: row.id, slug: row.slug, name: row.name }, counts };
  });
  return { data, totals };
}
