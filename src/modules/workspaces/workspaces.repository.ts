import type { Insertable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedQuery } from '../../db/prepared.js';
import { containsText } from '../../db/values.js';
import type {
  WorkspaceMemberRow,
  WorkspaceMembersTable,
  WorkspaceRole,
  WorkspaceRow,
  WorkspacesTable,
} from './workspaces.table.js';

export interface WorkspaceWithRole {
  workspace: WorkspaceRow;
  role: WorkspaceRole;
}

const WORKSPACE_COLUMNS = [
  'w.id',
  'w.slug',
  'w.name',
  'w.profile_photo_url',
  'w.multiplai_id',
  'w.is_onboarded',
  'w.metadata',
  'w.owner_id',
  'w.created_at',
  'w.updated_at',
] as const;

function splitRole<T extends { member_role: WorkspaceRole }>(row: T): WorkspaceWithRole {
  const { member_role, ...workspace } = row;
  return { workspace: workspace as unknown as WorkspaceRow, role: member_role };
}

const membership = preparedQuery((db, p: { workspaceId: string; userId: number }) =>
  db
    .selectFrom('workspaces as w')
    .innerJoin('workspace_members as m', 'm.workspace_id', 'w.id')
    .select([...WORKSPACE_COLUMNS, 'm.role as member_role'])
    .where('w.id', '=', p.workspaceId)
    .where('m.user_id', '=', p.userId),
);

/** The workspace with the user's role in it, or undefined when the user is not a member. */
export async function findMembership(db: Executor, workspaceId: string, userId: number): Promise<WorkspaceWithRole | undefined> {
  const [row] = await membership(db, { workspaceId, userId });
  return row ? splitRole(row) : undefined;
}

const workspaceForViewer = preparedQuery((db, p: { workspaceId: string; viewerId: number }) =>
  db
    .selectFrom('workspaces as w')
    .leftJoin('workspace_members as m', (join) => join.onRef('m.workspace_id', '=', 'w.id').on('m.user_id', '=', p.viewerId))
    .select([...WORKSPACE_COLUMNS, 'm.role as member_role'])
    .where('w.id', '=', p.workspaceId),
);

/** The workspace and the viewer's role in it (undefined when the viewer is not a member). */
export async function findWorkspaceForViewer(
  db: Executor,
  workspaceId: string,
  viewerId: number,
): Promise<{ workspace: WorkspaceRow; role: WorkspaceRole | undefined } | undefined> {
  const [row] = await workspaceForViewer(db, { workspaceId, viewerId });
  if (!row) return undefined;
  const { member_role, ...workspace } = row;
  return { workspace: workspace as unknown as WorkspaceRow, role: member_role ?? undefined };
}

export function findWorkspaceById(db: Executor, id: string): Promise<WorkspaceRow | undefined> {
  return db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function slugExists(db: Executor, slug: string): Promise<boolean> {
  const row = await db.selectFrom('workspaces').select('id').where('slug', '=', slug).executeTakeFirst();
  return row !== undefined;
}

export function insertWorkspace(db: Executor, values: Insertable<WorkspacesTable>): Promise<WorkspaceRow> {
  return db.insertInto('workspaces').values(values).returningAll().executeTakeFirstOrThrow();
}

export function updateWorkspace(db: Executor, id: string, values: Updateable<WorkspacesTable>): Promise<WorkspaceRow> {
  return db.updateTable('workspaces').set(values).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

export async function deleteWorkspace(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('workspaces').where('id', '=', id).execute();
}

/** Whether any user has this workspace as their primary one. */
export async function isSomeonesPrimaryWorkspace(db: Executor, id: string): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('primary_workspace_id', '=', id).executeTakeFirst();
  return row !== undefined;
}

export interface WorkspaceListFilter {
  search?: string;
  role?: WorkspaceRole;
}

/** Workspaces the user belongs to, with their role; the caller adds order and paging. */
export function memberWorkspacesQuery(db: Executor, userId: number, filter: WorkspaceListFilter) {
  let query = db
    .selectFrom('workspaces as w')
    .innerJoin('workspace_members as m', 'm.workspace_id', 'w.id')
    .where('m.user_id', '=', userId);
  if (filter.search) {
    const search = filter.search;
    query = query.where((eb) => eb.or([containsText('w.name', search), containsText('w.slug', search)]));
  }
  if (filter.role) query = query.where('m.role', '=', filter.role);
  return query;
}

export function workspaceColumns() {
  return [...WORKSPACE_COLUMNS, 'm.role as member_role'] as const;
}

export { splitRole as toWorkspaceWithRole };

export function insertMember(db: Executor, values: Insertable<WorkspaceMembersTable>): Promise<WorkspaceMemberRow> {
  return db.insertInto('workspace_members').values(values).returningAll().executeTakeFirstOrThrow();
}

export function findMember(db: Executor, workspaceId: string, userId: number): Promise<WorkspaceMemberRow | undefined> {
  return db
    .selectFrom('workspace_members')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

export function updateMemberRole(db: Executor, workspaceId: string, userId: number, role: WorkspaceRole, at: string) {
  return db
    .updateTable('workspace_members')
    .set({ role, updated_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('user_id', '=', userId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteMember(db: Executor, workspaceId: string, userId: number): Promise<void> {
  await db.deleteFrom('workspace_members').where('workspace_id', '=', workspaceId).where('user_id', '=', userId).execute();
}

export async function countOwners(db: Executor, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('workspace_members')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('workspace_id', '=', workspaceId)
    .where('role', '=', 'owner')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Another owner to show as the workspace's `user` when the current one leaves. */
export function findOtherOwner(db: Executor, workspaceId: string, exceptUserId: number) {
  return db
    .selectFrom('workspace_members')
    .select('user_id')
    .where('workspace_id', '=', workspaceId)
    .where('role', '=', 'owner')
    .where('user_id', '!=', exceptUserId)
    .orderBy('created_at')
    .executeTakeFirst();
}

/** Members with their user rows; the caller adds order and paging. */
export function membersQuery(db: Executor, workspaceId: string, filter: { search?: string; role?: WorkspaceRole }) {
  let query = db
    .selectFrom('workspace_members as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .where('m.workspace_id', '=', workspaceId);
  if (filter.search) {
    const search = filter.search;
    query = query.where((eb) => eb.or([containsText('u.name', search), containsText('u.email', search)]));
  }
  if (filter.role) query = query.where('m.role', '=', filter.role);
  return query;
}

/** Member counts for a set of workspaces (workspace metrics). */
export async function countMembersByWorkspace(db: Executor, workspaceIds: readonly string[]): Promise<Map<string, number>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('workspace_members')
    .select(['workspace_id', (eb) => eb.fn.countAll<number>().as('count')])
    .where('workspace_id', 'in', [...workspaceIds])
    .groupBy('workspace_id')
    .execute();
  return new Map(rows.map((r) => [r.workspace_id, Number(r.count)]));
}
