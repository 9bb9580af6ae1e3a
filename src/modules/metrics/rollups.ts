import { CompiledQuery, PostgresAdapter, sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import {
  agentRunContribution,
  conversationContribution,
  difference,
  executionContribution,
  feedbackContribution,
  messageContribution,
  negate,
  ownerOfThread,
  threadContribution,
  type CountedExecution,
  type CountedFeedback,
  type CountedMessage,
  type CountedRun,
  type CountedThread,
  type RollupDelta,
} from './contributions.js';
import { agentDim, SERIES, workflowDim, WORKSPACE_DIM, type SeriesName } from './series.js';

/**
 * The write side of the metrics rollups: every write that changes what a series counts adds
 * its delta here, in its own transaction (see docs/architecture.md § Metrics).
 */

const KEY_COLUMNS = ['workspace_id', 'dim', 'owner_id', 'bucket'] as const;

/** Rows per upsert: statements of 1, 2, 4 … 256 rows, so few distinct statements are prepared. */
const MAX_ROWS = 256;

function isPostgres(db: Executor): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** Deltas with the same key summed; rows whose counters all sum to zero left out. */
export function mergeDeltas(deltas: readonly RollupDelta[]): Map<SeriesName, RollupDelta[]> {
  const byKey = new Map<string, RollupDelta>();
  for (const delta of deltas) {
    const key = `${delta.series}\u0000${delta.workspaceId}\u0000${delta.dim}\u0000${delta.ownerId}\u0000${delta.bucket}`;
    const merged = byKey.get(key);
    if (!merged) {
      byKey.set(key, { ...delta, counters: { ...delta.counters } } as RollupDelta);
      continue;
    }
    const counters = merged.counters as Record<string, number>;
    for (const [name, value] of Object.entries(delta.counters) as Array<[string, number]>) counters[name] = (counters[name] ?? 0) + value;
  }
  const bySeries = new Map<SeriesName, RollupDelta[]>();
  for (const delta of byKey.values()) {
    if (!Object.values(delta.counters).some((value) => value !== 0 && value !== undefined)) continue;
    const list = bySeries.get(delta.series);
    if (list) list.push(delta);
    else bySeries.set(delta.series, [delta]);
  }
  return bySeries;
}

const upsertSql = new Map<string, string>();

/** `insert … values (…), (…) on conflict (key) do update set c = t.c + excluded.c` for every counter. */
function upsertStatement(series: SeriesName, rows: number, postgres: boolean): string {
  const cacheKey = `${series}:${rows}:${postgres ? 'pg' : 'sqlite'}`;
  let text = upsertSql.get(cacheKey);
  if (text) return text;
  const { table, counters } = SERIES[series];
  const columns = [...KEY_COLUMNS, ...counters];
  let n = 0;
  const tuple = () => `(${columns.map(() => (postgres ? `$${++n}` : '?')).join(', ')})`;
  const values = Array.from({ length: rows }, tuple).join(', ');
  const updates = counters.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(', ');
  text = `insert into ${table} (${columns.join(', ')}) values ${values} on conflict (${KEY_COLUMNS.join(', ')}) do update set ${updates}`;
  upsertSql.set(cacheKey, text);
  return text;
}

/**
 * Adds deltas to the rollup tables: merged by key first, then one multi-row upsert per table
 * (per 256 rows). Runs in the caller's transaction: the write it counts must be in the same one.
 */
export async function applyRollupDeltas(db: Executor, deltas: readonly RollupDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  const postgres = isPostgres(db);
  for (const [series, rows] of mergeDeltas(deltas)) {
    const { counters } = SERIES[series];
    let offset = 0;
    while (offset < rows.length) {
      // The largest power of two that fits: statement shapes stay few (the SQLite statement cache).
      let size = MAX_ROWS;
      while (size > rows.length - offset) size /= 2;
      const parameters: unknown[] = [];
      for (const row of rows.slice(offset, offset + size)) {
        const values = row.counters as Record<string, number | undefined>;
        parameters.push(row.workspaceId, row.dim, row.ownerId, row.bucket);
        for (const counter of counters) parameters.push(values[counter] ?? 0);
      }
      await db.executeQuery(CompiledQuery.raw(upsertStatement(series, size, postgres), parameters));
      offset += size;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// What each write counts. Each runs in the transaction of the write it counts.

/** An execution that just ended (its row as the ending statement returned it). */
export function countExecutionEnd(db: Executor, row: CountedExecution): Promise<void> {
  return applyRollupDeltas(db, executionContribution(row));
}

const RUN_COLUMNS = ['workspace_id', 'agent_id', 'kind', 'status', 'created_at', 'input_tokens', 'output_tokens', 'cost', 'latency_ms'] as const;

/**
 * Runs `change` (an update of one run) and counts what it changed: the run as it was (read
 * first, locked on PostgreSQL so a concurrent end waits) against the run as `change` left it.
 * Counting the difference makes a second end (a run reaped, then finished by its process) move
 * the run from one outcome to the other instead of counting it twice.
 */
export async function countRunChange<T extends CountedRun | undefined>(db: Executor, runId: string, change: () => Promise<T>): Promise<T> {
  let query = db.selectFrom('runs').select(RUN_COLUMNS).where('id', '=', runId);
  if (isPostgres(db)) query = query.forUpdate();
  const before = await query.executeTakeFirst();
  const after = await change();
  await applyRollupDeltas(db, difference(after ? agentRunContribution(after) : [], before ? agentRunContribution(before) : []));
  return after;
}

/** A run that just ended from running (nothing of it was counted before). */
export function countRunEnd(db: Executor, run: CountedRun): Promise<void> {
  return applyRollupDeltas(db, agentRunContribution(run));
}

const MESSAGE_COLUMNS = ['workspace_id', 'agent_id', 'role', 'created_at', 'input_tokens', 'output_tokens', 'cost', 'feedback', 'feedback_at'] as const;
const THREAD_COLUMNS = ['id', 'workspace_id', 'user_id', 'agent_id', 'visibility', 'created_at'] as const;

type ThreadKey = CountedThread & { id: string };

async function findCountedThread(db: Executor, threadId: string, lock: boolean): Promise<ThreadKey | undefined> {
  let query = db.selectFrom('threads').select(THREAD_COLUMNS).where('id', '=', threadId);
  if (lock && isPostgres(db)) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** A thread just created. */
export function countThreadCreated(db: Executor, thread: CountedThread): Promise<void> {
  return applyRollupDeltas(db, threadContribution(thread));
}

/** Messages just appended to one thread (the thread row is locked by the append). */
export async function countMessagesAdded(db: Executor, threadId: string, messages: readonly CountedMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const thread = await findCountedThread(db, threadId, false);
  if (!thread) return;
  await applyRollupDeltas(db, messages.flatMap((message) => messageContribution(thread, message)));
}

/** A message just deleted (its row as the delete returned it), with its feedback. */
export async function countMessageRemoved(db: Executor, threadId: string, message: CountedMessage): Promise<void> {
  const thread = await findCountedThread(db, threadId, false);
  if (!thread) return;
  await applyRollupDeltas(db, negate(messageContribution(thread, message)));
}

/**
 * Runs `change` (an update of one message) and counts how its feedback changed: the old one
 * leaves the bucket it was given in, the new one joins the bucket of now.
 */
export async function countFeedbackChange<T extends CountedFeedback>(db: Executor, messageId: string, change: () => Promise<T>): Promise<T> {
  let query = db.selectFrom('messages').select(['workspace_id', 'agent_id', 'feedback', 'feedback_at']).where('id', '=', messageId);
  if (isPostgres(db)) query = query.forUpdate();
  const before = await query.executeTakeFirst();
  const after = await change();
  await applyRollupDeltas(db, difference(feedbackContribution(after), before ? feedbackContribution(before) : []));
  return after;
}

async function messagesOfThread(db: Executor, threadId: string): Promise<CountedMessage[]> {
  return db.selectFrom('messages').select(MESSAGE_COLUMNS).where('thread_id', '=', threadId).execute();
}

/**
 * Runs `change` (an update of one thread) and, when it changed the thread's owner key
 * (visibility) or agent, moves everything the thread counts: recomputed from its messages,
 * taken from the old key and added under the new one. The thread is locked first, so messages
 * appended meanwhile are either counted under the old key and moved, or wait and count under
 * the new one.
 */
export async function countThreadChange<T extends CountedThread | undefined>(db: Executor, threadId: string, change: () => Promise<T>): Promise<T> {
  const before = await findCountedThread(db, threadId, true);
  const after = await change();
  if (!before || !after) return after;
  if (ownerOfThread(before) === ownerOfThread(after) && before.agent_id === after.agent_id) return after;
  const messages = await messagesOfThread(db, threadId);
  await applyRollupDeltas(db, difference(conversationContribution(after, messages), conversationContribution(before, messages)));
  return after;
}

/**
 * Before a thread is deleted: takes away what it counted, its messages (and their feedback)
 * and its runs, which go with it (cascade).
 */
export async function countThreadRemoved(db: Executor, threadId: string): Promise<void> {
  const thread = await findCountedThread(db, threadId, true);
  if (!thread) return;
  const messages = await messagesOfThread(db, threadId);
  let runs = db.selectFrom('runs').select(RUN_COLUMNS).where('thread_id', '=', threadId);
  if (isPostgres(db)) runs = runs.forUpdate();
  const deltas = [...conversationContribution(thread, messages), ...(await runs.execute()).flatMap(agentRunContribution)];
  await applyRollupDeltas(db, negate(deltas));
}

/** Rows of one dimension, deleted, in every workspace (an agent shared out has rows elsewhere). */
async function deleteDimension(db: Executor, series: SeriesName, dim: string, workspaceId?: string): Promise<RollupDelta[]> {
  const { table } = SERIES[series];
  const inWorkspaces = workspaceId === undefined ? sql`workspace_id in (select id from workspaces)` : sql`workspace_id = ${workspaceId}`;
  const { rows } = await sql<Record<string, unknown>>`delete from ${sql.table(table)} where ${inWorkspaces} and dim = ${dim} returning *`.execute(db);
  return rows.map((row) => {
    const { workspace_id, dim: _dim, owner_id, bucket, ...counters } = row;
    return {
      series,
      workspaceId: workspace_id as string,
      dim: WORKSPACE_DIM,
      ownerId: Number(owner_id),
      bucket: Number(bucket),
      counters: Object.fromEntries(Object.entries(counters).map(([name, value]) => [name, Number(value)])),
    } as RollupDelta;
  });
}

/**
 * Before an agent is deleted: its runs and their feedback leave the workspace totals with
 * their `agent:<uuid>` rows (its history goes with it); threads and messages stay in the
 * totals, their `agent:<uuid>` rows deleted. A message of this agent in a thread of another
 * agent moves to that agent's rows, as it counts there once it has no agent of its own.
 */
export async function countAgentRemoved(db: Executor, agentId: string): Promise<void> {
  const dim = agentDim(agentId);
  const moved = await db
    .selectFrom('messages as m')
    .innerJoin('threads as t', 't.id', 'm.thread_id')
    .select(['m.workspace_id', 'm.agent_id', 'm.role', 'm.created_at', 'm.input_tokens', 'm.output_tokens', 'm.cost', 'm.feedback', 'm.feedback_at'])
    .select(['t.user_id as thread_user_id', 't.agent_id as thread_agent_id', 't.visibility as thread_visibility', 't.created_at as thread_created_at'])
    .where('m.agent_id', '=', agentId)
    .where('t.agent_id', 'is not', null)
    .where('t.agent_id', '!=', agentId)
    .execute();
  const moves = moved.flatMap((row) => {
    const thread: CountedThread = {
      workspace_id: row.workspace_id,
      user_id: row.thread_user_id,
      agent_id: row.thread_agent_id,
      visibility: row.thread_visibility,
      created_at: row.thread_created_at,
    };
    // Only the agent dimension differs: the rest cancels out when merged.
    return difference(messageContribution(thread, { ...row, agent_id: null }), messageContribution(thread, row)).filter((d) => d.series === 'conversations');
  });
  await applyRollupDeltas(db, moves);
  await applyRollupDeltas(db, negate(await deleteDimension(db, 'agent_runs', dim)));
  await deleteDimension(db, 'conversations', dim);
}

/** Before a workflow is deleted: its executions leave the workspace totals with its `workflow:<uuid>` rows. */
export async function countWorkflowRemoved(db: Executor, workspaceId: string, workflowId: string): Promise<void> {
  await applyRollupDeltas(db, negate(await deleteDimension(db, 'executions', workflowDim(workflowId), workspaceId)));
}

/** Used by tests and the rebuild: every row of a rollup table, in key order. */
export async function readRollups(db: Executor, series: SeriesName, workspaceId?: string): Promise<Array<Record<string, unknown>>> {
  const { table } = SERIES[series];
  let query = db.selectFrom(table).selectAll();
  if (workspaceId !== undefined) query = query.where('workspace_id', '=', workspaceId);
  const rows = await query.orderBy('workspace_id').orderBy('dim').orderBy('owner_id').orderBy('bucket').execute();
  return rows as Array<Record<string, unknown>>;
}
