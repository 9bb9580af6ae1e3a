import { LRUCache } from 'lru-cache';
import { fromJson } from '../../db/values.js';
import { nodeCatalog } from '../../engine/nodes/index.js';
import { compileGraph, type RuntimeGraph } from '../../engine/runtime-graph.js';
import type { WorkflowEdge, WorkflowNode } from '../../engine/types.js';

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

/** The workflow as an execution runs it (`workflow_data`): later edits of the workflow do not change it. */
export interface ExecutionSnapshot {
  name: string;
  version: number;
  nodes: WorkflowNode[];
  edges: WorkflowEdge[];
  variables: SnapshotVariable[];
  settings: SnapshotSettings;
}

// Compiled graphs by workflow and version: executions of one workflow version share one.
const compiled = new LRUCache<string, RuntimeGraph>({ max: 500 });

export function runtimeGraphOf(workflowId: string, snapshot: ExecutionSnapshot): RuntimeGraph {
  const key = `${workflowId}:${snapshot.version}`;
  let graph = compiled.get(key);
  if (!graph) {
    graph = compileGraph({ nodes: snapshot.nodes, edges: snapshot.edges }, nodeCatalog);
    compiled.set(key, graph);
  }
  return graph;
}

// Parsed snapshots by workflow and version, so a hot webhook does not parse its graph per call.
const parsed = new LRUCache<string, ExecutionSnapshot>({ max: 500 });

export function snapshotOf(workflowId: string, version: number, stored: unknown): ExecutionSnapshot {
  const key = `${workflowId}:${version}`;
  let snapshot = parsed.get(key);
  if (!snapshot) {
    snapshot = fromJson<ExecutionSnapshot>(stored);
    parsed.set(key, snapshot);
  }
  return snapshot;
}
