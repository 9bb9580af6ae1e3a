import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../config.js';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fromJson, isUuid, toBool } from '../../db/values.js';
import { nodeCatalog } from '../../engine/nodes/index.js';
import type { WorkflowEdge, WorkflowGraph, WorkflowNode } from '../../engine/types.js';
import { AppError } from '../../errors.js';
import { MASKED, secretsOf } from '../secrets/secrets.service.js';
import { findWorkspacesForViewer } from '../shares/shares.repository.js';
import { grantedPermission, grantsOfCaller, higherPermission, permits, type GrantsOfCaller } from '../shares/shares.service.js';
import { findUsersByIds } from '../users/users.repository.js';
import { toUserLeaf } from '../users/user.shape.js';
import { toWorkspaceLeaf } from '../workspaces/workspace.shape.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import type { WorkspaceRow } from '../workspaces/workspaces.table.js';
import { SCHEDULE_NODE_TYPE, scheduleOf } from './graph-check.js';
import { findSchedulesOfWorkflows, findVisibleWorkflow, findVisibleWorkflows } from './workflows.repository.js';
import {
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  FALLBACK_MAX_NODE_RUNS,
  MAX_NODE_RUNS_LIMIT,
  MAX_WEBHOOK_TIMEOUT_MS,
  MIN_WEBHOOK_TIMEOUT_MS,
  type EdgeResource,
  type NodeResource,
  type WorkflowResource,
} from './workflows.schemas.js';
import type { WorkflowRow } from './workflows.table.js';

export { findWorkflowById, visibleWorkflowsQuery, type WorkflowSourceFilter, type WorkflowViewer } from './workflows.repository.js';
export type { WorkflowRow } from './workflows.table.js';

/** What a caller may do with a workflow. `owner` is its creator's. */
export type WorkflowPermission = 'view' | 'run' | 'edit' | 'owner';

export interface WorkflowAccess {
  workflow: WorkflowRow;
  permission: WorkflowPermission;
}

/**
 * The caller's permission on a workflow, from its own workspace and from grants; the highest
 * wins. Acting in the workflow's workspace: its creator is `owner`; admins and owners get
 * `edit`; other members get `run` (viewers `view`) when it is not private. A `public` workflow
 * gives every user `run`. Grants to the user, to the acting workspace (at most `view` for a
 * viewer there) and to everyone give their permission. Undefined: the caller may not see it.
 */
export function workflowPermissionOf(workflow: WorkflowRow, scope: WorkspaceScope, grants: GrantsOfCaller): WorkflowPermission | undefined {
  let permission: WorkflowPermission | undefined;
  if (workflow.workspace_id === scope.workspaceId) {
    if (workflow.user_id !== null && workflow.user_id === scope.userId) return 'owner';
    if (scope.role === 'admin' || scope.role === 'owner') permission = 'edit';
    else if (workflow.visibility !== 'private') permission = scope.role === 'viewer' ? 'view' : 'run';
  }
  if (workflow.visibility === 'public') permission = higherPermission(permission, 'run');
  return higherPermission<WorkflowPermission>(permission, grantedPermission(grants, scope.role));
}

/**
 * Who may share, delete or change the visibility of a workflow: its creator, and admins and
 * owners of its workspace acting there. An `edit` grant does not give this.
 */
export function canManageWorkflow(workflow: WorkflowRow, scope: WorkspaceScope): boolean {
  if (workflow.workspace_id !== scope.workspaceId) return false;
  return (workflow.user_id !== null && workflow.user_id === scope.userId) || scope.role === 'admin' || scope.role === 'owner';
}

/** The caller's permission on each workflow (one query for all their grants). */
export async function workflowPermissionsOf(
  db: Executor,
  scope: WorkspaceScope,
  rows: WorkflowRow[],
): Promise<Map<string, WorkflowPermission | undefined>> {
  const needGrants = rows.filter((r) => !(r.workspace_id === scope.workspaceId && r.user_id === scope.userId)).map((r) => r.id);
  const grants = await grantsOfCaller(db, 'workflow', needGrants, scope.userId, scope.workspaceId);
  return new Map(rows.map((row) => [row.id, workflowPermissionOf(row, scope, grants.get(row.id) ?? {})]));
}

/**
 * The workflow and the caller's permission on it. NOT_FOUND when they may not see it (whatever
 * the reason, so its existence is not revealed); FORBIDDEN when they see it but hold less than
 * `needed`. Takes the executor, so it can run inside the caller's transaction.
 */
export async function resolveWorkflowAccessOrThrow(
  db: Executor,
  scope: WorkspaceScope,
  workflowUuid: string,
  needed: WorkflowPermission,
): Promise<WorkflowAccess> {
  // Not a uuid names nothing (and PostgreSQL would refuse to compare it with a uuid column).
  if (!isUuid(workflowUuid)) throw new AppError('NOT_FOUND');
  const workflow = await findVisibleWorkflow(db, scope, workflowUuid.toLowerCase());
  if (!workflow) throw new AppError('NOT_FOUND');
  const permission = (await workflowPermissionsOf(db, scope, [workflow])).get(workflow.id);
  if (!permission) throw new AppError('NOT_FOUND');
  if (!permits(permission, needed)) throw new AppError('FORBIDDEN');
  return { workflow, permission };
}

/** Workflows by id that the caller may see, with their permission; others are left out. */
export async function findWorkflowsAccess(db: Executor, scope: WorkspaceScope, ids: readonly string[]): Promise<Map<string, WorkflowAccess>> {
  const rows = await findVisibleWorkflows(db, scope, ids.filter(isUuid).map((id) => id.toLowerCase()));
  const permissions = await workflowPermissionsOf(db, scope, rows);
  const result = new Map<string, WorkflowAccess>();
  for (const workflow of rows) {
    const permission = permissions.get(workflow.id);
    if (permission) result.set(workflow.id, { workflow, permission });
  }
  return result;
}

// ---- stored values -----------------------------------------------------------------------

export interface WorkflowSettings {
  /** Runs when an execution of this workflow fails; a workflow of the same workspace. */
  error_workflow_uuid: string | null;
  max_node_runs: number;
  webhook_timeout_ms: number;
  /** null: the instance's retention (ATHENA_EXECUTION_RETENTION_DAYS / _COUNT). */
  retention: { max_age_days: number | null; max_count: number | null };
}

const clamp = (value: number, min: number, max: number) => Math.min(Math.max(value, min), max);

/** The settings a new workflow starts with: the instance's defaults, within the workflow's bounds. */
export function defaultWorkflowSettings(config?: Pick<Config, 'workflows'>): WorkflowSettings {
  return {
    error_workflow_uuid: null,
    max_node_runs: clamp(config?.workflows.maxNodeRuns ?? FALLBACK_MAX_NODE_RUNS, 1, MAX_NODE_RUNS_LIMIT),
    webhook_timeout_ms: clamp(config?.workflows.webhookTimeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS, MIN_WEBHOOK_TIMEOUT_MS, MAX_WEBHOOK_TIMEOUT_MS),
    retention: { max_age_days: null, max_count: null },
  };
}

/** The stored settings with their defaults filled in (the instance's when `config` is given). */
export function workflowSettingsOf(row: Pick<WorkflowRow, 'settings'>, config?: Pick<Config, 'workflows'>): WorkflowSettings {
  const stored = fromJson<Partial<WorkflowSettings> | null>(row.settings) ?? {};
  const defaults = defaultWorkflowSettings(config);
  return {
    error_workflow_uuid: stored.error_workflow_uuid ?? null,
    max_node_runs: stored.max_node_runs ?? defaults.max_node_runs,
    webhook_timeout_ms: stored.webhook_timeout_ms ?? defaults.webhook_timeout_ms,
    retention: {
      max_age_days: stored.retention?.max_age_days ?? null,
      max_count: stored.retention?.max_count ?? null,
    },
  };
}

/** The stored graph: nodes and edges as saved (normalized, every field present). */
export function workflowGraphOf(row: Pick<WorkflowRow, 'nodes' | 'edges'>): WorkflowGraph {
  return {
    nodes: fromJson<WorkflowNode[] | null>(row.nodes) ?? [],
    edges: fromJson<WorkflowEdge[] | null>(row.edges) ?? [],
  };
}

/** A variable as stored: a secret's value is the sealed JSON of its value, or null when unset. */
export interface StoredVariable {
  name: string;
  secret: boolean;
  value: unknown;
}

/** A variable as the engine receives it: plain values as they are, secrets still sealed. */
export type WorkflowVariableEntry =
  | { name: string; secret: false; value: unknown }
  /** `sealed`: the ciphertext (open with `revealSecretVariable`); null when no value is set (the value is null). */
  | { name: string; secret: true; sealed: string | null };

export function workflowVariablesOf(row: Pick<WorkflowRow, 'variables'>): WorkflowVariableEntry[] {
  const stored = fromJson<StoredVariable[] | null>(row.variables) ?? [];
  return stored.map((variable) =>
    variable.secret
      ? { name: variable.name, secret: true, sealed: typeof variable.value === 'string' ? variable.value : null }
      : { name: variable.name, secret: false, value: variable.value },
  );
}

/** A secret variable's value, decrypted: only at the moment of use. */
export async function revealSecretVariable(ctx: AppContext, db: Executor, workspaceId: string, sealed: string | null): Promise<unknown> {
  if (sealed === null) return null;
  return JSON.parse(await secretsOf(ctx).decrypt(db, workspaceId, sealed));
}

// ---- webhook secret ----------------------------------------------------------------------

/** A new webhook secret: 32 random bytes, base64url. */
export function newWebhookSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** What `webhook_secret_hash` holds: the secret's SHA-256, hex. */
export function hashWebhookSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Whether a presented secret is the workflow's, compared in constant time. */
export function webhookSecretMatches(row: Pick<WorkflowRow, 'webhook_secret_hash'>, presented: string): boolean {
  const expected = Buffer.from(row.webhook_secret_hash, 'hex');
  const actual = Buffer.from(hashWebhookSecret(presented), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** The URL that triggers a workflow's webhook nodes, secret included. */
export function webhookUrlOf(baseUrl: string, workflowId: string, secret: string): string {
  return `${baseUrl}/api/v1/workflows/${workflowId}/webhook?secret=${encodeURIComponent(secret)}`;
}

// ---- resources ---------------------------------------------------------------------------

type Trigger = WorkflowResource['triggers'][number];

/** The trigger nodes as the API lists them, with each firing schedule's next run. */
export function workflowTriggersOf(nodes: readonly WorkflowNode[], nextRuns: ReadonlyMap<string, string>): Trigger[] {
  const triggers: Trigger[] = [];
  for (const node of nodes) {
    if (nodeCatalog.get(node.type)?.category !== 'trigger') continue;
    const trigger: Trigger = { node_id: node.id, type: node.type };
    if (node.type === 'webhook') {
      const { method, respond } = node.parameters as { method?: unknown; respond?: unknown };
      // The webhook node's parameter defaults.
      trigger.method = typeof method === 'string' ? method : 'POST';
      trigger.respond = typeof respond === 'string' ? respond : 'last_node';
    } else if (node.type === SCHEDULE_NODE_TYPE) {
      const { cron, timezone } = scheduleOf(node);
      trigger.cron = cron;
      trigger.timezone = timezone;
      trigger.next_run_at = nextRuns.get(node.id) ?? null;
    }
    triggers.push(trigger);
  }
  return triggers;
}

function variablesForResponse(row: WorkflowRow): WorkflowResource['variables'] {
  return workflowVariablesOf(row).map((variable) =>
    variable.secret
      ? { name: variable.name, value: variable.sealed === null ? null : MASKED, secret: true }
      : { name: variable.name, value: variable.value, secret: false },
  );
}

/** Stored nodes and edges with every field present, as the Node and Edge schemas list them. */
function nodesForResponse(nodes: WorkflowNode[]): NodeResource[] {
  return nodes.map((node) => ({
    id: node.id,
    type: node.type,
    name: node.name,
    position: node.position,
    parameters: node.parameters,
    retry: node.retry ?? null,
    on_error: node.on_error ?? 'stop',
    disabled: node.disabled ?? false,
    notes: node.notes ?? null,
  }));
}

/** Edges with every field present (handles null when absent): as stored and as answered. */
export function normalizeEdges(edges: readonly WorkflowEdge[]): EdgeResource[] {
  return edges.map((edge) => ({
    id: edge.id,
    source: edge.source,
    target: edge.target,
    source_handle: edge.source_handle ?? null,
    target_handle: edge.target_handle ?? null,
  }));
}

/**
 * Workflow resources for the caller: creators, workspaces and schedules looked up in one query
 * each, permissions from one query of grants unless `permissions` holds them. The webhook URL
 * and secret are decrypted only for callers who may edit. Pass only rows the caller may see.
 */
export async function toWorkflowResources(
  ctx: AppContext,
  db: Executor,
  rows: WorkflowRow[],
  viewer: WorkspaceScope,
  baseUrl: string,
  permissions?: Map<string, WorkflowPermission | undefined>,
): Promise<WorkflowResource[]> {
  if (rows.length === 0) return [];
  const known = permissions ?? (await workflowPermissionsOf(db, viewer, rows));
  const userIds = rows.flatMap((r) => (r.user_id === null ? [] : [r.user_id]));
  const [users, workspaces, schedules] = await Promise.all([
    findUsersByIds(db, userIds),
    findWorkspacesForViewer(db, rows.map((r) => r.workspace_id), viewer.userId),
    findSchedulesOfWorkflows(db, rows),
  ]);
  const creators = new Map(users.map((u) => [u.id, u]));
  const workspaceLeaves = new Map(
    workspaces.map((w) => {
      const { viewer_role, ...workspace } = w;
      return [workspace.id, toWorkspaceLeaf(workspace as WorkspaceRow, viewer_role ?? undefined)];
    }),
  );
  const nextRuns = new Map<string, Map<string, string>>();
  for (const schedule of schedules) {
    let byNode = nextRuns.get(schedule.workflow_id);
    if (!byNode) nextRuns.set(schedule.workflow_id, (byNode = new Map()));
    byNode.set(schedule.node_id, schedule.next_run_at);
  }

  return Promise.all(
    rows.map(async (row): Promise<WorkflowResource> => {
      const permission = known.get(row.id) ?? 'view';
      const creator = row.user_id === null ? undefined : creators.get(row.user_id);
      const graph = workflowGraphOf(row);
      const secret = permits(permission, 'edit') ? await secretsOf(ctx).decrypt(db, row.workspace_id, row.webhook_secret) : null;
      return {
        uuid: row.id,
        name: row.name,
        description: row.description,
        nodes: nodesForResponse(graph.nodes),
        edges: normalizeEdges(graph.edges),
        variables: variablesForResponse(row),
        triggers: workflowTriggersOf(graph.nodes, nextRuns.get(row.id) ?? new Map()),
        settings: workflowSettingsOf(row, ctx.config),
        is_active: toBool(row.is_active),
        visibility: row.visibility,
        version: row.version,
        webhook_url: secret === null ? null : webhookUrlOf(baseUrl, row.id, secret),
        webhook_secret: secret,
        is_owner: row.user_id !== null && row.user_id === viewer.userId,
        permission,
        user: creator ? toUserLeaf(creator) : null,
        workspace: workspaceLeaves.get(row.workspace_id)!,
        created_at: row.created_at,
        updated_at: row.updated_at,
      };
    }),
  );
}
