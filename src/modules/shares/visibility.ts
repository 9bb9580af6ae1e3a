import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { WorkspaceRole } from '../workspaces/workspaces.table.js';
import { grantExists } from './shares.repository.js';
import type { ShareResourceType } from './shares.table.js';

/** Who is looking: the user, the workspace the request acts in and their role there. */
export interface ResourceViewer {
  workspaceId: string;
  role: WorkspaceRole;
  userId: number;
}

/** Which resources a list shows (`filter[source]`); `all` is everything the viewer may see. */
export type ResourceSourceFilter = 'workspace' | 'shared' | 'public' | 'workspace_or_shared' | 'all';

export const isManager = (role: WorkspaceRole) => role === 'admin' || role === 'owner';

const grantee = (viewer: ResourceViewer, includePublic: boolean, includePersonal = true) => ({
  userId: viewer.userId,
  workspaceId: viewer.workspaceId,
  includePublic,
  includePersonal,
});

/**
 * The condition `source` puts on a shareable resource's table (agents, workflows) queried as
 * `alias`: the acting workspace's own by role and visibility (their own, all of them for admins
 * and owners, the non-private ones for everyone else), public ones (by visibility or a public
 * share), and ones shared with the user or the acting workspace.
 */
export function visibilityCondition(type: ShareResourceType, alias: string, viewer: ResourceViewer, source: ResourceSourceFilter): RawBuilder<SqlBool> {
  const column = (name: string) => sql.ref(`${alias}.${name}`);
  const id = `${alias}.id`;
  const seenInOwnWorkspace = isManager(viewer.role)
    ? sql<SqlBool>`(${column('workspace_id')} = ${viewer.workspaceId})`
    : sql<SqlBool>`(${column('workspace_id')} = ${viewer.workspaceId} and (${column('user_id')} = ${viewer.userId} or ${column('visibility')} <> 'private'))`;
  const isPublic = sql<SqlBool>`(${column('visibility')} = 'public' or ${grantExists(type, id, grantee(viewer, true, false))})`;
  const sharedPersonally = grantExists(type, id, grantee(viewer, false));
  const ownWorkspace = sql<SqlBool>`${column('workspace_id')} = ${viewer.workspaceId}`;
  const otherWorkspace = sql<SqlBool>`${column('workspace_id')} <> ${viewer.workspaceId}`;
  const workspace = sql<SqlBool>`(${seenInOwnWorkspace} or (${ownWorkspace} and ${grantExists(type, id, grantee(viewer, true))}))`;
  const shared = sql<SqlBool>`(${otherWorkspace} and ${sharedPersonally})`;
  switch (source) {
    case 'workspace':
      return workspace;
    case 'shared':
      return shared;
    case 'workspace_or_shared':
      return sql<SqlBool>`(${workspace} or ${shared})`;
    case 'public':
      return isPublic;
    case 'all':
      return sql<SqlBool>`(${seenInOwnWorkspace} or ${isPublic} or ${sharedPersonally})`;
  }
}
