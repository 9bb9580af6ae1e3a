import { sql, type Insertable, type RawBuilder, type SqlBool } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { GranteeType, ShareResourceType, ShareRow, SharesTable } from './shares.table.js';

/** Who a grant may name when access is checked: the user, the workspace they act in, everyone. */
export interface GranteeMatch {
  userId: number;
  workspaceId: string;
  /** Whether grants to everyone (`public`) count. */
  includePublic: boolean;
  /** Whether grants to the user and to their acting workspace count. */
  includePersonal?: boolean;
}

/**
 * `exists (a grant on this resource to one of the grantees)`, for the visibility filters of the
 * resource's own list query; `resourceIdColumn` is the resource's id column there (`a.id`).
 */
export function grantExists(resourceType: ShareResourceType, resourceIdColumn: string, grantee: GranteeMatch): RawBuilder<SqlBool> {
  const personal = grantee.includePersonal ?? true;
  const conditions: RawBuilder<unknown>[] = [];
  if (personal) {
    conditions.push(sql`(s.grantee_type = 'user' and s.grantee_user_id = ${grantee.userId})`);
    conditions.push(sql`(s.grantee_type = 'workspace' and s.grantee_workspace_id = ${grantee.workspaceId})`);
  }
  if (grantee.includePublic) conditions.push(sql`s.grantee_type = 'public'`);
  if (conditions.length === 0) return sql<SqlBool>`1 = 0`;
  return sql<SqlBool>`exists (select 1 from shares s where s.resource_type = ${resourceType} and s.resource_id = ${sql.ref(resourceIdColumn)} and (${sql.join(conditions, sql` or `)}))`;
}

/** The grants on resources that name the user, their acting workspace or everyone. */
export function findGrantsFor(
  db: Executor,
  resourceType: ShareResourceType,
  resourceIds: readonly string[],
  userId: number,
  workspaceId: string,
): Promise<Pick<ShareRow, 'resource_id' | 'grantee_type' | 'permission'>[]> {
  if (resourceIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('shares')
    .select(['resource_id', 'grantee_type', 'permission'])
    .where('resource_type', '=', resourceType)
    .where('resource_id', 'in', [...new Set(resourceIds)])
    .where((eb) =>
      eb.or([
        eb.and([eb('grantee_type', '=', 'user'), eb('grantee_user_id', '=', userId)]),
        eb.and([eb('grantee_type', '=', 'workspace'), eb('grantee_workspace_id', '=', workspaceId)]),
        eb('grantee_type', '=', 'public'),
      ]),
    )
    .execute();
}

/** Grants on one resource of the workspace; the caller adds order and paging. */
export function grantsQuery(db: Executor, workspaceId: string, resourceType: ShareResourceType, resourceId: string) {
  return db
    .selectFrom('shares as s')
    .where('s.workspace_id', '=', workspaceId)
    .where('s.resource_type', '=', resourceType)
    .where('s.resource_id', '=', resourceId);
}

export function listGrants(db: Executor, workspaceId: string, resourceType: ShareResourceType, resourceId: string): Promise<ShareRow[]> {
  return grantsQuery(db, workspaceId, resourceType, resourceId).selectAll('s').orderBy('s.created_at').orderBy('s.id').execute();
}

export function findGrant(
  db: Executor,
  workspaceId: string,
  resourceType: ShareResourceType,
  resourceId: string,
  id: string,
): Promise<ShareRow | undefined> {
  return grantsQuery(db, workspaceId, resourceType, resourceId).selectAll('s').where('s.id', '=', id).executeTakeFirst();
}

/** The partial unique index that holds one grant per grantee, as ON CONFLICT names it. */
const CONFLICT_TARGET: Record<GranteeType, { columns: ('resource_type' | 'resource_id' | 'grantee_user_id' | 'grantee_workspace_id')[]; predicate: string }> = {
  user: { columns: ['resource_type', 'resource_id', 'grantee_user_id'], predicate: `grantee_type = 'user'` },
  workspace: { columns: ['resource_type', 'resource_id', 'grantee_workspace_id'], predicate: `grantee_type = 'workspace'` },
  public: { columns: ['resource_type', 'resource_id'], predicate: `grantee_type = 'public'` },
};

/**
 * Inserts a grant, or changes the permission of the grantee's existing one. The database's
 * unique index decides, so two concurrent grants to the same grantee leave one row.
 */
export async function upsertGrant(db: Executor, values: Insertable<SharesTable>): Promise<void> {
  const target = CONFLICT_TARGET[values.grantee_type];
  await db
    .insertInto('shares')
    .values(values)
    .onConflict((oc) =>
      oc
        .columns(target.columns)
        // A literal predicate: PostgreSQL matches a partial index only against constants.
        .where(sql.raw<SqlBool>(target.predicate))
        .doUpdateSet({ permission: values.permission, user_id: values.user_id, updated_at: values.updated_at }),
    )
    .execute();
}

export async function deletePublicGrant(db: Executor, workspaceId: string, resourceType: ShareResourceType, resourceId: string): Promise<void> {
  await db
    .deleteFrom('shares')
    .where('workspace_id', '=', workspaceId)
    .where('resource_type', '=', resourceType)
    .where('resource_id', '=', resourceId)
    .where('grantee_type', '=', 'public')
    .execute();
}

export async function deleteGrant(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('shares').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
}

export async function deleteGrantsOf(db: Executor, workspaceId: string, resourceType: ShareResourceType, resourceId: string): Promise<void> {
  await db
    .deleteFrom('shares')
    .where('workspace_id', '=', workspaceId)
    .where('resource_type', '=', resourceType)
    .where('resource_id', '=', resourceId)
    .execute();
}

export async function countGrants(db: Executor, workspaceId: string, resourceType: ShareResourceType, resourceId: string): Promise<number> {
  const row = await grantsQuery(db, workspaceId, resourceType, resourceId)
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Workspaces named by grants, with the viewer's role in each (undefined where not a member). */
export function findWorkspacesForViewer(db: Executor, ids: readonly string[], viewerId: number) {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('workspaces as w')
    .leftJoin('workspace_members as m', (join) => join.onRef('m.workspace_id', '=', 'w.id').on('m.user_id', '=', viewerId))
    .selectAll('w')
    .select('m.role as viewer_role')
    .where('w.id', 'in', [...new Set(ids)])
    .execute();
}
