import type { AppContext } from '../../context.js';
import { dueRuns, nextRunAt } from '../../engine/schedule/index.js';
import { startExecution } from './executions.service.js';

/** Schedules fired per poll at most; the rest wait for the next poll. */
const BATCH = 50;

/**
 * Fires the schedules that are due. Each is moved to its next time with a compare-and-set on
 * its current one, so when several processes poll, exactly one fires it; the execution's
 * idempotency key (schedule node + time) makes a fire that raced anyway a no-op. After
 * downtime a schedule fires once for the latest missed time, not once per missed time.
 */
export async function fireDueSchedules(ctx: AppContext, at: Date = new Date()): Promise<number> {
  const db = ctx.db.kysely;
  const due = await db
    .selectFrom('workflow_schedules')
    .selectAll()
    .where('next_run_at', '<=', at.toISOString())
    .orderBy('next_run_at')
    .limit(BATCH)
    .execute();
  let fired = 0;
  for (const schedule of due) {
    const next = nextRunAt(schedule.cron, schedule.timezone, at);
    const moved = await db
      .updateTable('workflow_schedules')
      .set({ next_run_at: (next ?? new Date('9999-12-31T00:00:00.000Z')).toISOString(), last_run_at: at.toISOString() })
      .where('id', '=', schedule.id)
      .where('next_run_at', '=', schedule.next_run_at)
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) continue;
    const workflow = await db.selectFrom('workflows').selectAll().where('id', '=', schedule.workflow_id).executeTakeFirst();
    if (!workflow || !workflow.is_active) continue;
    // After downtime the latest missed time is the one that fires (the stored one is the earliest).
    const scheduledAt = (dueRuns(schedule.cron, schedule.timezone, new Date(Date.parse(schedule.next_run_at) - 1), at, 1)[0] ?? new Date(schedule.next_run_at)).toISOString();
    await startExecution(
      ctx,
      {
        workflow,
        userId: workflow.user_id,
        trigger: 'schedule',
        triggerNodeId: schedule.node_id,
        triggerData: { scheduled_at: scheduledAt, cron: schedule.cron, timezone: schedule.timezone },
        idempotencyKey: `schedule:${schedule.node_id}:${scheduledAt}`,
      },
      { inline: false },
    ).catch((error: unknown) => ctx.log.error({ err: error, workflow: workflow.id }, 'a scheduled execution could not start'));
    fired += 1;
  }
  return fired;
}
