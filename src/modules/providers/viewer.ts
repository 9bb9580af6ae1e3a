import type { AppContext } from '../../context.js';
import type { Principal } from '../auth/auth.service.js';
import type { UserResource } from '../users/users.schemas.js';
import { toUserLeaf, userFields } from '../users/user.shape.js';
import { toWorkspaceLeaf, workspaceFields } from '../workspaces/workspace.shape.js';
import type { WorkspaceResource } from '../workspaces/workspaces.schemas.js';
import { primaryMembershipOf, type WorkspaceScope } from '../workspaces/workspaces.service.js';

/** Nested resources already known from the request's principal, so responses skip their queries. */
export interface KnownResources {
  users: Map<number, UserResource>;
  workspaces: Map<string, WorkspaceResource>;
}

export function noKnownResources(): KnownResources {
  return { users: new Map(), workspaces: new Map() };
}

/**
 * The caller as a nested `user`, and the workspace the request acts in when it is the caller's
 * primary one and they own it: the common case, built from the principal without a query.
 */
export async function knownResourcesOf(ctx: AppContext, principal: Principal, scope: WorkspaceScope): Promise<KnownResources> {
  const known = noKnownResources();
  const primary = await primaryMembershipOf(ctx, principal);
  const me = principal.user;
  known.users.set(me.id, { ...userFields(me), primary_workspace: toWorkspaceLeaf(primary.workspace, primary.role) });
  if (primary.workspace.id === scope.workspaceId && primary.workspace.owner_id === me.id) {
    known.workspaces.set(scope.workspaceId, { ...workspaceFields(primary.workspace, primary.role), user: toUserLeaf(me) });
  }
  return known;
}
