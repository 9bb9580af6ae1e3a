import type { Executor } from '../../db/database.js';
import type { ExecutionStatus } from '../executions/executions.table.js';
import type { RunStatus } from '../runs/runs.table.js';
import type { TaskLinkType, TaskStatus } from './command-room.table.js';

/** The column a followed execution puts its task in. */
export const STATUS_OF_EXECUTION: Record<ExecutionStatus, TaskStatus> = {
  queued: 'in_progress',
  running: 'in_progress',
  waiting: 'blocked',
  succeeded: 'done',
  failed: 'failed',
  canceled: 'canceled',
};

/** The column a followed agent or thread run puts its task in. */
export const STATUS_OF_RUN: Record<RunStatus, TaskStatus> = {
  queued: 'in_progress',
  running: 'in_progress',
  completed: 'done',
  incomplete: 'done',
  failed: 'failed',
  cancelled: 'canceled',
};

const ACTIVE_EXECUTION: ExecutionStatus[] = ['queued', 'running', 'waiting'];

/** What a task follows right now, and what that makes its status and progress. */
export interface FollowState {
  followedId: string;
  followedStatus: string;
  status: TaskStatus;
  /** undefined: keep the task's progress as it is. */
  progress?: number | null;
}

export function executionFollowState(id: string, status: ExecutionStatus, progress?: number): FollowState {
  return {
    followedId: id,
    followedStatus: status,
    status: STATUS_OF_EXECUTION[status],
    progress: status === 'succeeded' ? 100 : progress,
  };
}

export function runFollowState(id: string, status: RunStatus): FollowState {
  const ended = status === 'completed' || status === 'incomplete';
  return { followedId: id, followedStatus: status, status: STATUS_OF_RUN[status], progress: ended ? 100 : status === 'running' ? 0 : undefined };
}

/**
 * What a newly linked task follows at once: an execution as it is now; for a workflow, agent or
 * thread, the run of it in progress, if any (later ones are picked up as they start).
 */
export async function followStateAtLink(db: Executor, workspaceId: string, type: TaskLinkType, id: string): Promise<FollowState | undefined> {
  switch (type) {
    case 'execution': {
      const row = await db.selectFrom('workflow_executions').select(['id', 'status']).where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
      return row ? executionFollowState(row.id, row.status, row.status === 'succeeded' ? 100 : 0) : undefined;
    }
    case 'workflow': {
      const row = await db
        .selectFrom('workflow_executions')
        .select(['id', 'status'])
        .where('workspace_id', '=', workspaceId)
        .where('workflow_id', '=', id)
        .where('status', 'in', ACTIVE_EXECUTION)
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row ? executionFollowState(row.id, row.status, 0) : undefined;
    }
    case 'thread':
    case 'agent': {
      const row = await db
        .selectFrom('runs')
        .select(['id', 'status'])
        .where('workspace_id', '=', workspaceId)
        .where(type === 'thread' ? 'thread_id' : 'agent_id', '=', id)
        .where('status', '=', 'running')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row ? runFollowState(row.id, row.status) : undefined;
    }
  }
}
