import type { ColumnType, Selectable, SqlBool } from 'kysely';

export const WORKSPACE_ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type WorkspaceRole = (typeof WORKSPACE_ROLES)[number];

export interface WorkspacesTable {
  id: string;
  slug: string;
  name: string;
  profile_photo_url: string | null;
  multiplai_id: string | null;
  is_onboarded: ColumnType<SqlBool, boolean | undefined, boolean>;
  /** JSON object; see WorkspaceMetadata in workspaces.schemas.ts. */
  metadata: ColumnType<unknown, string, string>;
  /** The user shown as the workspace's `user`: its creator, or the owner who took over. */
  owner_id: number;
  created_at: string;
  updated_at: string;
}

export interface WorkspaceMembersTable {
  workspace_id: string;
  user_id: number;
  role: WorkspaceRole;
  created_at: string;
  updated_at: string;
}

export type WorkspaceRow = Selectable<WorkspacesTable>;
export type WorkspaceMemberRow = Selectable<WorkspaceMembersTable>;
