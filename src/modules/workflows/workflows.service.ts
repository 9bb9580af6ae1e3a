import { sql } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { fromJson, newId, now, toBool, toJson } from '../../db/values.js';
import { NODE_TYPES, nodeCatalog } from '../../engine/nodes/index.js';
import type { WorkflowGraph, WorkflowNode } from '../../engine/types.js';
import { AppError, type FieldErrors } from '../../errors.js';
import { MASKED, secretsOf } from '../secrets/secrets.service.js';
import * as shares from '../shares/shares.service.js';
import type { ShareInput, ShareResource } from '../shares/shares.schemas.js';
import type { GranteeType } from '../shares/shares.table.js';
import { can } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import {
  canManageWorkflow,
  defaultWorkflowSettings,
  hashWebhookSecret,
  newWebhookSecret,
  normalizeEdges,
  resolveWorkflowAccessOrThrow,
  toWorkflowResources,
  workflowGraphOf,
  workflowSettingsOf,
  type StoredVariable,
  type WorkflowAccess,
  type WorkflowSettings,
} from './access.js';
import { workflowGraphErrors } from './graph-check.js';
import { syncWorkflowSchedules } from './schedules.js';
import * as repo from './workflows.repository.js';
import type {
  CreateWorkflowInput,
  NodeInputValue,
  SettingsInputValue,
  UpdateWorkflowInput,
  VariableInputValue,
  WorkflowNodeTypeResource,
  WorkflowResource,
  WorkflowSource,
} from './workflows.schemas.js';
import type { WorkflowRow } from './workflows.table.js';
import { countWorkflowRemoved } from '../metrics/rollups.js';

export const SORT_COLUMNS = { name: 'w.name', created_at: 'w.created_at', updated_at: 'w.updated_at' } as const;

/** Where the caller stands and what base URL its webhook URLs are built on. */
export interface WorkflowCaller {
  scope: WorkspaceScope;
  /** ATHENA_PUBLIC_URL, else the request's origin. */
  baseUrl: string;
}

export interface WorkflowListOptions {
  search?: string;
  visibility?: WorkflowRow['visibility'];
  isActive?: boolean;
  mine?: boolean;
  source?: WorkflowSource;
}

export async function listWorkflows(
  ctx: AppContext,
  caller: WorkflowCaller,
  page: PageRequest,
  options: WorkflowListOptions,
): Promise<PageResult<WorkflowResource>> {
  const db = ctx.db.kysely;
  const result = await fetchPage(page, {
    base: repo.listWorkflowsQuery(db, caller.scope, {
      search: options.search,
      visibility: options.visibility,
      isActive: options.isActive,
      mine: options.mine,
      source: options.source ?? 'workspace_or_shared',
    }),
    select: (q) => q.selectAll('w').select(sql.ref(page.sort.column).as('sort_value')),
    idColumn: 'w.id',
    sortField: 'sort_value',
    idField: 'id',
    map: (row: WorkflowRow & { sort_value?: unknown }) => {
      const { sort_value: _sort, ...workflow } = row;
      return workflow as WorkflowRow;
    },
  });
  return { ...result, items: await toWorkflowResources(ctx, db, result.items, caller.scope, caller.baseUrl) };
}

async function toResource(ctx: AppContext, access: WorkflowAccess, caller: WorkflowCaller): Promise<WorkflowResource> {
  const [resource] = await toWorkflowResources(
    ctx,
    ctx.db.kysely,
    [access.workflow],
    caller.scope,
    caller.baseUrl,
    new Map([[access.workflow.id, access.permission]]),
  );
  return resource!;
}

export async function getWorkflow(ctx: AppContext, caller: WorkflowCaller, id: string): Promise<WorkflowResource> {
  const access = await resolveWorkflowAccessOrThrow(ctx.db.kysely, caller.scope, id, 'view');
  return toResource(ctx, access, caller);
}

// ---- what a save checks and stores ---------------------------------------------------------

/** Collects field problems across every check of a save, so one 422 names them all. */
class Problems {
  readonly errors: FieldErrors = {};
  add(field: string, message: string): void {
    (this.errors[field] ??= []).push(message);
  }
  addAll(errors: FieldErrors): void {
    for (const [field, messages] of Object.entries(errors)) for (const message of messages) this.add(field, message);
  }
  throwIfAny(): void {
    if (Object.keys(this.errors).length > 0) throw new AppError('VALIDATION', undefined, { fields: this.errors });
  }
}

/** The name without surrounding white space; one made only of spaces is missing. */
function nameOf(name: string, problems: Problems): string {
  const trimmed = name.trim();
  if (trimmed === '') problems.add('name', 'The name field is required.');
  return trimmed;
}

/** Nodes as stored: every field present, defaults filled in, so the engine and the API read one shape. */
function normalizeNodes(nodes: NodeInputValue[]): WorkflowNode[] {
  return nodes.map((node) => ({
    id: node.id,
    type: node.type,
    name: node.name?.trim() || nodeCatalog.get(node.type)?.label || node.id,
    position: node.position ?? { x: 0, y: 0 },
    parameters: node.parameters ?? {},
    retry: node.retry ?? null,
    on_error: node.on_error ?? 'stop',
    disabled: node.disabled ?? false,
    notes: node.notes ?? null,
  }));
}

/**
 * Variables as stored: secret values sealed with the workspace's key, `"********"` keeping the
 * stored secret of that name. Problems (a repeated name, a mask with nothing to keep) are added
 * to `problems`; the result is only used when there are none.
 */
async function sealVariables(
  ctx: AppContext,
  workspaceId: string,
  input: VariableInputValue[],
  current: StoredVariable[],
  problems: Problems,
): Promise<StoredVariable[]> {
  const stored = new Map(current.map((variable) => [variable.name, variable]));
  const seen = new Set<string>();
  const result: StoredVariable[] = [];
  for (const [i, variable] of input.entries()) {
    if (seen.has(variable.name)) {
      problems.add(`variables.${i}.name`, `The variables.${i}.name field has a duplicate value.`);
      continue;
    }
    seen.add(variable.name);
    const secret = variable.secret ?? false;
    const value = variable.value === undefined ? null : variable.value;
    const previous = stored.get(variable.name);
    if (value === MASKED && (secret || previous?.secret)) {
      // The mask stands for the stored secret: keep it, but never turn it into a plain value.
      if (!previous?.secret || previous.value === null) {
        problems.add(`variables.${i}.value`, `The variables.${i}.value field is masked, but the variable "${variable.name}" has no stored secret to keep.`);
      } else if (!secret) {
        problems.add(`variables.${i}.value`, `The variables.${i}.value field is masked: send the value to make "${variable.name}" a plain variable.`);
      } else {
        result.push({ name: variable.name, secret: true, value: previous.value });
      }
      continue;
    }
    if (!secret) {
      result.push({ name: variable.name, secret: false, value });
      continue;
    }
    const sealed = value === null ? null : await secretsOf(ctx).encrypt(ctx.db.kysely, workspaceId, JSON.stringify(value));
    result.push({ name: variable.name, secret: true, value: sealed });
  }
  return result;
}

/**
 * New settings: the current ones (or the defaults) with the given keys changed. The error
 * workflow must be another workflow of the same workspace that the caller can see.
 */
async function settingsFrom(
  ctx: AppContext,
  scope: WorkspaceScope,
  workflow: { id: string; workspaceId: string },
  current: WorkflowSettings,
  input: SettingsInputValue | undefined,
  problems: Problems,
): Promise<WorkflowSettings> {
  if (input === undefined) return current;
  const settings: WorkflowSettings = {
    error_workflow_uuid: input.error_workflow_uuid === undefined ? current.error_workflow_uuid : (input.error_workflow_uuid?.toLowerCase() ?? null),
    max_node_runs: input.max_node_runs ?? current.max_node_runs,
    webhook_timeout_ms: input.webhook_timeout_ms ?? current.webhook_timeout_ms,
    retention: {
      max_age_days: input.retention?.max_age_days === undefined ? current.retention.max_age_days : input.retention.max_age_days,
      max_count: input.retention?.max_count === undefined ? current.retention.max_count : input.retention.max_count,
    },
  };
  const errorWorkflow = settings.error_workflow_uuid;
  if (input.error_workflow_uuid !== undefined && errorWorkflow !== null) {
    const field = 'settings.error_workflow_uuid';
    if (errorWorkflow === workflow.id) {
      problems.add(field, 'The settings.error workflow uuid field must name another workflow, not this one.');
    } else {
      const target = await repo.findVisibleWorkflow(ctx.db.kysely, scope, errorWorkflow);
      if (!target || target.workspace_id !== workflow.workspaceId) {
        problems.add(field, 'The selected settings.error workflow uuid is invalid.');
      }
    }
  }
  return settings;
}

function checkGraph(graph: WorkflowGraph, problems: Problems): void {
  problems.addAll(workflowGraphErrors(graph));
}

// ---- create, update, delete ----------------------------------------------------------------

/**
 * Creates a workflow (members and above): the graph is validated, secret variables sealed, a
 * webhook secret made, and its schedules written in the same transaction.
 */
export async function createWorkflow(ctx: AppContext, caller: WorkflowCaller, input: CreateWorkflowInput): Promise<WorkflowResource> {
  const { scope } = caller;
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  const db = ctx.db.kysely;
  const id = newId();
  const problems = new Problems();
  const name = nameOf(input.name, problems);
  const graph: WorkflowGraph = { nodes: normalizeNodes(input.nodes ?? []), edges: normalizeEdges(input.edges ?? []) };
  checkGraph(graph, problems);
  const settings = await settingsFrom(ctx, scope, { id, workspaceId: scope.workspaceId }, defaultWorkflowSettings(ctx.config), input.settings, problems);
  const variables = await sealVariables(ctx, scope.workspaceId, input.variables ?? [], [], problems);
  problems.throwIfAny();

  const secret = newWebhookSecret();
  const sealedSecret = await secretsOf(ctx).encrypt(db, scope.workspaceId, secret);
  const isActive = input.is_active ?? false;
  const at = now();
  const row = await db.transaction().execute(async (trx) => {
    const inserted = await repo.insertWorkflow(trx, {
      id,
      workspace_id: scope.workspaceId,
      user_id: scope.userId,
      name,
      description: input.description ?? null,
      nodes: toJson(graph.nodes),
      edges: toJson(graph.edges),
      variables: toJson(variables),
      settings: toJson(settings),
      is_active: isActive,
      visibility: input.visibility ?? 'private',
      version: 1,
      webhook_secret: sealedSecret,
      webhook_secret_hash: hashWebhookSecret(secret),
      created_at: at,
      updated_at: at,
    });
    await syncWorkflowSchedules(trx, { id, workspaceId: scope.workspaceId, isActive, nodes: graph.nodes });
    return inserted;
  });
  return toResource(ctx, { workflow: row, permission: 'owner' }, caller);
}

/**
 * Changes a workflow: needs `edit`. Given fields replace the stored ones (`settings` merges key
 * by key); the whole resulting graph is validated; the version goes up by one; schedules follow
 * in the same transaction. Changing the visibility is for those who may share it.
 */
export async function updateWorkflow(ctx: AppContext, caller: WorkflowCaller, id: string, input: UpdateWorkflowInput): Promise<WorkflowResource> {
  const { scope } = caller;
  const access = await resolveWorkflowAccessOrThrow(ctx.db.kysely, scope, id, 'edit');
  const current = access.workflow;
  if (input.visibility !== undefined && input.visibility !== current.visibility && !canManageWorkflow(current, scope)) {
    throw new AppError('FORBIDDEN');
  }
  const problems = new Problems();
  const changes: Parameters<typeof repo.updateWorkflow>[3] = {};
  const stored = workflowGraphOf(current);
  const graph: WorkflowGraph = {
    nodes: input.nodes === undefined ? stored.nodes : normalizeNodes(input.nodes),
    edges: input.edges === undefined ? stored.edges : normalizeEdges(input.edges),
  };
  if (input.nodes !== undefined || input.edges !== undefined) {
    checkGraph(graph, problems);
    changes.nodes = toJson(graph.nodes);
    changes.edges = toJson(graph.edges);
  }
  if (input.name !== undefined) changes.name = nameOf(input.name, problems);
  if (input.description !== undefined) changes.description = input.description;
  if (input.settings !== undefined) {
    const workflow = { id: current.id, workspaceId: current.workspace_id };
    const settings = await settingsFrom(ctx, scope, workflow, workflowSettingsOf(current, ctx.config), input.settings, problems);
    changes.settings = toJson(settings);
  }
  if (input.variables !== undefined) {
    const storedVariables = fromJson<StoredVariable[] | null>(current.variables) ?? [];
    changes.variables = toJson(await sealVariables(ctx, current.workspace_id, input.variables, storedVariables, problems));
  }
  if (input.is_active !== undefined) changes.is_active = input.is_active;
  if (input.visibility !== undefined) changes.visibility = input.visibility;
  problems.throwIfAny();
  if (Object.keys(changes).length === 0) return toResource(ctx, access, caller);

  changes.updated_at = now();
  const row = await ctx.db.kysely.transaction().execute(async (trx) => {
    const updated = await repo.updateWorkflow(trx, current.workspace_id, current.id, changes);
    if (!updated) throw new AppError('NOT_FOUND');
    await syncWorkflowSchedules(trx, {
      id: updated.id,
      workspaceId: updated.workspace_id,
      isActive: toBool(updated.is_active),
      nodes: graph.nodes,
    });
    return updated;
  });
  return toResource(ctx, { workflow: row, permission: access.permission }, caller);
}

/** Who may manage (share, delete) the workflow: 404 if they cannot see it, 403 if they see it only. */
async function getManagedWorkflowOrThrow(db: Executor, scope: WorkspaceScope, id: string): Promise<WorkflowRow> {
  const { workflow } = await resolveWorkflowAccessOrThrow(db, scope, id, 'view');
  if (!canManageWorkflow(workflow, scope)) throw new AppError('FORBIDDEN');
  return workflow;
}

/**
 * Deletes a workflow with its grants and schedules in one transaction (its executions go by
 * cascade). Workflows of the workspace that named it as their error workflow stop naming it.
 */
export async function deleteWorkflow(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  await ctx.db.kysely.transaction().execute(async (trx) => {
    const workflow = await getManagedWorkflowOrThrow(trx, scope, id);
    await shares.deleteSharesOf(trx, { type: 'workflow', id: workflow.id, workspaceId: workflow.workspace_id });
    await repo.deleteSchedulesOfWorkflow(trx, workflow.workspace_id, workflow.id);
    const at = now();
    for (const other of await repo.findWorkflowsMentioningInSettings(trx, workflow.workspace_id, workflow.id)) {
      const settings = workflowSettingsOf(other, ctx.config);
      if (settings.error_workflow_uuid !== workflow.id) continue;
      await repo.updateWorkflowSettings(trx, workflow.workspace_id, other.id, toJson({ ...settings, error_workflow_uuid: null }), at);
    }
    // Its executions' history leaves the metrics rollups with them (docs/architecture.md § Metrics).
    await countWorkflowRemoved(trx, workflow.workspace_id, workflow.id);
    await repo.deleteWorkflow(trx, workflow.workspace_id, workflow.id);
  });
}

/**
 * Replaces the webhook secret (needs `edit`): the old one stops working at once, since calls
 * are checked against the stored hash.
 */
export async function rotateWebhookSecret(ctx: AppContext, caller: WorkflowCaller, id: string): Promise<WorkflowResource> {
  const db = ctx.db.kysely;
  const access = await resolveWorkflowAccessOrThrow(db, caller.scope, id, 'edit');
  const current = access.workflow;
  const secret = newWebhookSecret();
  const sealed = await secretsOf(ctx).encrypt(db, current.workspace_id, secret);
  const row = await repo.updateWorkflow(db, current.workspace_id, current.id, {
    webhook_secret: sealed,
    webhook_secret_hash: hashWebhookSecret(secret),
    updated_at: now(),
  });
  if (!row) throw new AppError('NOT_FOUND');
  return toResource(ctx, { workflow: row, permission: access.permission }, caller);
}

// ---- sharing -------------------------------------------------------------------------------

function shareable(workflow: WorkflowRow): shares.ShareableResource {
  return { type: 'workflow', id: workflow.id, workspaceId: workflow.workspace_id, creatorId: workflow.user_id };
}

/** Grants view/run/edit to users and workspaces, or sets the public grant; answers every grant. */
export async function shareWorkflow(ctx: AppContext, scope: WorkspaceScope, id: string, input: ShareInput): Promise<ShareResource[]> {
  const db = ctx.db.kysely;
  const workflow = await db.transaction().execute(async (trx) => {
    const row = await getManagedWorkflowOrThrow(trx, scope, id);
    await shares.grantShares(trx, shareable(row), scope.userId, input);
    return row;
  });
  return shares.listAllShares(db, shareable(workflow), scope.userId);
}

export async function listWorkflowShares(
  ctx: AppContext,
  scope: WorkspaceScope,
  id: string,
  page: PageRequest,
  filter: { granteeType?: GranteeType },
): Promise<PageResult<ShareResource>> {
  const db = ctx.db.kysely;
  const workflow = await getManagedWorkflowOrThrow(db, scope, id);
  return shares.listShares(db, shareable(workflow), scope.userId, page, filter);
}

export async function revokeWorkflowShare(ctx: AppContext, scope: WorkspaceScope, id: string, shareId: string): Promise<void> {
  const db = ctx.db.kysely;
  const workflow = await getManagedWorkflowOrThrow(db, scope, id);
  await shares.revokeShare(db, shareable(workflow), shareId);
}

// ---- node catalog --------------------------------------------------------------------------

let catalog: WorkflowNodeTypeResource[] | undefined;

/**
 * Every node type with its parameter schema as plain JSON Schema, in catalog order. Built once:
 * the catalog is fixed for the life of the process.
 */
export function listNodeTypes(): WorkflowNodeTypeResource[] {
  catalog ??= NODE_TYPES.map((definition) => ({
    type: definition.type,
    category: definition.category,
    label: definition.label,
    description: definition.description,
    parameters: JSON.parse(JSON.stringify(definition.parameters)) as Record<string, unknown>,
    outputs: typeof definition.outputs === 'function' ? null : [...definition.outputs],
    joins_inputs: definition.joinsInputs === true,
    allows_cycles: definition.allowsCycles === true,
  }));
  return catalog;
}
