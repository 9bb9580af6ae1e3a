import { LRUCache } from 'lru-cache';
import type { AppContext } from '../../context.js';
import { fromJson, now } from '../../db/values.js';
import { nodeCatalog } from '../../engine/nodes/index.js';
import { compileGraph, type RuntimeGraph } from '../../engine/runtime-graph.js';
import type { WorkflowEdge, WorkflowNode } from '../../engine/types.js';
import type { WorkflowRow } from '../workflows/workflows.table.js';

/** A workflow variable as an execution keeps it: a secret only sealed. */
export interface SnapshotVariable {
  name: string;
  secret: boolean;
  value?: unknown;
  sealed?: string;
}

export interface SnapshotSettings {
  error_workflow_uuid: string | null;
  max_node_runs: number;
  webhook_timeout_ms: number;
}

/**
 * The workflow as its executions run it: one per workflow version, stored once in
 * `workflow_versions` (not per execution), so later edits do not change a run and execution
 * rows stay small however big the graph is.
 */
export interface ExecutionSnapshot {
  version: number;
  name: string;
  nodes: WorkflowNode[];
  edges: WorkflowEdge[];
  variables: SnapshotVariable[];
  settings: SnapshotSettings;
}

interface StoredVariable {
  name: string;
  value: unknown;
  secret: boolean;
}

interface StoredSettings {
  error_workflow_uuid?: string | null;
  max_node_runs?: number | null;
  webhook_timeout_ms?: number | null;
}

// Snapshots and compiled graphs by workflow and version: immutable, so shared by every
// execution of that version in this process.
const snapshots = new LRUCache<string, ExecutionSnapshot>({ max: 1000 });
const compiled = new LRUCache<string, RuntimeGraph>({ max: 1000 });
// Versions known to be stored, so a hot workflow writes its snapshot once.
const stored = new LRUCache<string, true>({ max: 5000 });

const keyOf = (workflowId: string, version: number) => `${workflowId}:${version}`;

/** The snapshot of a workflow row's current version (built from the row, not stored yet). */
export function snapshotOfWorkflow(ctx: AppContext, workflow: WorkflowRow): ExecutionSnapshot {
  const key = keyOf(workflow.id, workflow.version);
  const cached = snapshots.get(key);
  if (cached) return cached;
  const settings = fromJson<StoredSettings>(workflow.settings) ?? {};
  const limit = ctx.config.workflows.maxNodeRuns;
  const snapshot: ExecutionSnapshot = {
    version: workflow.version,
    name: workflow.name,
    nodes: fromJson(workflow.nodes),
    edges: fromJson(workflow.edges),
    variables: (fromJson<StoredVariable[]>(workflow.variables) ?? []).map((variable) =>
      variable.secret
        ? { name: variable.name, secret: true, ...(typeof variable.value === 'string' ? { sealed: variable.value } : {}) }
        : { name: variable.name, secret: false, value: variable.value },
    ),
    settings: {
      error_workflow_uuid: settings.error_workflow_uuid ?? null,
      max_node_runs: Math.min(settings.max_node_runs ?? limit, limit),
      webhook_timeout_ms: settings.webhook_timeout_ms ?? ctx.config.workflows.webhookTimeoutMs,
    },
  };
  snapshots.set(key, snapshot);
  return snapshot;
}

/** Stores the snapshot of the workflow's current version if no execution stored it yet. */
export async function storeSnapshot(ctx: AppContext, workflow: WorkflowRow, snapshot: ExecutionSnapshot): Promise<void> {
  const key = keyOf(workflow.id, workflow.version);
  if (stored.has(key)) return;
  await ctx.db.kysely
    .insertInto('workflow_versions')
    .values({
      workflow_id: workflow.id,
      version: workflow.version,
      workspace_id: workflow.workspace_id,
      snapshot: JSON.stringify(snapshot),
      created_at: now(),
    })
    .onConflict((conflict) => conflict.columns(['workflow_id', 'version']).doNothing())
    .execute();
  stored.set(key, true);
}

/** The snapshot an execution runs (from the cache, else `workflow_versions`). */
export async function loadSnapshot(ctx: AppContext, workflowId: string, version: number): Promise<ExecutionSnapshot> {
  const key = keyOf(workflowId, version);
  const cached = snapshots.get(key);
  if (cached) return cached;
  const row = await ctx.db.kysely
    .selectFrom('workflow_versions')
    .select('snapshot')
    .where('workflow_id', '=', workflowId)
    .where('version', '=', version)
    .executeTakeFirst();
  if (!row) throw new Error(`Workflow ${workflowId} version ${version} is not stored.`);
  const snapshot = fromJson<ExecutionSnapshot>(row.snapshot);
  snapshots.set(key, snapshot);
  stored.set(key, true);
  return snapshot;
}

/** A cached snapshot's name, for answers that have no time to read it (null when not cached). */
export function cachedSnapshot(workflowId: string, version: number): ExecutionSnapshot | undefined {
  return snapshots.get(keyOf(workflowId, version));
}

export function runtimeGraphOf(workflowId: string, snapshot: ExecutionSnapshot): RuntimeGraph {
  const key = keyOf(workflowId, snapshot.version);
  let graph = compiled.get(key);
  if (!graph) {
    graph = compileGraph({ nodes: snapshot.nodes, edges: snapshot.edges }, nodeCatalog);
    compiled.set(key, graph);
  }
  return graph;
}
