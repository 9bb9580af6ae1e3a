import { sql } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { newId, now, toJson } from '../../db/values.js';
import { AppError, fieldError } from '../../errors.js';
import { checkOptionalModelChoice } from '../runs/model-target.js';
import * as shares from '../shares/shares.service.js';
import type { ShareInput, ShareResource } from '../shares/shares.schemas.js';
import type { GranteeType } from '../shares/shares.table.js';
import { validateToolIds } from '../tools/tools.service.js';
import { can } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import {
  agentCredentialOwner,
  agentMemoryOf,
  agentSettingsOf,
  canManageAgent,
  resolveAgentAccessOrThrow,
  toAgentResources,
  type AgentAccess,
} from './access.js';
import * as repo from './agents.repository.js';
import {
  DEFAULT_MAX_STEPS,
  DEFAULT_RETRIEVE_LIMIT,
  type AgentResource,
  type AgentSource,
  type CreateAgentInput,
  type UpdateAgentInput,
} from './agents.schemas.js';
import type { AgentRow } from './agents.table.js';
import { countAgentRemoved } from '../metrics/rollups.js';

export const SORT_COLUMNS = { name: 'a.name', created_at: 'a.created_at', updated_at: 'a.updated_at' } as const;

export interface AgentListOptions {
  search?: string;
  visibility?: AgentRow['visibility'];
  mine?: boolean;
  source?: AgentSource;
}

export async function listAgents(
  ctx: AppContext,
  scope: WorkspaceScope,
  page: PageRequest,
  options: AgentListOptions,
): Promise<PageResult<AgentResource>> {
  const db = ctx.db.kysely;
  const result = await fetchPage(page, {
    base: repo.listAgentsQuery(db, scope, {
      search: options.search,
      visibility: options.visibility,
      mine: options.mine,
      source: options.source ?? 'workspace_or_shared',
    }),
    select: (q) => q.selectAll('a').select(sql.ref(page.sort.column).as('sort_value')),
    idColumn: 'a.id',
    sortField: 'sort_value',
    idField: 'id',
    map: (row: AgentRow & { sort_value?: unknown }) => {
      const { sort_value: _sort, ...agent } = row;
      return agent as AgentRow;
    },
  });
  return { ...result, items: await toAgentResources(db, result.items, scope) };
}

async function toResource(db: Executor, access: AgentAccess, scope: WorkspaceScope): Promise<AgentResource> {
  const [resource] = await toAgentResources(db, [access.agent], scope, new Map([[access.agent.id, access.permission]]));
  return resource!;
}

export async function getAgent(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<AgentResource> {
  const access = await resolveAgentAccessOrThrow(ctx.db.kysely, scope, id, 'view');
  return toResource(ctx.db.kysely, access, scope);
}

/** The tool list: no repeats, and every tool usable in the agent's workspace (422 `tools.N`). */
async function checkTools(db: Executor, scope: WorkspaceScope, toolIds: string[]): Promise<string[]> {
  const ids = toolIds.map((id) => id.toLowerCase());
  const seen = new Set<string>();
  for (const [i, id] of ids.entries()) {
    if (seen.has(id)) throw fieldError(`tools.${i}`, `The tools.${i} field has a duplicate value.`);
    seen.add(id);
  }
  await validateToolIds(db, scope, ids, 'tools');
  return ids;
}

/** The name without surrounding white space; one made only of spaces is missing. */
function nameOf(name: string): string {
  const trimmed = name.trim();
  if (trimmed === '') throw fieldError('name', 'The name field is required.');
  return trimmed;
}

function checkMaxSteps(ctx: AppContext, maxSteps: number | undefined): void {
  const limit = ctx.config.model.maxSteps;
  if (maxSteps !== undefined && maxSteps > limit) {
    throw fieldError('settings.max_steps', `The settings.max steps field must not be greater than ${limit}.`);
  }
}

export async function createAgent(ctx: AppContext, scope: WorkspaceScope, input: CreateAgentInput): Promise<AgentResource> {
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  const db = ctx.db.kysely;
  const name = nameOf(input.name);
  checkMaxSteps(ctx, input.settings?.max_steps);
  const llmId = input.llm_uuid?.toLowerCase() ?? null;
  const accountId = input.account_uuid?.toLowerCase() ?? null;
  await checkOptionalModelChoice(db, { workspaceId: scope.workspaceId, userId: scope.userId }, { llmId, accountId });
  const tools = await checkTools(db, scope, input.tools ?? []);
  const at = now();
  const row = await repo.insertAgent(db, {
    id: newId(),
    workspace_id: scope.workspaceId,
    user_id: scope.userId,
    name,
    description: input.description ?? null,
    instructions: input.instructions ?? '',
    llm_id: llmId,
    account_id: accountId,
    tools: toJson(tools),
    memory: toJson({ enabled: input.memory?.enabled ?? true, retrieve_limit: input.memory?.retrieve_limit ?? DEFAULT_RETRIEVE_LIMIT }),
    settings: toJson({
      temperature: input.settings?.temperature ?? null,
      max_tokens: input.settings?.max_tokens ?? null,
      max_steps: input.settings?.max_steps ?? Math.min(DEFAULT_MAX_STEPS, ctx.config.model.maxSteps),
    }),
    profile_photo_url: input.profile_photo_url ?? null,
    profile_photo_config: toJson(input.profile_photo_config ?? {}),
    visibility: input.visibility ?? 'private',
    metadata: toJson(input.metadata ?? {}),
    created_at: at,
    updated_at: at,
  });
  return toResource(db, { agent: row, permission: 'owner' }, scope);
}

/**
 * Changes an agent: needs `edit`. Its visibility is changed only by those who may share it
 * (its creator, admins and owners of its workspace): making it public is a way of sharing.
 */
export async function updateAgent(ctx: AppContext, scope: WorkspaceScope, id: string, input: UpdateAgentInput): Promise<AgentResource> {
  const db = ctx.db.kysely;
  const access = await resolveAgentAccessOrThrow(db, scope, id, 'edit');
  const current = access.agent;
  if (input.visibility !== undefined && input.visibility !== current.visibility && !canManageAgent(current, scope)) {
    throw new AppError('FORBIDDEN');
  }
  checkMaxSteps(ctx, input.settings?.max_steps);
  const changes: Parameters<typeof repo.updateAgent>[3] = {};
  const owner = agentCredentialOwner(current, scope.userId);
  if (input.llm_uuid !== undefined || input.account_uuid !== undefined) {
    const llmId = input.llm_uuid !== undefined ? (input.llm_uuid?.toLowerCase() ?? null) : current.llm_id;
    const accountId = input.account_uuid !== undefined ? (input.account_uuid?.toLowerCase() ?? null) : current.account_id;
    await checkOptionalModelChoice(db, owner, { llmId, accountId });
    changes.llm_id = llmId;
    changes.account_id = accountId;
  }
  if (input.tools !== undefined) {
    // Tools are checked in the agent's workspace, as its creator would use them.
    const toolScope: WorkspaceScope = { workspaceId: current.workspace_id, userId: owner.userId, role: scope.role };
    changes.tools = toJson(await checkTools(db, toolScope, input.tools));
  }
  if (input.name !== undefined) changes.name = nameOf(input.name);
  if (input.description !== undefined) changes.description = input.description;
  if (input.instructions !== undefined) changes.instructions = input.instructions;
  if (input.memory !== undefined) changes.memory = toJson({ ...agentMemoryOf(current), ...input.memory });
  if (input.settings !== undefined) changes.settings = toJson({ ...agentSettingsOf(current), ...input.settings });
  if (input.profile_photo_url !== undefined) changes.profile_photo_url = input.profile_photo_url;
  if (input.profile_photo_config !== undefined) changes.profile_photo_config = toJson(input.profile_photo_config);
  if (input.visibility !== undefined) changes.visibility = input.visibility;
  if (input.metadata !== undefined) changes.metadata = toJson(input.metadata);
  if (Object.keys(changes).length === 0) return toResource(db, access, scope);
  changes.updated_at = now();
  const row = await repo.updateAgent(db, current.workspace_id, current.id, changes);
  return toResource(db, { agent: row, permission: access.permission }, scope);
}

/** Who may manage (share, delete) the agent: 404 if they cannot see it, 403 if they see it only. */
async function getManagedAgentOrThrow(db: Executor, scope: WorkspaceScope, id: string): Promise<AgentRow> {
  const { agent } = await resolveAgentAccessOrThrow(db, scope, id, 'view');
  if (!canManageAgent(agent, scope)) throw new AppError('FORBIDDEN');
  return agent;
}

/**
 * Deletes an agent and its grants in one transaction. Its memories go with it (cascade);
 * threads, runs and messages stay, no longer linked to it.
 */
export async function deleteAgent(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  await ctx.db.kysely.transaction().execute(async (trx) => {
    const agent = await getManagedAgentOrThrow(trx, scope, id);
    await shares.deleteSharesOf(trx, { type: 'agent', id: agent.id, workspaceId: agent.workspace_id });
    // Its runs' history leaves the metrics rollups with it (docs/architecture.md § Metrics).
    await countAgentRemoved(trx, agent.id);
    await repo.deleteAgent(trx, agent.workspace_id, agent.id);
  });
}

function shareable(agent: AgentRow): shares.ShareableResource {
  return { type: 'agent', id: agent.id, workspaceId: agent.workspace_id, creatorId: agent.user_id };
}

/** Grants view/run/edit to users and workspaces, or sets the public grant; answers every grant. */
export async function shareAgent(ctx: AppContext, scope: WorkspaceScope, id: string, input: ShareInput): Promise<ShareResource[]> {
  const db = ctx.db.kysely;
  const agent = await db.transaction().execute(async (trx) => {
    const row = await getManagedAgentOrThrow(trx, scope, id);
    await shares.grantShares(trx, shareable(row), scope.userId, input);
    return row;
  });
  return shares.listAllShares(db, shareable(agent), scope.userId);
}

export async function listAgentShares(
  ctx: AppContext,
  scope: WorkspaceScope,
  id: string,
  page: PageRequest,
  filter: { granteeType?: GranteeType },
): Promise<PageResult<ShareResource>> {
  const db = ctx.db.kysely;
  const agent = await getManagedAgentOrThrow(db, scope, id);
  return shares.listShares(db, shareable(agent), scope.userId, page, filter);
}

export async function revokeAgentShare(ctx: AppContext, scope: WorkspaceScope, id: string, shareId: string): Promise<void> {
  const db = ctx.db.kysely;
  const agent = await getManagedAgentOrThrow(db, scope, id);
  await shares.revokeShare(db, shareable(agent), shareId);
}
