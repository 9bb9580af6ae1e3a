import fs from 'node:fs';
import { sql } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { fromJson, isUniqueViolation, newId, now, toJson } from '../../db/values.js';
import { writeBatcherOf } from '../../db/write-batcher.js';
import { nodeCatalog } from '../../engine/nodes/index.js';
import type { ExecutionOutcome } from '../../engine/executor.js';
import type { WebhookResponse } from '../../engine/node-type.js';
import type { RunState } from '../../engine/run-state.js';
import { AppError, fieldError } from '../../errors.js';
import { executionCanceled } from '../command-room/command-room.follow.js';
import { countExecutionEnd } from '../metrics/rollups.js';
import { MASKED } from '../secrets/secrets.service.js';
import type { WorkflowRow } from '../workflows/workflows.table.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import * as repo from './executions.repository.js';
import type { ExecutionCounts, WorkflowExecutionResource } from './executions.schemas.js';
import { EXECUTION_STATUSES, FINISHED_STATUSES, type ExecutionRow, type ExecutionStatus, type ExecutionTrigger } from './executions.table.js';
import { decodeStepValue, describeStepValue, executionDataDir, removeExecutionData } from './payload-files.js';
import { cachedSnapshot, loadSnapshot, snapshotOfWorkflow, storeSnapshot, type ExecutionSnapshot } from './snapshot.js';
import type { Static } from 'typebox';

export const SORT_COLUMNS = { created_at: 'e.created_at', started_at: 'e.started_at', finished_at: 'e.finished_at' } as const;

/** The trigger node an execution starts at: the one asked for, else by the trigger kind. */
export function triggerNodeOf(snapshot: ExecutionSnapshot, trigger: ExecutionTrigger, requested?: string): string {
  const triggers = snapshot.nodes.filter((node) => nodeCatalog.get(node.type)?.category === 'trigger');
  if (requested !== undefined) {
    if (!triggers.some((node) => node.id === requested)) {
      throw fieldError('trigger_node_id', `The workflow has no trigger node "${requested}".`);
    }
    return requested;
  }
  const preferred: Record<string, string> = { manual: 'manual', webhook: 'webhook', schedule: 'schedule', agent: 'agent_tool' };
  const wanted = preferred[trigger];
  const node = triggers.find((candidate) => candidate.type === wanted) ?? triggers.find((candidate) => candidate.type === 'manual') ?? triggers[0];
  if (!node) throw new AppError('VALIDATION', 'The workflow has no trigger node to start from.', { fields: { nodes: ['The workflow has no trigger node to start from.'] } });
  return node.id;
}

export interface StartInput {
  workflow: WorkflowRow;
  userId: number | null;
  trigger: ExecutionTrigger;
  triggerNodeId?: string;
  triggerData: unknown;
  idempotencyKey?: string | null;
  parentExecutionId?: string | null;
}

export interface Started {
  row: ExecutionRow;
  /** True when the idempotency key named an execution that already existed. */
  existing: boolean;
  /** The run, when this process runs it now. */
  run: Promise<ExecutionOutcome> | null;
}

/**
 * Creates an execution. With a free slot here and `inline`, it is created already claimed and
 * runs now in this process (no queue hop: the webhook fast path); otherwise it is queued and
 * dispatched. `onRespond` hears a respond node's answer as soon as it is given.
 */
export async function startExecution(
  ctx: AppContext,
  input: StartInput,
  options: { inline: boolean | 'always'; onRespond?: (response: WebhookResponse) => void } = { inline: false },
): Promise<Started> {
  const runner = ctx.executions;
  const snapshot = snapshotOfWorkflow(ctx, input.workflow);
  const triggerNodeId = triggerNodeOf(snapshot, input.trigger, input.triggerNodeId);
  await storeSnapshot(ctx, input.workflow, snapshot);
  if (input.idempotencyKey) {
    const existing = await repo.findByIdempotencyKey(ctx.db.kysely, input.workflow.id, input.idempotencyKey);
    if (existing) return { row: existing, existing: true, run: null };
  }
  const inline = options.inline === 'always' ? (runner.forceReserve(), true) : options.inline && runner.tryReserve();
  const at = now();
  const row: ExecutionRow = {
    id: newId(),
    workspace_id: input.workflow.workspace_id,
    workflow_id: input.workflow.id,
    user_id: input.userId,
    status: inline ? 'running' : 'queued',
    trigger: input.trigger,
    trigger_node_id: triggerNodeId,
    workflow_version: input.workflow.version,
    trigger_data: toJson(input.triggerData ?? null),
    state: null,
    output: null,
    error: null,
    response: null,
    resume_data: null,
    idempotency_key: input.idempotencyKey ?? null,
    parent_execution_id: input.parentExecutionId ?? null,
    retry_of_id: null,
    node_runs: 0,
    lease_owner: inline ? runner.owner : null,
    lease_expires_at: inline ? new Date(Date.now() + ctx.config.workflows.leaseMs).toISOString() : null,
    wake_at: null,
    started_at: inline ? at : null,
    finished_at: null,
    created_at: at,
    updated_at: at,
  };
  try {
    // Without an idempotency key the insert cannot conflict: it joins the group commit.
    if (input.idempotencyKey) await repo.insertExecution(ctx.db.kysely, row as repo.NewExecution);
    else await writeBatcherOf(ctx.db).submit((db) => repo.insertExecution(db, row as repo.NewExecution));
  } catch (error) {
    if (inline) runner.release();
    if (input.idempotencyKey && isUniqueViolation(error)) {
      const existing = await repo.findByIdempotencyKey(ctx.db.kysely, input.workflow.id, input.idempotencyKey);
      if (existing) return { row: existing, existing: true, run: null };
    }
    throw error;
  }
  if (!inline) {
    await runner.dispatch(row.id);
    return { row, existing: false, run: null };
  }
  // run() counts the execution as active before it first awaits: the reservation ends there.
  const run = runner.run(row, { onRespond: options.onRespond });
  runner.release();
  return { row, existing: false, run };
}

export type WaitResult =
  | { kind: 'settled'; row: ExecutionRow; outcome: ExecutionOutcome | null }
  | { kind: 'responded'; response: WebhookResponse; row: ExecutionRow }
  | { kind: 'timeout'; row: ExecutionRow };

/**
 * Starts an execution and waits (up to `timeoutMs`) for its end, or for a respond node's answer
 * when `untilResponse`. Works whichever process runs it: this one inline, or another through
 * the queue (events then come over Redis in scale mode, or from this process's poller).
 */
export async function startAndWait(
  ctx: AppContext,
  input: StartInput,
  options: { timeoutMs: number; untilResponse: boolean; inline?: boolean | 'always' },
): Promise<WaitResult> {
  let responded: ((response: WebhookResponse) => void) | undefined;
  const respondedPromise = new Promise<WebhookResponse>((resolve) => (responded = resolve));
  const started = await startExecution(ctx, input, { inline: options.inline ?? true, onRespond: (response) => responded?.(response) });
  if (started.existing) return waitForRow(ctx, started.row, options);
  if (started.run) {
    let timer: NodeJS.Timeout | undefined;
    const racers: Array<Promise<WaitResult>> = [started.run.then((outcome) => ({ kind: 'settled', row: started.row, outcome }) as WaitResult)];
    if (options.untilResponse) racers.push(respondedPromise.then((response) => ({ kind: 'responded', response, row: started.row }) as WaitResult));
    racers.push(new Promise<WaitResult>((resolve) => (timer = setTimeout(() => resolve({ kind: 'timeout', row: started.row }), options.timeoutMs))));
    // The timer goes with the answer: a finished call holds nothing for the rest of the timeout.
    const result = await Promise.race(racers).finally(() => clearTimeout(timer));
    if (result.kind === 'settled' && (result.outcome?.status === 'waiting' || result.outcome?.status === 'stopped')) {
      return { kind: 'settled', row: (await repo.findExecutionById(ctx.db.kysely, started.row.id)) ?? started.row, outcome: result.outcome };
    }
    return result;
  }
  return waitForRow(ctx, started.row, options);
}

/** Waits for an execution another runner has (or will have): by its events, checking the row when they may have been missed. */
async function waitForRow(ctx: AppContext, row: ExecutionRow, options: { timeoutMs: number; untilResponse: boolean }): Promise<WaitResult> {
  const db = ctx.db.kysely;
  const deadline = Date.now() + options.timeoutMs;
  let wake: (() => void) | undefined;
  let response: WebhookResponse | undefined;
  // An event that lands while the row is being read is remembered, not lost until the next check.
  let signalled = false;
  const stop = ctx.executions.listen(row.id, (event) => {
    if (event.type === 'responded') response = event.response;
    signalled = true;
    wake?.();
  });
  try {
    for (;;) {
      if (response && options.untilResponse) return { kind: 'responded', response, row };
      signalled = false;
      const current = (await repo.findExecutionById(db, row.id)) ?? row;
      if (current.status !== 'queued' && current.status !== 'running') {
        if (options.untilResponse && current.response !== null) {
          return { kind: 'responded', response: fromJson<WebhookResponse>(current.response), row: current };
        }
        return { kind: 'settled', row: current, outcome: null };
      }
      const left = deadline - Date.now();
      if (left <= 0) return { kind: 'timeout', row: current };
      if (signalled) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 500));
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    }
  } finally {
    stop();
  }
}


// ---------------------------------------------------------------------------------------------
// Reading executions

/** The workflows an execution list may show: those of the workspace the caller can see (admins: all). */
export function visibleWorkflowsSubquery(db: Executor, scope: WorkspaceScope) {
  const query = db.selectFrom('workflows as vw').select('vw.id').where('vw.workspace_id', '=', scope.workspaceId);
  if (scope.role === 'owner' || scope.role === 'admin') return query;
  return query.where((eb) => eb.or([eb('vw.visibility', '!=', 'private'), eb('vw.user_id', '=', scope.userId)]));
}

export async function listExecutions(
  ctx: AppContext,
  scope: WorkspaceScope,
  page: PageRequest,
  filters: { workflowId?: string; status?: ExecutionStatus; trigger?: ExecutionTrigger; from?: string; to?: string },
): Promise<PageResult<WorkflowExecutionResource>> {
  const db = ctx.db.kysely;
  let base = db
    .selectFrom('workflow_executions as e')
    .where('e.workspace_id', '=', scope.workspaceId)
    .where('e.workflow_id', 'in', visibleWorkflowsSubquery(db, scope));
  if (filters.workflowId) base = base.where('e.workflow_id', '=', filters.workflowId);
  if (filters.status) base = base.where('e.status', '=', filters.status);
  if (filters.trigger) base = base.where('e.trigger', '=', filters.trigger);
  if (filters.from) base = base.where('e.created_at', '>=', new Date(filters.from).toISOString());
  if (filters.to) base = base.where('e.created_at', '<', new Date(filters.to).toISOString());
  return fetchPage(page, {
    base: base as never,
    // The workflow's current name (the execution's version may have had another).
    select: (q) =>
      q
        .selectAll('e')
        .select((eb) => eb.selectFrom('workflows as wn').select('wn.name').whereRef('wn.id', '=', 'e.workflow_id').as('workflow_name'))
        .select(sql.ref(page.sort.column).as('sort_value')),
    idColumn: 'e.id',
    sortField: 'sort_value',
    idField: 'id',
    map: (row: ExecutionRow & { sort_value?: unknown }) => {
      const { sort_value: _sort, ...execution } = row;
      return toExecutionResource(ctx, execution as ExecutionRow);
    },
  });
}

export async function countExecutions(
  ctx: AppContext,
  scope: WorkspaceScope,
  filters: { workflowId?: string; byWorkflow: boolean; from?: string; to?: string },
): Promise<Static<typeof ExecutionCounts>> {
  const db = ctx.db.kysely;
  let query = db
    .selectFrom('workflow_executions as e')
    .select(['e.workflow_id', 'e.status', sql<number>`count(*)`.as('count')])
    .where('e.workspace_id', '=', scope.workspaceId)
    .where('e.workflow_id', 'in', visibleWorkflowsSubquery(db, scope))
    .groupBy(['e.workflow_id', 'e.status']);
  if (filters.workflowId) query = query.where('e.workflow_id', '=', filters.workflowId);
  if (filters.from) query = query.where('e.created_at', '>=', new Date(filters.from).toISOString());
  if (filters.to) query = query.where('e.created_at', '<', new Date(filters.to).toISOString());
  const rows = await query.execute();
  const empty = () => Object.fromEntries(EXECUTION_STATUSES.map((status) => [status, 0])) as Record<ExecutionStatus, number>;
  const byStatus = empty();
  const byWorkflow = new Map<string, Record<ExecutionStatus, number>>();
  let total = 0;
  for (const row of rows) {
    const count = Number(row.count);
    total += count;
    byStatus[row.status] += count;
    let perWorkflow = byWorkflow.get(row.workflow_id);
    if (!perWorkflow) byWorkflow.set(row.workflow_id, (perWorkflow = empty()));
    perWorkflow[row.status] += count;
  }
  return {
    total,
    by_status: byStatus,
    ...(filters.byWorkflow
      ? {
          by_workflow: [...byWorkflow.entries()].map(([workflowId, counts]) => ({
            workflow_uuid: workflowId,
            total: Object.values(counts).reduce((sum, n) => sum + n, 0),
            by_status: counts,
          })),
        }
      : {}),
  };
}

/** An execution the caller may see (its workflow visible to them), else 404. */
export async function getExecutionRowOrThrow(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<ExecutionRow> {
  const db = ctx.db.kysely;
  const row = await repo.findExecution(db, scope.workspaceId, id);
  if (!row) throw new AppError('NOT_FOUND');
  const visible = await visibleWorkflowsSubquery(db, scope).where('vw.id', '=', row.workflow_id).executeTakeFirst();
  if (!visible) throw new AppError('NOT_FOUND');
  return row;
}

/** The execution as the API shows it; `workflowName` when known, else the name its version had (if cached here). */
export function toExecutionResource(ctx: AppContext, row: ExecutionRow & { workflow_name?: string | null }, workflowName?: string): WorkflowExecutionResource {
  const name = workflowName ?? row.workflow_name ?? cachedSnapshot(row.workflow_id, row.workflow_version)?.name ?? '';
  const dataOptions = { dataDir: ctx.config.dataDir, executionId: row.id };
  const finished = row.finished_at && row.started_at ? Date.parse(row.finished_at) - Date.parse(row.started_at) : null;
  return {
    uuid: row.id,
    workflow_uuid: row.workflow_id,
    workflow: { uuid: row.workflow_id, name },
    status: row.status,
    trigger: row.trigger,
    trigger_node_id: row.trigger_node_id,
    workflow_version: row.workflow_version,
    node_runs: row.node_runs,
    error: row.error === null ? null : fromJson(row.error),
    output: row.output === null ? null : decodeStepValue(row.output, dataOptions),
    retry_of_uuid: row.retry_of_id,
    parent_execution_uuid: row.parent_execution_id,
    wake_at: row.wake_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
    duration_ms: finished,
    user_id: row.user_id,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** The current name of an execution's workflow. */
export async function workflowNameOf(ctx: AppContext, row: ExecutionRow): Promise<string> {
  const workflow = await ctx.db.kysely.selectFrom('workflows').select('name').where('id', '=', row.workflow_id).executeTakeFirst();
  return workflow?.name ?? '';
}

/** The execution with every node run's data (`WorkflowExecutionData`). */
export async function toExecutionWithData(ctx: AppContext, row: ExecutionRow, baseUrl: string) {
  const steps = await repo.listSteps(ctx.db.kysely, row.id);
  const snapshot = await loadSnapshot(ctx, row.workflow_id, row.workflow_version);
  const names = new Map(snapshot.nodes.map((node) => [node.id, node.name]));
  return {
    ...toExecutionResource(ctx, row, await workflowNameOf(ctx, row)),
    data: {
      workflow_data: {
        name: snapshot.name,
        version: snapshot.version,
        nodes: snapshot.nodes,
        edges: snapshot.edges,
        variables: snapshot.variables.map((variable) => ({
          name: variable.name,
          secret: variable.secret,
          value: variable.secret ? (variable.sealed ? MASKED : null) : (variable.value ?? null),
        })),
        settings: snapshot.settings,
      },
      trigger_data: row.trigger_data === null ? null : fromJson(row.trigger_data),
      nodes: steps.map((step) => {
        const input = describeStepValue(step.input);
        const output = describeStepValue(step.output);
        const fileBytes = (input.fileBytes ?? 0) + (output.fileBytes ?? 0);
        return {
          seq: step.seq,
          node_id: step.node_id,
          node_type: step.node_type,
          node_name: names.get(step.node_id) ?? null,
          status: step.status as 'succeeded' | 'failed',
          input: input.value,
          output: output.value,
          data_file_bytes: fileBytes > 0 ? fileBytes : null,
          data_url: fileBytes > 0 ? `${baseUrl}/api/v1/workflow-executions/${row.id}/nodes/${step.seq}/data` : null,
          handle: step.handle,
          error: step.error === null ? null : fromJson<{ message: string; kind: string; details?: unknown }>(step.error),
          attempts: step.attempts,
          started_at: step.started_at,
          finished_at: step.finished_at,
          duration_ms: Math.max(0, Date.parse(step.finished_at) - Date.parse(step.started_at)),
        };
      }),
      response: row.response === null ? null : fromJson(row.response),
    },
  };
}

/** One node run's full input and output (also when kept in files). */
export async function stepData(ctx: AppContext, row: ExecutionRow, seq: number): Promise<{ input: unknown; output: unknown }> {
  const step = await ctx.db.kysely
    .selectFrom('workflow_execution_steps')
    .select(['input', 'output'])
    .where('execution_id', '=', row.id)
    .where('seq', '=', seq)
    .executeTakeFirst();
  if (!step) throw new AppError('NOT_FOUND');
  const options = { dataDir: ctx.config.dataDir, executionId: row.id };
  return { input: decodeStepValue(step.input, options), output: decodeStepValue(step.output, options) };
}

// ---------------------------------------------------------------------------------------------
// Changing executions

export async function cancelExecution(ctx: AppContext, row: ExecutionRow): Promise<ExecutionRow> {
  if (FINISHED_STATUSES.includes(row.status)) {
    throw new AppError('CONFLICT', `The execution has already ended (${row.status}).`);
  }
  // Counted in the metrics rollups with the cancel it counts.
  const cancelled = await ctx.db.kysely.transaction().execute(async (trx) => {
    const ended = await repo.cancelExecution(trx, row.workspace_id, row.id, now());
    if (ended) await countExecutionEnd(trx, ended);
    return ended;
  });
  if (!cancelled) {
    const current = await repo.findExecutionById(ctx.db.kysely, row.id);
    throw new AppError('CONFLICT', `The execution has already ended (${current?.status ?? 'deleted'}).`);
  }
  ctx.metrics.executionFinished('canceled', row.trigger);
  await executionCanceled(ctx, cancelled);
  ctx.executions.cancelEverywhere(row.id);
  ctx.executions.emit(row.id, { type: 'settled', status: 'canceled' });
  return (await repo.findExecutionById(ctx.db.kysely, row.id))!;
}

/** Resumes an execution parked on a `resume` wait with `data` as the wait node's output. */
export async function resumeExecution(ctx: AppContext, row: ExecutionRow, data: unknown): Promise<ExecutionRow> {
  const state = row.state === null ? null : fromJson<RunState>(row.state);
  if (row.status !== 'waiting' || !state?.waiting) throw new AppError('CONFLICT', 'The execution is not waiting.');
  const resumed = await repo.resumeExecution(ctx.db.kysely, row.workspace_id, row.id, toJson(data ?? null), now());
  if (!resumed) throw new AppError('CONFLICT', 'The execution is not waiting.');
  await ctx.executions.dispatch(row.id);
  return (await repo.findExecutionById(ctx.db.kysely, row.id))!;
}

/**
 * Retries a failed or cancelled execution from the node that stopped it: a new execution with
 * the steps before it and the state at that point, so nothing before the failure runs again.
 */
export async function retryExecution(ctx: AppContext, row: ExecutionRow, userId: number): Promise<ExecutionRow> {
  if (row.status !== 'failed' && row.status !== 'canceled') throw new AppError('CONFLICT', 'Only a failed or cancelled execution can be retried.');
  const db = ctx.db.kysely;
  const state = row.state === null ? null : fromJson<RunState>(row.state);
  // The failed node's own step is not copied: it runs again.
  const failedSeq = await db
    .selectFrom('workflow_execution_steps')
    .select(sql<number>`max(seq)`.as('seq'))
    .where('execution_id', '=', row.id)
    .where('status', '=', 'failed')
    .where('handle', 'is', null)
    .executeTakeFirst();
  const cut = state && failedSeq?.seq !== null && failedSeq?.seq !== undefined ? failedSeq.seq : (state?.lastSeq ?? -1) + 1;
  const retried: RunState | null = state ? { ...state, lastSeq: cut - 1, nodeRuns: Math.max(0, state.nodeRuns - 1) } : null;
  const at = now();
  const id = newId();
  await db.transaction().execute(async (trx) => {
    await repo.insertExecution(trx, {
      ...(row as repo.NewExecution),
      id,
      status: 'queued',
      trigger: 'retry',
      state: retried ? toJson(retried) : null,
      output: null,
      error: null,
      response: null,
      resume_data: null,
      idempotency_key: null,
      retry_of_id: row.id,
      user_id: userId,
      node_runs: retried?.nodeRuns ?? 0,
      lease_owner: null,
      lease_expires_at: null,
      wake_at: null,
      started_at: null,
      finished_at: null,
      created_at: at,
      updated_at: at,
      trigger_data: row.trigger_data === null ? null : typeof row.trigger_data === 'string' ? row.trigger_data : toJson(row.trigger_data),
    });
    if (retried) await repo.copySteps(trx, row.id, id, cut);
  });
  copyDataFiles(ctx, row.id, id);
  await ctx.executions.dispatch(id);
  return (await repo.findExecutionById(db, id))!;
}

/** Steps that point at files need the files under the new execution too. */
function copyDataFiles(ctx: AppContext, fromId: string, toId: string): void {
  const from = executionDataDir(ctx.config.dataDir, fromId);
  if (fs.existsSync(from)) fs.cpSync(from, executionDataDir(ctx.config.dataDir, toId), { recursive: true });
}

export async function deleteExecution(ctx: AppContext, row: ExecutionRow): Promise<void> {
  if (row.status === 'running') throw new AppError('CONFLICT', 'A running execution cannot be deleted; cancel it first.');
  await repo.deleteExecution(ctx.db.kysely, row.workspace_id, row.id);
  removeExecutionData(ctx.config.dataDir, [row.id]);
}

