import { AppError } from '../../errors.js';
import type { WorkspaceRole } from './workspaces.table.js';

/** What each role may do in a workspace (docs/permissions.md is the reader's version). */
export type WorkspaceAction =
  /** See the workspace and its resources. */
  | 'read'
  /** Create and change resources. */
  | 'write'
  /** Add, remove and re-role members (owners only touch owners). */
  | 'manage_members'
  /** Rename, re-slug, delete the workspace. */
  | 'manage_workspace'
  /** Change the workspace's configuration: customer-accounts attribute values, relationship types. */
  | 'configure';

const RANK: Record<WorkspaceRole, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };

const MINIMUM_ROLE: Record<WorkspaceAction, WorkspaceRole> = {
  read: 'viewer',
  write: 'member',
  manage_members: 'admin',
  manage_workspace: 'owner',
  configure: 'admin',
};

export function can(role: WorkspaceRole, action: WorkspaceAction): boolean {
  return RANK[role] >= RANK[MINIMUM_ROLE[action]];
}

/** Throws FORBIDDEN unless the role allows the action. */
export function authorize(role: WorkspaceRole, action: WorkspaceAction): void {
  if (!can(role, action)) throw new AppError('FORBIDDEN');
}

export function outranks(role: WorkspaceRole, other: WorkspaceRole): boolean {
  return RANK[role] > RANK[other];
}
