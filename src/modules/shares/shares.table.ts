import type { Selectable } from 'kysely';

export const SHARE_RESOURCE_TYPES = ['agent', 'workflow', 'prompt'] as const;
export type ShareResourceType = (typeof SHARE_RESOURCE_TYPES)[number];
export const SHARE_PERMISSIONS = ['view', 'run', 'edit'] as const;
export type SharePermission = (typeof SHARE_PERMISSIONS)[number];
export type GranteeType = 'user' | 'workspace' | 'public';

/** One grant on a shareable resource: to a user, to a workspace, or to everyone (public). */
export interface SharesTable {
  id: string;
  /** The workspace the shared resource belongs to. */
  workspace_id: string;
  resource_type: ShareResourceType;
  resource_id: string;
  grantee_type: GranteeType;
  grantee_user_id: number | null;
  grantee_workspace_id: string | null;
  permission: SharePermission;
  /** Who granted it. */
  user_id: number | null;
  created_at: string;
  updated_at: string;
}

export type ShareRow = Selectable<SharesTable>;
