import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Executor } from '../../db/database.js';
import { visibilityCondition, type ResourceViewer } from '../shares/visibility.js';
import type { ExecutionStatus, ExecutionTrigger } from '../executions/executions.table.js';
import { rollupRangeOf } from './buckets.js';
import { SERIES, type CounterOf, type SeriesName } from './series.js';

/** Which rows of a rollup table one answer reads: its key ranges, and which of them count negatively. */
export interface RollupKeys {
  workspaceId: string;
  /** Dimensions whose rows are added. */
  add: readonly string[];
  /** Dimensions whose rows are subtracted (hidden agents or workflows taken out of `''`). */
  subtract: readonly string[];
  owners: readonly number[];
  /** The answer's bucket boundaries in epoch ms (n + 1 for n buckets, see buckets.ts). */
  boundaries: readonly number[];
}

/** Sums of one answer's bucket (`slot`, 0-based), over added (`sign` 1) or subtracted (-1) rows. */
export type RollupSums<C extends string> = { slot: number; sign: number } & Record<C, number>;

/**
 * The answer's bucket index of a rollup row, as SQL: a balanced tree of comparisons of `bucket`
 * (epoch minutes) with the boundaries, so each row costs log2(n) comparisons and the database
 * sums straight into the answer's buckets (a 90-day daily series: 8,640 quarter hours folded
 * into 91 rows). Literals are numbers computed here, never input.
 */
export function slotExpression(boundaries: readonly number[]): RawBuilder<number> {
  const minutes = boundaries.map((ms) => ms / 60_000);
  if (minutes.some((m) => !Number.isFinite(m))) throw new RangeError('bucket boundaries must be finite');
  const tree = (lo: number, hi: number): string => {
    if (hi - lo <= 1) return String(lo);
    const mid = (lo + hi) >>> 1;
    return `case when bucket < ${minutes[mid]} then ${tree(lo, mid)} else ${tree(mid, hi)} end`;
  };
  return sql<number>`${sql.raw(tree(0, minutes.length - 1))}`;
}

/**
 * Sums of `counters` per answer bucket over the key ranges, added and subtracted rows apart:
 * one statement, one primary-key range scan per (dimension, owner), at most 2n rows back.
 */
export async function sumRollups<S extends SeriesName, C extends CounterOf<S>>(
  db: Executor,
  series: S,
  counters: readonly C[],
  keys: RollupKeys,
): Promise<RollupSums<C>[]> {
  const dims = [...keys.add, ...keys.subtract];
  if (dims.length === 0 || counters.length === 0 || keys.boundaries.length < 2) return [];
  const table = SERIES[series].table;
  const { first, end } = rollupRangeOf(keys.boundaries);
  const sign = keys.subtract.length === 0 ? sql<number>`1` : sql<number>`case when dim in (${sql.join(keys.subtract)}) then -1 else 1 end`;
  const rows = await sql<Record<string, unknown>>`
    select ${slotExpression(keys.boundaries)} as slot, ${sign} as sign, ${sql.join(counters.map((c) => sql`sum(${sql.ref(c)}) as ${sql.ref(c)}`))}
    from ${sql.table(table)}
    where workspace_id = ${keys.workspaceId}
      and dim in (${sql.join(dims)})
      and owner_id in (${sql.join([...keys.owners])})
      and bucket >= ${first} and bucket < ${end}
    group by 1, 2`.execute(db);
  return rows.rows.map((row) => {
    const out: Record<string, number> = { slot: Number(row.slot), sign: Number(row.sign) };
    for (const c of counters) out[c] = Number(row[c] ?? 0);
    return out as RollupSums<C>;
  });
}

/** The query plan of `sumRollups` (tests and the benchmark check it walks the primary key). */
export async function explainSumRollups(db: Executor, dialect: 'sqlite' | 'postgres', series: SeriesName, keys: RollupKeys): Promise<string> {
  const table = SERIES[series].table;
  const { first, end } = rollupRangeOf(keys.boundaries);
  const query = sql`select ${slotExpression(keys.boundaries)} as slot, sum(${sql.ref(SERIES[series].counters[0])}) from ${sql.table(table)}
    where workspace_id = ${keys.workspaceId} and dim in (${sql.join([...keys.add, ...keys.subtract])})
      and owner_id in (${sql.join([...keys.owners])}) and bucket >= ${first} and bucket < ${end}
    group by 1`;
  const rows = await sql<Record<string, unknown>>`${sql.raw(dialect === 'sqlite' ? 'explain query plan' : 'explain')} ${query}`.execute(db);
  return rows.rows.map((r) => String(r.detail ?? r['QUERY PLAN'] ?? Object.values(r).join(' '))).join('\n');
}

/** A resource the caller may or may not see, with what its own metrics need. */
export interface ResourceSight {
  id: string;
  visible: boolean;
  /** Belongs to the acting workspace (counted in its totals); false for agents shared in. */
  own: boolean;
  created_at: string;
  is_active?: boolean;
}

const seen = (condition: ReturnType<typeof visibilityCondition>) => sql<number>`case when ${condition} then 1 else 0 end`;

/**
 * The agents whose runs can be in the workspace's rollups, and whether the viewer sees each (the
 * agents list's rule, shares included): the workspace's own, and agents of other workspaces
 * that are public or shared with the workspace or with one of its members.
 */
export async function agentSights(db: Executor, viewer: ResourceViewer): Promise<ResourceSight[]> {
  const rows = await db
    .selectFrom('agents as a')
    .select(['a.id', 'a.workspace_id', 'a.created_at', seen(visibilityCondition('agent', 'a', viewer, 'all')).as('visible')])
    .where((eb) =>
      eb.or([
        eb('a.workspace_id', '=', viewer.workspaceId),
        eb('a.visibility', '=', 'public'),
        sql<SqlBool>`exists (select 1 from shares s where s.resource_type = 'agent' and s.resource_id = a.id and (
          s.grantee_type = 'public'
          or (s.grantee_type = 'workspace' and s.grantee_workspace_id = ${viewer.workspaceId})
          or (s.grantee_type = 'user' and s.grantee_user_id in (select m.user_id from workspace_members m where m.workspace_id = ${viewer.workspaceId}))))`,
      ]),
    )
    .execute();
  return rows.map((r) => ({
    id: r.id,
    visible: Number(r.visible) === 1,
    own: r.workspace_id === viewer.workspaceId,
    created_at: r.created_at,
  }));
}

/** The workspace's workflows (their executions are the workspace's) and whether the viewer sees each. */
export async function workflowSights(db: Executor, viewer: ResourceViewer): Promise<ResourceSight[]> {
  const rows = await db
    .selectFrom('workflows as w')
    .select(['w.id', 'w.created_at', 'w.is_active', seen(visibilityCondition('workflow', 'w', viewer, 'workspace')).as('visible')])
    .where('w.workspace_id', '=', viewer.workspaceId)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    visible: Number(r.visible) === 1,
    own: true,
    created_at: r.created_at,
    is_active: r.is_active === true || Number(r.is_active) === 1,
  }));
}

export interface UnfinishedExecution {
  workflow_id: string;
  status: ExecutionStatus;
  trigger: ExecutionTrigger;
  created_at: string;
}

/**
 * Executions not finished yet (queued, running, waiting), created in [from, to): they are not in
 * the rollups until they finish. Few rows, read by `workflow_executions_unfinished_index`.
 */
export function findUnfinishedExecutions(db: Executor, workspaceId: string, from: string, to: string, workflowId?: string): Promise<UnfinishedExecution[]> {
  let query = db
    .selectFrom('workflow_executions')
    .select(['workflow_id', 'status', 'trigger', 'created_at'])
    .where('workspace_id', '=', workspaceId)
    .where('finished_at', 'is', null)
    .where('created_at', '>=', from)
    .where('created_at', '<', to);
  if (workflowId) query = query.where('workflow_id', '=', workflowId);
  return query.execute();
}

/** Threads of the workspace the user may read now (their own and workspace-visible ones). */
export async function countVisibleThreads(db: Executor, workspaceId: string, userId: number, filter: { agentId?: string; ownerId?: number }): Promise<number> {
  let query = db
    .selectFrom('threads')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('workspace_id', '=', workspaceId)
    .where((eb) => eb.or([eb('user_id', '=', userId), eb('visibility', '=', 'workspace')]));
  if (filter.agentId) query = query.where('agent_id', '=', filter.agentId);
  if (filter.ownerId !== undefined) query = query.where('user_id', '=', filter.ownerId);
  const row = await query.executeTakeFirst();
  return Number(row?.count ?? 0);
}

export async function isWorkspaceMember(db: Executor, workspaceId: string, userId: number): Promise<boolean> {
  const row = await db
    .selectFrom('workspace_members')
    .select('user_id')
    .where('workspace_id', '=', workspaceId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Counts for `GET /api/v1/workspaces/metrics`

async function rolesIn(db: Executor, userId: number, workspaceIds: readonly string[]) {
  return db
    .selectFrom('workspace_members')
    .select(['workspace_id', 'role'])
    .where('user_id', '=', userId)
    .where('workspace_id', 'in', [...workspaceIds])
    .execute();
}

/** Workflows per workspace that the user sees there, as the workflows list does (role, visibility, shares). */
export async function countVisibleWorkflowsByWorkspace(db: Executor, userId: number, workspaceIds: readonly string[]): Promise<Map<string, number>> {
  if (workspaceIds.length === 0) return new Map();
  const roles = await rolesIn(db, userId, workspaceIds);
  if (roles.length === 0) return new Map();
  const rows = await db
    .selectFrom('workflows as w')
    .select(['w.workspace_id', (eb) => eb.fn.countAll<number>().as('count')])
    .where('w.workspace_id', 'in', roles.map((r) => r.workspace_id))
    .where(
      sql<SqlBool>`(${sql.join(
        roles.map(({ workspace_id, role }) => sql`(w.workspace_id = ${workspace_id} and ${visibilityCondition('workflow', 'w', { workspaceId: workspace_id, role, userId }, 'workspace')})`),
        sql` or `,
      )})`,
    )
    .groupBy('w.workspace_id')
    .execute();
  return new Map(rows.map((r) => [r.workspace_id, Number(r.count)]));
}

/**
 * Executions per workspace that the user sees in the executions list: those of workflows they
 * see there (admins and owners: all of them; others: the non-private ones and their own).
 */
export async function countVisibleExecutionsByWorkspace(db: Executor, userId: number, workspaceIds: readonly string[]): Promise<Map<string, number>> {
  if (workspaceIds.length === 0) return new Map();
  const roles = await rolesIn(db, userId, workspaceIds);
  const managed = roles.filter((r) => r.role === 'owner' || r.role === 'admin').map((r) => r.workspace_id);
  const others = roles.filter((r) => r.role !== 'owner' && r.role !== 'admin').map((r) => r.workspace_id);
  const counts = new Map<string, number>();
  if (managed.length > 0) {
    const rows = await db
      .selectFrom('workflow_executions')
      .select(['workspace_id', (eb) => eb.fn.countAll<number>().as('count')])
      .where('workspace_id', 'in', managed)
      .groupBy('workspace_id')
      .execute();
    for (const r of rows) counts.set(r.workspace_id, Number(r.count));
  }
  if (others.length > 0) {
    const rows = await db
      .selectFrom('workflow_executions as e')
      .innerJoin('workflows as w', 'w.id', 'e.workflow_id')
      .select(['e.workspace_id', (eb) => eb.fn.countAll<number>().as('count')])
      .where('e.workspace_id', 'in', others)
      .where((eb) => eb.or([eb('w.visibility', '!=', 'private'), eb('w.user_id', '=', userId)]))
      .groupBy('e.workspace_id')
      .execute();
    for (const r of rows) counts.set(r.workspace_id, Number(r.count));
  }
  return counts;
}
