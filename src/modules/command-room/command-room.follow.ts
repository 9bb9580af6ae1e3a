import type { AppContext } from '../../context.js';
import { now } from '../../db/values.js';
import { FINISHED_STATUSES, type ExecutionRow, type ExecutionStatus } from '../executions/executions.table.js';
import type { RunRow, RunStatus } from '../runs/runs.table.js';
import { executionFollowState, runFollowState, type FollowState } from './command-room.links.js';
import * as repo from './command-room.repository.js';
import { moveInBoard, taskEvent, writeBoard, type BoardEventType } from './command-room.service.js';
import { commandRoomOf, type CommandRoomRuntime, type FollowEntry } from './command-room.stream.js';
import type { CommandRoomTaskRow, TaskLinkType } from './command-room.table.js';

/** Progress of a running execution is written at most this often. */
const PROGRESS_EVERY_MS = 1_000;
/** How often the maintenance pass re-reads followed runs that may have changed unseen, and prunes the log. */
const RECONCILE_EVERY_MS = 5_000;
const PRUNE_EVERY_MS = 60_000;
/** Events kept: a week, and at most this many per workspace. */
const EVENT_RETENTION_MS = 7 * 86_400_000;
const EVENTS_KEPT_PER_WORKSPACE = 10_000;
const RECONCILE_BATCH = 500;

type ExecutionRef = Pick<ExecutionRow, 'id' | 'workspace_id' | 'workflow_id' | 'created_at'>;
type RunRef = Pick<RunRow, 'id' | 'workspace_id' | 'thread_id' | 'agent_id' | 'created_at'>;

/**
 * Hooks the runner and the maintenance pass. The runner tells this process's hooks when a run
 * starts, after each step and when it settles; whether tasks follow an execution is looked up
 * once per run start (an indexed `link_id in (execution, workflow)`), so the per-step cost for
 * executions nobody follows is one map lookup.
 */
export function startFollowing(ctx: AppContext, runtime: CommandRoomRuntime): void {
  const runner = ctx.executions;
  void runtime.readLinkedWorkspaces();
  runner.onProgress((row, nodeRuns, nodeCount) => executionProgress(ctx, runtime, row, nodeRuns, nodeCount));
  runner.onSettled(async (row, outcome) => {
    if (outcome.status !== 'stopped') executionSettled(ctx, runtime, row, outcome.status);
    else runtime.following.delete(row.id);
  });
  if (!runner.runsWork) return;
  let lastReconcile = 0;
  let lastPrune = 0;
  runner.addMaintenance(async () => {
    if (Date.now() - lastReconcile >= RECONCILE_EVERY_MS) {
      lastReconcile = Date.now();
      await reconcileFollowers(ctx);
    }
    if (Date.now() - lastPrune >= PRUNE_EVERY_MS) {
      lastPrune = Date.now();
      await pruneBoardEvents(ctx);
    }
  });
}

function entryFor(ctx: AppContext, runtime: CommandRoomRuntime, id: string, workspaceId: string, linkIds: string[]): FollowEntry {
  const existing = runtime.following.get(id);
  if (existing) return existing;
  const created: FollowEntry = { known: undefined, check: Promise.resolve(false), chain: Promise.resolve(), lastAt: 0, running: false };
  runtime.following.set(id, created);
  // Most runs are in workspaces where nothing is linked: no query for them.
  if (runtime.linkedWorkspaces && !runtime.linkedWorkspaces.has(workspaceId)) {
    created.known = false;
    return created;
  }
  created.check = repo.anyTaskLinkedTo(ctx.db.kysely, workspaceId, linkIds).then(
    (found) => {
      created.known ??= found;
      return created.known;
    },
    (error: unknown) => {
      ctx.log.warn({ err: error, run: id }, 'could not look up command room tasks following a run');
      return (created.known ??= false);
    },
  );
  return created;
}

/** Runs `update` after the run's earlier updates, if tasks follow it; failures are logged. */
function enqueue(ctx: AppContext, entry: FollowEntry, update: () => Promise<void>): void {
  entry.chain = entry.chain
    .then(async () => {
      if (await entry.check) await update();
    })
    .catch((error: unknown) => ctx.log.warn({ err: error }, 'a command room task could not follow its run'));
}

function percent(nodeRuns: number, nodeCount: number): number {
  if (nodeCount <= 0) return 0;
  // 100 only once it has ended.
  return Math.min(99, Math.round((100 * nodeRuns) / nodeCount));
}

function executionProgress(ctx: AppContext, runtime: CommandRoomRuntime, row: ExecutionRow, nodeRuns: number, nodeCount: number): void {
  const entry = entryFor(ctx, runtime, row.id, row.workspace_id, [row.id, row.workflow_id]);
  if (entry.known === false) return;
  const progress = percent(nodeRuns, nodeCount);
  if (!entry.running) {
    // The run started: a status change, written at once.
    entry.running = true;
    entry.lastAt = Date.now();
    enqueue(ctx, entry, () => applyExecution(ctx, row, 'running', progress));
    return;
  }
  entry.latest = progress;
  if (entry.timer) return;
  const wait = Math.max(0, entry.lastAt + PROGRESS_EVERY_MS - Date.now());
  entry.timer = setTimeout(() => {
    entry.timer = undefined;
    entry.lastAt = Date.now();
    const latest = entry.latest;
    entry.latest = undefined;
    if (latest !== undefined && entry.running) enqueue(ctx, entry, () => applyExecution(ctx, row, 'running', latest));
  }, wait);
  entry.timer.unref();
}

function executionSettled(ctx: AppContext, runtime: CommandRoomRuntime, row: ExecutionRow, status: ExecutionStatus): void {
  const entry = runtime.following.get(row.id);
  if (!entry) return;
  clearTimeout(entry.timer);
  entry.timer = undefined;
  entry.running = false;
  // A parked execution goes on later (here or elsewhere), which looks its followers up again.
  runtime.following.delete(row.id);
  if (entry.known === false) return;
  // A parked execution shows how far it got; the throttled progress not yet written goes with it.
  const progress = status === 'waiting' ? entry.latest : undefined;
  enqueue(ctx, entry, () => applyExecution(ctx, row, status, progress));
}

/**
 * An execution was cancelled through the API (executions.service awaits it after the commit):
 * its tasks move before the cancel answers, not at the next reconcile pass. Never throws.
 */
export async function executionCanceled(ctx: AppContext, execution: ExecutionRef): Promise<void> {
  const runtime = commandRoomOf(ctx);
  if (runtime.linkedWorkspaces && !runtime.linkedWorkspaces.has(execution.workspace_id)) return;
  await applyExecution(ctx, execution, 'canceled').catch((error: unknown) =>
    ctx.log.warn({ err: error, execution: execution.id }, 'a command room task could not follow a cancel'),
  );
}

/** An agent or thread run started in this process (runs.service calls it). */
export function runStarted(ctx: AppContext, run: RunRef): void {
  const links = [run.thread_id, run.agent_id].filter((id): id is string => id !== null);
  if (links.length === 0) return;
  const runtime = commandRoomOf(ctx);
  const entry = entryFor(ctx, runtime, run.id, run.workspace_id, links);
  entry.running = true;
  enqueue(ctx, entry, () => applyRun(ctx, run, 'running'));
}

/** An agent or thread run ended and its end is stored (runs.service calls it). */
export function runFinished(ctx: AppContext, run: RunRef & { status: RunStatus }): void {
  const runtime = commandRoomOf(ctx);
  const entry = runtime.following.get(run.id);
  if (!entry) return;
  runtime.following.delete(run.id);
  enqueue(ctx, entry, () => applyRun(ctx, run, run.status));
}

/**
 * Whether a task follows this run: one linked to the execution itself always; one linked to the
 * workflow, agent or thread follows the newest of its runs started since the link was made
 * (ids are UUID v7, so a newer run's id sorts after an older one's).
 */
function follows(task: CommandRoomTaskRow, runId: string, createdAt: string): boolean {
  if (task.link_type === 'execution') return task.link_id === runId;
  if (task.followed_id === runId) return true;
  if (task.followed_id !== null) return runId > task.followed_id;
  return task.linked_at === null || createdAt >= task.linked_at;
}

async function applyToFollowers(
  ctx: AppContext,
  workspaceId: string,
  links: Array<{ type: TaskLinkType; id: string }>,
  run: { id: string; created_at: string },
  state: FollowState,
): Promise<void> {
  await writeBoard(ctx, workspaceId, async (trx, emit) => {
    const tasks = (await repo.findTasksLinkedTo(trx, workspaceId, links)).filter((task) => follows(task, run.id, run.created_at));
    for (const task of tasks) {
      // Read again: an earlier task's move may have shifted this one.
      const current = await repo.findTask(trx, workspaceId, task.id);
      if (!current) continue;
      // Updates of one run arrive in order from the process running it; one from a process that
      // ran it earlier (before a wait) may land late, and must not undo its end.
      if (current.followed_id === state.followedId && ENDED.has(current.followed_status ?? '') && !ENDED.has(state.followedStatus)) continue;
      const changes: Parameters<typeof repo.updateTask>[3] = {};
      if (current.followed_id !== state.followedId) changes.followed_id = state.followedId;
      if (current.followed_status !== state.followedStatus) changes.followed_status = state.followedStatus;
      const progress = state.progress === undefined ? (current.progress ?? 0) : state.progress;
      if (progress !== current.progress) changes.progress = progress;
      if (state.status !== current.status) {
        changes.position = await moveInBoard(trx, current, state.status, undefined);
        changes.status = state.status;
      }
      if (Object.keys(changes).length === 0) continue;
      changes.updated_at = now();
      const row = await repo.updateTask(trx, workspaceId, current.id, changes);
      const type: BoardEventType = changes.status !== undefined ? 'task.moved' : 'task.updated';
      emit((await taskEvent(trx, type, row)).event);
    }
  });
}

const ENDED = new Set<string>([...FINISHED_STATUSES, 'completed', 'incomplete', 'cancelled']);

/** Applies an execution's status (and progress) to the tasks that follow it. */
export async function applyExecution(ctx: AppContext, execution: ExecutionRef, status: ExecutionStatus, progress?: number): Promise<void> {
  await applyToFollowers(
    ctx,
    execution.workspace_id,
    [
      { type: 'execution', id: execution.id },
      { type: 'workflow', id: execution.workflow_id },
    ],
    execution,
    executionFollowState(execution.id, status, progress),
  );
}

/** Applies an agent or thread run's status to the tasks that follow it. */
export async function applyRun(ctx: AppContext, run: RunRef, status: RunStatus): Promise<void> {
  const links: Array<{ type: TaskLinkType; id: string }> = [];
  if (run.thread_id) links.push({ type: 'thread', id: run.thread_id });
  if (run.agent_id) links.push({ type: 'agent', id: run.agent_id });
  await applyToFollowers(ctx, run.workspace_id, links, run, runFollowState(run.id, status));
}

/**
 * The safety net: tasks whose followed execution or run is still in progress as far as the
 * task knows are compared with the stored status, which catches what no hook here saw (a
 * cancel, a run in another process that ended before it knew of a new link, a dead process).
 */
export async function reconcileFollowers(ctx: AppContext): Promise<void> {
  const db = ctx.db.kysely;
  const tasks = await repo.findActiveFollowers(db, RECONCILE_BATCH);
  if (tasks.length === 0) return;
  const ids = [...new Set(tasks.map((t) => t.followed_id!))];
  const executions = await db.selectFrom('workflow_executions').select(['id', 'workspace_id', 'workflow_id', 'created_at', 'status']).where('id', 'in', ids).execute();
  const runs = await db.selectFrom('runs').select(['id', 'workspace_id', 'thread_id', 'agent_id', 'created_at', 'status', 'lease_expires_at']).where('id', 'in', ids).execute();
  const byId = new Map(tasks.map((t) => [t.followed_id!, t.followed_status]));
  const running = commandRoomOf(ctx).following;
  for (const execution of executions) {
    if (execution.status === byId.get(execution.id) || running.has(execution.id)) continue;
    await applyExecution(ctx, execution, execution.status);
  }
  for (const run of runs) {
    if (run.status === byId.get(run.id) || running.has(run.id)) continue;
    await applyRun(ctx, run, run.status);
  }
  // Deleted while a task followed it (a waiting execution can be): the task stops waiting for it.
  const found = new Set([...executions.map((e) => e.id), ...runs.map((r) => r.id)]);
  for (const task of tasks) {
    if (found.has(task.followed_id!)) continue;
    await writeBoard(ctx, task.workspace_id, async (trx, emit) => {
      const current = await repo.findTask(trx, task.workspace_id, task.id);
      if (!current || current.followed_id !== task.followed_id) return;
      const row = await repo.updateTask(trx, task.workspace_id, task.id, { followed_status: null, updated_at: now() });
      emit((await taskEvent(trx, 'task.updated', row)).event);
    });
  }
}

/** Drops events older than a week, and all but the newest 10,000 of each workspace. */
export async function pruneBoardEvents(ctx: AppContext, at: Date = new Date()): Promise<number> {
  return repo.pruneEvents(ctx.db.kysely, new Date(at.getTime() - EVENT_RETENTION_MS).toISOString(), EVENTS_KEPT_PER_WORKSPACE, 500);
}
