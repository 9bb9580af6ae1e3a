import type { ColumnType, Selectable } from 'kysely';

type Json = ColumnType<unknown, string, string>;
type NullableJson = ColumnType<unknown, string | null, string | null>;

export const EXECUTION_STATUSES = ['queued', 'running', 'waiting', 'succeeded', 'failed', 'canceled'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];
export const FINISHED_STATUSES: readonly ExecutionStatus[] = ['succeeded', 'failed', 'canceled'];

export const EXECUTION_TRIGGERS = ['manual', 'webhook', 'schedule', 'agent', 'workflow', 'error', 'retry'] as const;
export type ExecutionTrigger = (typeof EXECUTION_TRIGGERS)[number];

export interface WorkflowExecutionsTable {
  id: string;
  workspace_id: string;
  workflow_id: string;
  user_id: number | null;
  status: ExecutionStatus;
  trigger: ExecutionTrigger;
  trigger_node_id: string;
  /** The workflow version it runs (`workflow_versions`). */
  workflow_version: number;
  trigger_data: NullableJson;
  /** RunState when parked, ended or prepared for a retry (while running, each step carries its own). */
  state: NullableJson;
  output: NullableJson;
  error: NullableJson;
  response: NullableJson;
  resume_data: NullableJson;
  idempotency_key: string | null;
  parent_execution_id: string | null;
  retry_of_id: string | null;
  node_runs: number;
  lease_owner: string | null;
  lease_expires_at: string | null;
  wake_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface WorkflowExecutionStepsTable {
  execution_id: string;
  seq: number;
  node_id: string;
  node_type: string;
  status: string;
  input: NullableJson;
  output: NullableJson;
  handle: string | null;
  error: NullableJson;
  /** RunState after this step. */
  state: NullableJson;
  attempts: number;
  started_at: string;
  finished_at: string;
}

export interface WorkflowVersionsTable {
  workflow_id: string;
  version: number;
  workspace_id: string;
  /** ExecutionSnapshot */
  snapshot: Json;
  created_at: string;
}

export type ExecutionRow = Selectable<WorkflowExecutionsTable>;
export type ExecutionStepRow = Selectable<WorkflowExecutionStepsTable>;
