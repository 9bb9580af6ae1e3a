import type { Executor } from '../../db/database.js';
import { newId } from '../../db/values.js';
import { nextRunAt } from '../../engine/schedule/index.js';
import type { WorkflowNode } from '../../engine/types.js';
import { SCHEDULE_NODE_TYPE, scheduleOf } from './graph-check.js';
import * as repo from './workflows.repository.js';

/** What the sync needs of a workflow: which one, whether it is active, and its nodes. */
export interface ScheduledWorkflow {
  id: string;
  workspaceId: string;
  isActive: boolean;
  nodes: readonly WorkflowNode[];
}

/** The schedule nodes that fire: every enabled one of an active workflow, none of an inactive one. */
export function firingScheduleNodes(workflow: Pick<ScheduledWorkflow, 'isActive' | 'nodes'>): WorkflowNode[] {
  if (!workflow.isActive) return [];
  return workflow.nodes.filter((node) => node.type === SCHEDULE_NODE_TYPE && node.disabled !== true);
}

/**
 * Makes the `workflow_schedules` rows match the workflow, in the caller's transaction (the same
 * one that saves the workflow, so the scheduler never sees a schedule the graph no longer has):
 * one row per firing schedule node. A node whose cron and time zone did not change keeps its row
 * as it is, so a save does not skip a run that is due but not yet taken; a new or changed one
 * gets its next run after `now`. Graphs are validated before they are saved, so every cron parses.
 */
export async function syncWorkflowSchedules(trx: Executor, workflow: ScheduledWorkflow, now: Date = new Date()): Promise<void> {
  const existing = await repo.findSchedulesOfWorkflow(trx, workflow.workspaceId, workflow.id);
  const byNode = new Map(existing.map((row) => [row.node_id, row]));
  const keep = new Set<string>();
  const inserts: Parameters<typeof repo.insertSchedules>[1] = [];

  for (const node of firingScheduleNodes(workflow)) {
    const { cron, timezone } = scheduleOf(node);
    const row = byNode.get(node.id);
    if (row && row.cron === cron && row.timezone === timezone) {
      keep.add(row.id);
      continue;
    }
    const next = nextRunAt(cron, timezone, now);
    // A schedule that can no longer fire (validated on save, so only at the edge of time) has no row.
    if (next === null) continue;
    if (row) {
      keep.add(row.id);
      await repo.updateScheduleTiming(trx, workflow.workspaceId, row.id, { cron, timezone, next_run_at: next.toISOString() });
    } else {
      inserts.push({
        id: newId(),
        workflow_id: workflow.id,
        workspace_id: workflow.workspaceId,
        node_id: node.id,
        cron,
        timezone,
        next_run_at: next.toISOString(),
        last_run_at: null,
      });
    }
  }

  await repo.deleteSchedules(
    trx,
    workflow.workspaceId,
    existing.filter((row) => !keep.has(row.id)).map((row) => row.id),
  );
  await repo.insertSchedules(trx, inserts);
}
