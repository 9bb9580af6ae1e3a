import type { ColumnType, Selectable, SqlBool } from 'kysely';

type Json = ColumnType<unknown, string, string>;

export const WORKFLOW_VISIBILITIES = ['private', 'workspace', 'public'] as const;
export type WorkflowVisibility = (typeof WORKFLOW_VISIBILITIES)[number];

export interface WorkflowsTable {
  id: string;
  workspace_id: string;
  user_id: number | null;
  name: string;
  description: string | null;
  /** WorkflowNode[] */
  nodes: Json;
  /** WorkflowEdge[] */
  edges: Json;
  /** [{name, value, secret}]; secret values sealed by the workspace's key. */
  variables: Json;
  settings: Json;
  is_active: ColumnType<SqlBool, boolean, boolean>;
  visibility: WorkflowVisibility;
  /** Bumped on every change of the graph, variables or settings. */
  version: number;
  webhook_secret: string;
  webhook_secret_hash: string;
  created_at: string;
  updated_at: string;
}

export interface WorkflowSchedulesTable {
  id: string;
  workflow_id: string;
  workspace_id: string;
  node_id: string;
  cron: string;
  timezone: string;
  next_run_at: string;
  last_run_at: string | null;
}

export type WorkflowRow = Selectable<WorkflowsTable>;
export type WorkflowScheduleRow = Selectable<WorkflowSchedulesTable>;
