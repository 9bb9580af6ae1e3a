import type { Insertable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedInsert } from '../../db/prepared.js';
import type { RunKind, RunRow, RunsTable, RunStatus } from './runs.table.js';

/** The columns a run is created with (the counters start at their defaults). */
const RUN_COLUMNS = [
  'id', 'workspace_id', 'user_id', 'kind', 'agent_id', 'thread_id', 'prompt_id', 'prompt_version', 'llm_id', 'account_id',
  'provider_slug', 'model_id', 'status', 'finish_reason', 'error', 'idempotency_key', 'request_hash', 'output', 'output_json',
  'response', 'latency_ms', 'ttft_ms', 'lease_expires_at', 'cancel_requested', 'started_at', 'finished_at', 'created_at', 'updated_at',
] as const satisfies ReadonlyArray<keyof RunsTable>;

export type NewRun = Pick<Insertable<RunsTable>, (typeof RUN_COLUMNS)[number]>;

const insertRunRow = preparedInsert<'runs', RunRow>('runs', RUN_COLUMNS);

/** Every run writes one: prepared once (see preparedInsert). */
export function insertRun(db: Executor, values: Required<NewRun>): Promise<RunRow> {
  return insertRunRow(db, values);
}

export function findRun(db: Executor, workspaceId: string, id: string): Promise<RunRow | undefined> {
  return db.selectFrom('runs').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
}

export function findRunByIdempotencyKey(db: Executor, workspaceId: string, userId: number, key: string): Promise<RunRow | undefined> {
  return db
    .selectFrom('runs')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('user_id', '=', userId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
}

/** The run holding a thread (status running), if any. */
export function findActiveRunOfThread(db: Executor, workspaceId: string, threadId: string): Promise<RunRow | undefined> {
  return db
    .selectFrom('runs')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('thread_id', '=', threadId)
    .where('status', '=', 'running')
    .executeTakeFirst();
}

/** Extends a live run's lease; answers whether a cancel was requested meanwhile (by any process). */
export async function renewLease(db: Executor, id: string, leaseExpiresAt: string): Promise<{ cancelRequested: boolean } | undefined> {
  const row = await db
    .updateTable('runs')
    .set({ lease_expires_at: leaseExpiresAt })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .returning(['cancel_requested'])
    .executeTakeFirst();
  return row ? { cancelRequested: row.cancel_requested === true || (row.cancel_requested as unknown) === 1 } : undefined;
}

export async function requestCancel(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db
    .updateTable('runs')
    .set({ cancel_requested: true })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('status', '=', 'running')
    .execute();
}

export function finishRun(db: Executor, id: string, values: Updateable<RunsTable>): Promise<RunRow> {
  return db.updateTable('runs').set(values).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

/**
 * Marks a run whose lease ran out as failed: the process running it died. Only a run still
 * marked running with an expired lease is touched, so a live one is never reaped. Answers the
 * reaped run, undefined when there was none to reap.
 */
export function reapExpiredRun(db: Executor, id: string, at: string): Promise<RunRow | undefined> {
  return db
    .updateTable('runs')
    .set({
      status: 'failed',
      finish_reason: 'interrupted',
      error: 'The run was interrupted: the process running it stopped.',
      finished_at: at,
      updated_at: at,
    })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .where('lease_expires_at', '<', at)
    .returningAll()
    .executeTakeFirst();
}

export interface RunListFilter {
  kind?: RunKind;
  status?: RunStatus;
  agentId?: string;
  threadId?: string;
  promptId?: string;
}

/** Runs of the workspace the user started. */
export function listRunsQuery(db: Executor, workspaceId: string, userId: number, filter: RunListFilter) {
  let query = db.selectFrom('runs as r').where('r.workspace_id', '=', workspaceId).where('r.user_id', '=', userId);
  if (filter.kind) query = query.where('r.kind', '=', filter.kind);
  if (filter.status) query = query.where('r.status', '=', filter.status);
  if (filter.agentId) query = query.where('r.agent_id', '=', filter.agentId);
  if (filter.threadId) query = query.where('r.thread_id', '=', filter.threadId);
  if (filter.promptId) query = query.where('r.prompt_id', '=', filter.promptId);
  return query;
}
