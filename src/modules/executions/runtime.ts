import type { AppContext } from '../../context.js';
import { configureSandboxPool } from '../../engine/sandbox/index.js';
import type { ExecutionOutcome } from '../../engine/executor.js';
import { startExecution } from './executions.service.js';
import type { ExecutionRow } from './executions.table.js';
import { pruneExecutions } from './retention.js';
import { fireDueSchedules } from './scheduler.js';
import { loadSnapshot } from './snapshot.js';

/** How often retention runs (it prunes in small batches, so it never holds the database long). */
const PRUNE_EVERY_MS = 60_000;

/**
 * Starts the workflow runtime of this process: in scale mode (REDIS_URL) the BullMQ queue and
 * its events; schedules, waits and retention on every poll of a process that runs work; error
 * workflows after failures.
 */
export async function startWorkflowRuntime(ctx: AppContext): Promise<void> {
  const runner = ctx.executions;
  if (ctx.config.workflows.codeWorkers > 0) configureSandboxPool({ size: ctx.config.workflows.codeWorkers });
  if (ctx.config.redisUrl) {
    const { createQueueDispatcher } = await import('../../jobs/queue.js');
    runner.useDispatcher(await createQueueDispatcher(ctx, runner));
  }
  runner.onSettled((row, outcome) => startErrorWorkflow(ctx, row, outcome));
  if (!runner.runsWork) return;
  let lastPrune = 0;
  runner.addMaintenance(async () => {
    await fireDueSchedules(ctx);
    if (Date.now() - lastPrune >= PRUNE_EVERY_MS) {
      lastPrune = Date.now();
      await pruneExecutions(ctx);
    }
  });
  runner.start();
}

/** A failed execution starts its workflow's error workflow, with what failed as the trigger data. */
async function startErrorWorkflow(ctx: AppContext, row: ExecutionRow, outcome: ExecutionOutcome): Promise<void> {
  if (outcome.status !== 'failed' || row.trigger === 'error') return;
  const snapshot = await loadSnapshot(ctx, row.workflow_id, row.workflow_version);
  const errorWorkflowId = snapshot.settings.error_workflow_uuid;
  if (!errorWorkflowId) return;
  const workflow = await ctx.db.kysely
    .selectFrom('workflows')
    .selectAll()
    .where('id', '=', errorWorkflowId)
    .where('workspace_id', '=', row.workspace_id)
    .executeTakeFirst();
  if (!workflow) return;
  await startExecution(
    ctx,
    {
      workflow,
      userId: workflow.user_id,
      trigger: 'error',
      triggerData: {
        execution: { uuid: row.id, trigger: row.trigger, started_at: row.started_at ?? row.created_at },
        workflow: { uuid: row.workflow_id, name: snapshot.name },
        error: outcome.error,
      },
      parentExecutionId: row.id,
      idempotencyKey: `error:${row.id}`,
    },
    { inline: false },
  );
}
