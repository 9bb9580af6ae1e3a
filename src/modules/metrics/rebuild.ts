import { sql, type RawBuilder } from 'kysely';
import type { Db, Dialect, Executor } from '../../db/database.js';
import { AGENT_RUN_KINDS, EXECUTION_END_STATUSES, EXECUTION_TRIGGERS, executionContribution, RUN_OUTCOME, type RollupDelta } from './contributions.js';
import { applyRollupDeltas } from './rollups.js';
import { AGENT_RUN_COUNTERS, CONVERSATION_COUNTERS, DURATION_CLASSES, DURATION_COLUMNS, EXECUTION_COUNTERS, SERIES, WORKSPACE_DIM } from './series.js';

/**
 * Recomputes the rollups from the raw tables: what an operator runs to repair them, and what
 * fills them after raw rows were written in bulk. Each raw table is read once: executions in
 * index order, counted by the live writes' own function; runs, feedback, threads and messages
 * aggregated in SQL.
 *
 * It counts what the raw tables still hold: executions already pruned by retention (or deleted
 * one by one) are gone from the result, while the live rollups had kept them.
 */
export async function rebuildRollups(db: Db, workspaceId?: string): Promise<{ workspaces: number }> {
  const ids =
    workspaceId === undefined ? (await db.kysely.selectFrom('workspaces').select('id').orderBy('id').execute()).map((w) => w.id) : [workspaceId];
  // One transaction per workspace: each is rebuilt whole, and writers wait for one workspace at a time.
  for (const id of ids) await db.kysely.transaction().execute((trx) => rebuildWorkspace(trx, db.dialect, id));
  return { workspaces: ids.length };
}

async function rebuildWorkspace(trx: Executor, dialect: Dialect, workspaceId: string): Promise<void> {
  const tables = Object.values(SERIES).map((s) => s.table);
  if (dialect === 'postgres') {
    // Writers that count (row-exclusive) wait until the rebuild commits, then add to the rebuilt
    // rows: anything they wrote is either seen by the rebuild's reads, or uncommitted and added after.
    await sql.raw(`lock table ${tables.join(', ')} in exclusive mode`).execute(trx);
  }
  for (const table of tables) await sql`delete from ${sql.table(table)} where workspace_id = ${workspaceId}`.execute(trx);
  const q = new RebuildSql(dialect);
  if (dialect === 'postgres') await rebuildExecutionsInSql(trx, q, workspaceId);
  else await rebuildExecutions(trx, workspaceId);
  await rebuildAgentRuns(trx, q, workspaceId);
  await rebuildConversations(trx, q, workspaceId);
}

/** The SQL that differs between SQLite (ISO text timestamps) and PostgreSQL (timestamptz). */
class RebuildSql {
  constructor(readonly dialect: Dialect) {}

  /** The quarter-hour bucket (epoch minutes) of a timestamp column, as `bucketOf` computes it. */
  bucket(column: string): RawBuilder<number> {
    return this.dialect === 'postgres'
      ? sql<number>`(floor(extract(epoch from ${sql.raw(column)}) / 900) * 15)::integer`
      : sql<number>`((unixepoch(${sql.raw(column)}) / 900) * 15)`;
  }

  /** Whole milliseconds from `from` to `to` (never negative): exact on PostgreSQL's intervals. */
  durationMs(to: string, from: string): RawBuilder<number> {
    return sql<number>`greatest(0, round(extract(epoch from (${sql.raw(to)} - ${sql.raw(from)})) * 1000))`;
  }

  concat(prefix: string, column: string): RawBuilder<string> {
    return this.dialect === 'postgres' ? sql<string>`(${prefix} || ${sql.raw(column)}::text)` : sql<string>`(${prefix} || ${sql.raw(column)})`;
  }
}

const list = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(', '));
const columns = (names: readonly string[]) => sql.raw(names.join(', '));

/**
 * The class lower bounds in whole milliseconds: class k holds the integers from ⌈2^((k-1)/2)⌉
 * up (class 2, [√2, 2), holds none), so a binary search over them classes whole milliseconds
 * exactly as `durationClassOf`, with no logarithm in SQL.
 */
export const DURATION_CLASS_FLOORS = Array.from({ length: DURATION_CLASSES }, (_, k) => (k === 0 ? 0 : Math.ceil(2 ** ((k - 1) / 2))));

function durationClassSql(column: string): string {
  const node = (lo: number, hi: number): string => {
    if (lo === hi) return String(lo);
    const mid = Math.ceil((lo + hi) / 2);
    return `case when ${column} >= ${DURATION_CLASS_FLOORS[mid]} then ${node(mid, hi)} else ${node(lo, mid - 1)} end`;
  };
  return node(0, DURATION_CLASSES - 1);
}

/**
 * Executions on PostgreSQL: grouped by (workflow, bucket, status, trigger, duration class) in
 * one scan and pivoted into counters in SQL (a hash aggregate: far cheaper than shipping the
 * rows out); the workspace rows are the sums of its workflows' rows.
 */
async function rebuildExecutionsInSql(trx: Executor, q: RebuildSql, workspaceId: string): Promise<void> {
  const pivot = [
    'sum(n)',
    ...EXECUTION_END_STATUSES.map((s) => `sum(case when status = '${s}' then n else 0 end)`),
    ...EXECUTION_TRIGGERS.map((t) => `sum(case when trigger = '${t}' then n else 0 end)`),
    'sum(duration)',
    ...DURATION_COLUMNS.map((_, k) => `sum(case when cls = ${k} then n else 0 end)`),
  ];
  // The pivot's order is the counters' order in series.ts.
  const order = ['executions', ...EXECUTION_END_STATUSES, ...EXECUTION_TRIGGERS.map((t) => `trigger_${t}`), 'duration_ms_sum', ...DURATION_COLUMNS];
  if (order.join() !== EXECUTION_COUNTERS.join()) throw new Error('execution counters and their rebuild disagree');
  await sql`
    insert into execution_rollups (workspace_id, dim, owner_id, bucket, ${columns(EXECUTION_COUNTERS)})
    select workspace_id, ${q.concat('workflow:', 'workflow_id')}, 0, bucket, ${sql.raw(pivot.join(', '))}
    from (
      select workspace_id, workflow_id, bucket, status, trigger, ${sql.raw(durationClassSql('duration'))} as cls, count(*) as n, sum(duration) as duration
      from (
        select workspace_id, workflow_id, status, trigger, ${q.bucket('created_at')} as bucket,
          ${q.durationMs('finished_at', 'coalesce(started_at, created_at)')} as duration
        from workflow_executions
        where workspace_id = ${workspaceId} and finished_at is not null and status in (${list(EXECUTION_END_STATUSES)})
      ) e
      group by workspace_id, workflow_id, bucket, status, trigger, cls
    ) g
    group by workspace_id, workflow_id, bucket`.execute(trx);
  await sumIntoWorkspaceRows(trx, 'execution_rollups', EXECUTION_COUNTERS, workspaceId, 'workflow:%');
}

/** Executions read per query while rebuilding (keyset pages in creation order). */
const EXECUTION_PAGE = 20_000;

/**
 * Executions on SQLite: read workflow by workflow in creation order (the `(workflow_id,
 * created_at)` index, no sort) and counted in JavaScript by `executionContribution`, the function
 * the live writes use. SQLite has no hash aggregate: a pivot into 76 counters costs it more per
 * row than reading the row. The workspace rows are the sums of its workflows' rows.
 */
async function rebuildExecutions(trx: Executor, workspaceId: string): Promise<void> {
  const workflows = await trx.selectFrom('workflows').select('id').where('workspace_id', '=', workspaceId).execute();
  for (const { id: workflowId } of workflows) {
    const byBucket = new Map<number, RollupDelta>();
    let after: { created_at: string; id: string } | undefined;
    for (;;) {
      let page = trx
        .selectFrom('workflow_executions')
        .select(['id', 'workspace_id', 'workflow_id', 'status', 'trigger', 'created_at', 'started_at', 'finished_at'])
        .where('workflow_id', '=', workflowId)
        .where('workspace_id', '=', workspaceId)
        .where('finished_at', 'is not', null)
        .where('status', 'in', EXECUTION_END_STATUSES);
      if (after) page = page.where((eb) => eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(after!.created_at, after!.id)));
      const rows = await page.orderBy('created_at').orderBy('id').limit(EXECUTION_PAGE).execute();
      for (const row of rows) {
        const delta = executionContribution(row).find((d) => d.dim !== WORKSPACE_DIM);
        if (!delta) continue;
        const sum = byBucket.get(delta.bucket);
        if (!sum) {
          byBucket.set(delta.bucket, { ...delta, counters: { ...delta.counters } } as RollupDelta);
          continue;
        }
        const counters = sum.counters as Record<string, number>;
        for (const [name, value] of Object.entries(delta.counters) as Array<[string, number]>) counters[name] = (counters[name] ?? 0) + value;
      }
      if (rows.length < EXECUTION_PAGE) break;
      const last = rows.at(-1)!;
      after = { created_at: last.created_at, id: last.id };
    }
    await applyRollupDeltas(trx, [...byBucket.values()]);
  }
  await sumIntoWorkspaceRows(trx, 'execution_rollups', EXECUTION_COUNTERS, workspaceId, 'workflow:%');
}

/** Runs and feedback per agent (one scan of each), then the workspace row as the sum of its agents' rows. */
async function rebuildAgentRuns(trx: Executor, q: RebuildSql, workspaceId: string): Promise<void> {
  const outcome = (counter: string) =>
    Object.entries(RUN_OUTCOME)
      .filter(([, c]) => c === counter)
      .map(([status]) => status);
  const when = (statuses: string[]) => (statuses.length ? sql`case when status in (${list(statuses)}) then 1 else 0 end` : sql`0`);
  await sql`
    insert into agent_run_rollups (workspace_id, dim, owner_id, bucket, ${columns(AGENT_RUN_COUNTERS)})
    select workspace_id, ${q.concat('agent:', 'agent_id')}, 0, bucket,
      sum(runs), sum(succeeded), sum(failed), sum(canceled), sum(input_tokens), sum(output_tokens), sum(cost), sum(latency_ms_sum),
      sum(feedback_up), sum(feedback_down)
    from (
      select workspace_id, agent_id, ${q.bucket('created_at')} as bucket, 1 as runs,
        ${when(outcome('succeeded'))} as succeeded, ${when(outcome('failed'))} as failed, ${when(outcome('canceled'))} as canceled,
        coalesce(input_tokens, 0) as input_tokens, coalesce(output_tokens, 0) as output_tokens, coalesce(cost, 0) as cost,
        coalesce(latency_ms, 0) as latency_ms_sum, 0 as feedback_up, 0 as feedback_down
      from runs
      where workspace_id = ${workspaceId} and agent_id is not null and kind in (${list(AGENT_RUN_KINDS)})
        and status in (${list(Object.keys(RUN_OUTCOME))})
      union all
      select workspace_id, agent_id, ${q.bucket('feedback_at')}, 0, 0, 0, 0, 0, 0, 0, 0,
        case when feedback = 'up' then 1 else 0 end, case when feedback = 'down' then 1 else 0 end
      from messages
      where workspace_id = ${workspaceId} and agent_id is not null and feedback in ('up', 'down') and feedback_at is not null
    ) r
    group by workspace_id, agent_id, bucket`.execute(trx);
  await sumIntoWorkspaceRows(trx, 'agent_run_rollups', AGENT_RUN_COUNTERS, workspaceId, 'agent:%');
}

/**
 * Threads and messages grouped once by (owner key, thread owner, agent, bucket) into a scratch
 * table; user, agent and workspace rows are sums of it.
 */
async function rebuildConversations(trx: Executor, q: RebuildSql, workspaceId: string): Promise<void> {
  const scratch = 'metrics_rebuild_conversations';
  await sql.raw(`drop table if exists ${scratch}`).execute(trx);
  const owner = (alias: string) => sql.raw(`case when ${alias}.visibility = 'private' then ${alias}.user_id else 0 end`);
  await sql`
    create temporary table ${sql.raw(scratch)} as
    select workspace_id, user_id, owner_id, agent_id, bucket,
      sum(threads) as threads, sum(messages) as messages, sum(user_messages) as user_messages,
      sum(assistant_messages) as assistant_messages, sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens, sum(cost) as cost
    from (
      select t.workspace_id, t.user_id, ${owner('t')} as owner_id, t.agent_id, ${q.bucket('t.created_at')} as bucket,
        1 as threads, 0 as messages, 0 as user_messages, 0 as assistant_messages, 0 as input_tokens, 0 as output_tokens, 0 as cost
      from threads t
      where t.workspace_id = ${workspaceId}
      union all
      select t.workspace_id, t.user_id, ${owner('t')}, coalesce(m.agent_id, t.agent_id), ${q.bucket('m.created_at')},
        0, 1, case when m.role = 'user' then 1 else 0 end, case when m.role = 'assistant' then 1 else 0 end,
        coalesce(m.input_tokens, 0), coalesce(m.output_tokens, 0), coalesce(m.cost, 0)
      from messages m
      inner join threads t on t.id = m.thread_id
      where m.workspace_id = ${workspaceId}
    ) c
    group by workspace_id, user_id, owner_id, agent_id, bucket`.execute(trx);
  const sums = CONVERSATION_COUNTERS.map((c) => `sum(${c})`).join(', ');
  const insert = sql`insert into conversation_rollups (workspace_id, dim, owner_id, bucket, ${columns(CONVERSATION_COUNTERS)})`;
  await sql`${insert} select workspace_id, ${q.concat('user:', 'user_id')}, owner_id, bucket, ${sql.raw(sums)}
    from ${sql.raw(scratch)} group by workspace_id, user_id, owner_id, bucket`.execute(trx);
  await sql`${insert} select workspace_id, ${q.concat('agent:', 'agent_id')}, owner_id, bucket, ${sql.raw(sums)}
    from ${sql.raw(scratch)} where agent_id is not null group by workspace_id, agent_id, owner_id, bucket`.execute(trx);
  await sql`${insert} select workspace_id, '', owner_id, bucket, ${sql.raw(sums)}
    from ${sql.raw(scratch)} group by workspace_id, owner_id, bucket`.execute(trx);
  await sql.raw(`drop table ${scratch}`).execute(trx);
}

/** The workspace rows (`dim = ''`) of a series whose every event is in exactly one `prefix` dimension. */
async function sumIntoWorkspaceRows(trx: Executor, table: string, counters: readonly string[], workspaceId: string, prefix: string): Promise<void> {
  await sql`
    insert into ${sql.table(table)} (workspace_id, dim, owner_id, bucket, ${columns(counters)})
    select workspace_id, '', owner_id, bucket, ${sql.raw(counters.map((c) => `sum(${c})`).join(', '))}
    from ${sql.table(table)}
    where workspace_id = ${workspaceId} and dim like ${prefix}
    group by workspace_id, owner_id, bucket`.execute(trx);
}
