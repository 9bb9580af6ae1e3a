import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fromJson } from '../../db/values.js';
import { AppError } from '../../errors.js';
import { grantedPermission, grantsOfCaller, higherPermission, permits, type GrantsOfCaller } from '../shares/shares.service.js';
import { findUsersByIds } from '../users/users.repository.js';
import { toUserLeaf } from '../users/user.shape.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { findVisibleAgent, findVisibleAgents } from './agents.repository.js';
import { DEFAULT_MAX_STEPS, DEFAULT_RETRIEVE_LIMIT, type AgentLeafResource, type AgentResource } from './agents.schemas.js';
import type { AgentRow } from './agents.table.js';

export { visibleAgentsQuery, type AgentSourceFilter, type AgentViewer } from './agents.repository.js';
export { AgentLeaf, type AgentLeafResource } from './agents.schemas.js';
export type { AgentRow } from './agents.table.js';

/** What a caller may do with an agent. `owner` is its creator's. */
export type AgentPermission = 'view' | 'run' | 'edit' | 'owner';

export interface AgentAccess {
  agent: AgentRow;
  permission: AgentPermission;
}

/**
 * The caller's permission on an agent, from its own workspace and from grants; the highest wins.
 *
 * Acting in the agent's workspace: its creator is `owner`; admins and owners get `edit`; other
 * members get `run` (viewers `view`) when it is not private. A `public` agent gives every user
 * `run`. Grants to the user, to the acting workspace (at most `view` for a viewer there) and
 * to everyone give their permission. Undefined: the caller may not even see it.
 */
export function agentPermissionOf(agent: AgentRow, scope: WorkspaceScope, grants: GrantsOfCaller): AgentPermission | undefined {
  let permission: AgentPermission | undefined;
  if (agent.workspace_id === scope.workspaceId) {
    if (agent.user_id !== null && agent.user_id === scope.userId) return 'owner';
    if (scope.role === 'admin' || scope.role === 'owner') permission = 'edit';
    else if (agent.visibility !== 'private') permission = scope.role === 'viewer' ? 'view' : 'run';
  }
  if (agent.visibility === 'public') permission = higherPermission(permission, 'run');
  return higherPermission<AgentPermission>(permission, grantedPermission(grants, scope.role));
}

/**
 * Who may share, delete or change the visibility of an agent: its creator, and admins and owners
 * of its workspace acting there. An `edit` grant does not give this.
 */
export function canManageAgent(agent: AgentRow, scope: WorkspaceScope): boolean {
  if (agent.workspace_id !== scope.workspaceId) return false;
  return (agent.user_id !== null && agent.user_id === scope.userId) || scope.role === 'admin' || scope.role === 'owner';
}

/** The caller's permission on each agent (one query for all their grants). */
export async function agentPermissionsOf(db: Executor, scope: WorkspaceScope, rows: AgentRow[]): Promise<Map<string, AgentPermission | undefined>> {
  const needGrants = rows.filter((r) => !(r.workspace_id === scope.workspaceId && r.user_id === scope.userId)).map((r) => r.id);
  const grants = await grantsOfCaller(db, 'agent', needGrants, scope.userId, scope.workspaceId);
  return new Map(rows.map((row) => [row.id, agentPermissionOf(row, scope, grants.get(row.id) ?? {})]));
}

/** `getAgentAccessOrThrow` on a given executor (a transaction). */
export async function resolveAgentAccessOrThrow(
  db: Executor,
  scope: WorkspaceScope,
  agentId: string,
  need: 'view' | 'run' | 'edit',
): Promise<AgentAccess> {
  const agent = await findVisibleAgent(db, scope, agentId.toLowerCase());
  if (!agent) throw new AppError('NOT_FOUND');
  const permission = (await agentPermissionsOf(db, scope, [agent])).get(agent.id);
  if (!permission) throw new AppError('NOT_FOUND');
  if (!permits(permission, need)) throw new AppError('FORBIDDEN');
  return { agent, permission };
}

/**
 * The agent and the caller's effective permission on it. NOT_FOUND when they may not see it
 * (whatever the reason, so its existence is not revealed); FORBIDDEN when they see it but hold
 * less than `need`.
 */
export function getAgentAccessOrThrow(
  ctx: AppContext,
  scope: WorkspaceScope,
  agentId: string,
  need: 'view' | 'run' | 'edit',
): Promise<AgentAccess> {
  return resolveAgentAccessOrThrow(ctx.db.kysely, scope, agentId, need);
}

/** Agents by id that the caller may see, with their permission; others are left out. */
export async function findAgentsAccess(db: Executor, scope: WorkspaceScope, ids: readonly string[]): Promise<Map<string, AgentAccess>> {
  const rows = await findVisibleAgents(db, scope, ids.map((id) => id.toLowerCase()));
  const permissions = await agentPermissionsOf(db, scope, rows);
  const result = new Map<string, AgentAccess>();
  for (const agent of rows) {
    const permission = permissions.get(agent.id);
    if (permission) result.set(agent.id, { agent, permission });
  }
  return result;
}

export interface AgentMemorySettings {
  enabled: boolean;
  retrieve_limit: number;
}

export interface AgentRunSettings {
  temperature: number | null;
  max_tokens: number | null;
  max_steps: number;
}

/** The stored memory settings with their defaults filled in. */
export function agentMemoryOf(row: AgentRow): AgentMemorySettings {
  const stored = fromJson<Partial<AgentMemorySettings> | null>(row.memory) ?? {};
  return { enabled: stored.enabled ?? true, retrieve_limit: stored.retrieve_limit ?? DEFAULT_RETRIEVE_LIMIT };
}

/** The stored run settings with their defaults filled in. */
export function agentSettingsOf(row: AgentRow): AgentRunSettings {
  const stored = fromJson<Partial<AgentRunSettings> | null>(row.settings) ?? {};
  return { temperature: stored.temperature ?? null, max_tokens: stored.max_tokens ?? null, max_steps: stored.max_steps ?? DEFAULT_MAX_STEPS };
}

/** The agent's tool uuids, in the order the model sees them. */
export function agentToolIdsOf(row: AgentRow): string[] {
  return fromJson<string[] | null>(row.tools) ?? [];
}

/**
 * Whose credentials the agent's default model choice is checked against and runs with: its
 * creator, or `fallbackUserId` once the creator's user is gone.
 */
export function agentCredentialOwner(row: AgentRow, fallbackUserId: number): { workspaceId: string; userId: number } {
  return { workspaceId: row.workspace_id, userId: row.user_id ?? fallbackUserId };
}

export function toAgentLeaf(row: AgentRow): AgentLeafResource {
  return {
    uuid: row.id,
    name: row.name,
    description: row.description,
    profile_photo_url: row.profile_photo_url,
    profile_photo_config: fromJson<AgentLeafResource['profile_photo_config'] | null>(row.profile_photo_config) ?? {},
    visibility: row.visibility,
  };
}

/**
 * Agent resources for the caller: creators looked up in one query, permissions from one query
 * of grants unless `permissions` already holds them. Rows the caller may not see are answered
 * with `view`; pass only rows from `visibleAgentsQuery` or an access check.
 */
export async function toAgentResources(
  db: Executor,
  rows: AgentRow[],
  viewer: WorkspaceScope,
  permissions?: Map<string, AgentPermission | undefined>,
): Promise<AgentResource[]> {
  if (rows.length === 0) return [];
  const known = permissions ?? (await agentPermissionsOf(db, viewer, rows));
  const creators = new Map((await findUsersByIds(db, rows.flatMap((r) => (r.user_id === null ? [] : [r.user_id])))).map((u) => [u.id, u]));
  return rows.map((row) => {
    const creator = row.user_id === null ? undefined : creators.get(row.user_id);
    return {
      uuid: row.id,
      name: row.name,
      description: row.description,
      instructions: row.instructions,
      llm_uuid: row.llm_id,
      account_uuid: row.account_id,
      tools: agentToolIdsOf(row),
      memory: agentMemoryOf(row),
      settings: agentSettingsOf(row),
      profile_photo_url: row.profile_photo_url,
      profile_photo_config: fromJson<AgentResource['profile_photo_config'] | null>(row.profile_photo_config) ?? {},
      visibility: row.visibility,
      metadata: fromJson<Record<string, unknown> | null>(row.metadata) ?? {},
      workspace_uuid: row.workspace_id,
      is_owner: row.user_id !== null && row.user_id === viewer.userId,
      permission: known.get(row.id) ?? 'view',
      user: creator ? toUserLeaf(creator) : null,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  });
}
