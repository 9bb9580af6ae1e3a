import { sql } from 'kysely';
import type { AppContext } from '../../context.js';
import { fromJson } from '../../db/values.js';
import { removeExecutionData } from './payload-files.js';

/** Rows deleted per statement: small enough that writers queue behind it for milliseconds at most. */
export const PRUNE_BATCH = 500;
const FINISHED = ['succeeded', 'failed', 'canceled'] as const;

interface RetentionSettings {
  retention?: { max_age_days?: number | null; max_count?: number | null } | null;
}

/**
 * Deletes finished executions past their retention: older than the age limit, or beyond the
 * newest `count` of their workflow (the stricter of the workflow's own policy and the global
 * one). Deletes in batches with a yield between them, removes their data files, and on SQLite
 * hands the freed pages back to the file system (incremental auto-vacuum).
 */
export async function pruneExecutions(ctx: AppContext, at: Date = new Date()): Promise<number> {
  const db = ctx.db.kysely;
  const { retentionDays, retentionCount } = ctx.config.workflows;
  let deleted = 0;

  const deleteBatch = async (ids: string[]) => {
    if (ids.length === 0) return;
    await db.deleteFrom('workflow_executions').where('id', 'in', ids).execute();
    removeExecutionData(ctx.config.dataDir, ids);
    deleted += ids.length;
    await new Promise((resolve) => setImmediate(resolve));
  };

  /** Deletes, batch by batch, the finished executions (of one workflow, when given) that ended before `cutoff`. */
  const pruneFinishedBefore = async (cutoff: string, workflowId?: string) => {
    for (;;) {
      let query = db.selectFrom('workflow_executions').select('id').where('finished_at', '<', cutoff).where('status', 'in', FINISHED);
      if (workflowId !== undefined) query = query.where('workflow_id', '=', workflowId);
      const ids = (await query.limit(PRUNE_BATCH).execute()).map((row) => row.id);
      await deleteBatch(ids);
      if (ids.length < PRUNE_BATCH) break;
    }
  };

  // Age, globally.
  await pruneFinishedBefore(new Date(at.getTime() - retentionDays * 86_400_000).toISOString());

  // Per workflow: its own age limit, and the count limit.
  const workflows = await db.selectFrom('workflows').select(['id', 'settings']).execute();
  const counts = new Map(
    (
      await db
        .selectFrom('workflow_executions')
        .select(['workflow_id', sql<number>`count(*)`.as('count')])
        .where('finished_at', 'is not', null)
        .groupBy('workflow_id')
        .execute()
    ).map((row) => [row.workflow_id, Number(row.count)]),
  );
  for (const workflow of workflows) {
    const finished = counts.get(workflow.id) ?? 0;
    if (finished === 0) continue;
    const retention = fromJson<RetentionSettings>(workflow.settings)?.retention ?? {};
    const deletedBefore = deleted;
    if (retention.max_age_days) {
      await pruneFinishedBefore(new Date(at.getTime() - retention.max_age_days * 86_400_000).toISOString(), workflow.id);
    }
    const keep = Math.min(retentionCount, retention.max_count ?? Number.POSITIVE_INFINITY);
    // What the workflow's own age limit just pruned no longer counts against `keep`.
    let excess = finished - (deleted - deletedBefore) - keep;
    while (excess > 0) {
      // The oldest finished ones beyond the newest `keep`.
      const ids = (
        await db
          .selectFrom('workflow_executions')
          .select('id')
          .where('workflow_id', '=', workflow.id)
          .where('status', 'in', FINISHED)
          .where('finished_at', 'is not', null)
          .orderBy('finished_at', 'asc')
          .orderBy('id', 'asc')
          .limit(Math.min(PRUNE_BATCH, excess))
          .execute()
      ).map((row) => row.id);
      if (ids.length === 0) break;
      await deleteBatch(ids);
      excess -= ids.length;
    }
  }

  if (deleted > 0) await ctx.db.reclaimSpace();
  return deleted;
}
