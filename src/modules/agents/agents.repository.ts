import { sql, type Insertable, type SqlBool, type Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedQuery } from '../../db/prepared.js';
import { containsText } from '../../db/values.js';
import { isManager, visibilityCondition, type ResourceSourceFilter, type ResourceViewer } from '../shares/visibility.js';
import type { WorkspaceRole } from '../workspaces/workspaces.table.js';
import type { AgentRow, AgentsTable, AgentVisibility } from './agents.table.js';

/** Who is looking: the user, the workspace the request acts in and their role there. */
export type AgentViewer = ResourceViewer;

/** Which agents a list shows (`filter[source]`); `all` is everything the viewer may see. */
export type AgentSourceFilter = ResourceSourceFilter;

/**
 * Agents the viewer may see, from `source` (default: all of them). Visibility is the same rule
 * as `getAgentAccessOrThrow`: the acting workspace's own agents by role and visibility, public
 * ones, and ones shared with the user or the acting workspace.
 */
export function visibleAgentsQuery(db: Executor, viewer: AgentViewer, source: AgentSourceFilter = 'all') {
  return db.selectFrom('agents as a').where(visibilityCondition('agent', 'a', viewer, source));
}

export interface AgentListFilter {
  search?: string;
  visibility?: AgentVisibility;
  mine?: boolean;
  source: AgentSourceFilter;
}

export function listAgentsQuery(db: Executor, viewer: AgentViewer, filter: AgentListFilter) {
  let query = visibleAgentsQuery(db, viewer, filter.source);
  if (filter.search) {
    const search = filter.search;
    query = query.where((eb) => eb.or([containsText('a.name', search), containsText('a.description', search)]));
  }
  if (filter.visibility) query = query.where('a.visibility', '=', filter.visibility);
  if (filter.mine) query = query.where('a.user_id', '=', viewer.userId);
  return query;
}

/** Every run looks its agent up: prepared once per kind of viewer (managers see more). */
const visibleAgentById = (role: WorkspaceRole) =>
  preparedQuery((db, p: { workspaceId: string; userId: number; id: string }) =>
    visibleAgentsQuery(db, { workspaceId: p.workspaceId, userId: p.userId, role }).selectAll('a').where('a.id', '=', p.id),
  );
const agentForManager = visibleAgentById('admin');
const agentForMember = visibleAgentById('member');

export async function findVisibleAgent(db: Executor, viewer: AgentViewer, id: string): Promise<AgentRow | undefined> {
  const find = isManager(viewer.role) ? agentForManager : agentForMember;
  const [row] = await find(db, { workspaceId: viewer.workspaceId, userId: viewer.userId, id });
  return row as AgentRow | undefined;
}

/** Agents by id among those the viewer may see, in one query. */
export function findVisibleAgents(db: Executor, viewer: AgentViewer, ids: readonly string[]): Promise<AgentRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return visibleAgentsQuery(db, viewer).selectAll('a').where('a.id', 'in', [...new Set(ids)]).execute();
}

export function insertAgent(db: Executor, values: Insertable<AgentsTable>): Promise<AgentRow> {
  return db.insertInto('agents').values(values).returningAll().executeTakeFirstOrThrow();
}

export function updateAgent(db: Executor, workspaceId: string, id: string, values: Updateable<AgentsTable>): Promise<AgentRow> {
  return db
    .updateTable('agents')
    .set(values)
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteAgent(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('agents').where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
}

/**
 * Agents per workspace that the user sees there (workspace metrics): by their role in each
 * workspace and the agent's visibility, or through a grant to them or to that workspace.
 */
export async function countVisibleAgentsByWorkspace(
  db: Executor,
  userId: number,
  workspaceIds: readonly string[],
): Promise<Map<string, number>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('agents as a')
    .innerJoin('workspace_members as m', (join) => join.onRef('m.workspace_id', '=', 'a.workspace_id').on('m.user_id', '=', userId))
    .select(['a.workspace_id', (eb) => eb.fn.countAll<number>().as('count')])
    .where('a.workspace_id', 'in', [...workspaceIds])
    .where(
      sql<SqlBool>`(m.role in ('admin', 'owner') or a.user_id = ${userId} or a.visibility <> 'private' or exists (
        select 1 from shares s where s.resource_type = 'agent' and s.resource_id = a.id and (
          (s.grantee_type = 'user' and s.grantee_user_id = ${userId})
          or (s.grantee_type = 'workspace' and s.grantee_workspace_id = a.workspace_id)
          or s.grantee_type = 'public')))`,
    )
    .groupBy('a.workspace_id')
    .execute();
  return new Map(rows.map((r) => [r.workspace_id, Number(r.count)]));
}

export interface AgentRunTotals {
  agent_id: string;
  runs: number;
  completed: number;
  avg_latency_ms: number | null;
  input_tokens: number;
  output_tokens: number;
  cost: number;
}

/**
 * Finished agent and thread runs in the workspace over [from, to), per agent the viewer sees:
 * one aggregate query (served by `runs_agent_index`). Runs still queued or running are left out.
 */
export async function aggregateAgentRuns(db: Executor, viewer: AgentViewer, from: string, to: string): Promise<AgentRunTotals[]> {
  const rows = await db
    .selectFrom('runs as r')
    .select((eb) => [
      'r.agent_id',
      eb.fn.countAll().as('runs'),
      sql<number>`sum(case when r.status = 'completed' then 1 else 0 end)`.as('completed'),
      eb.fn.avg('r.latency_ms').as('avg_latency_ms'),
      sql<number>`coalesce(sum(r.input_tokens), 0)`.as('input_tokens'),
      sql<number>`coalesce(sum(r.output_tokens), 0)`.as('output_tokens'),
      sql<number>`coalesce(sum(r.cost), 0)`.as('cost'),
    ])
    .where('r.workspace_id', '=', viewer.workspaceId)
    .where('r.agent_id', 'is not', null)
    .where('r.kind', 'in', ['agent', 'thread'])
    .where('r.status', 'in', ['completed', 'failed', 'incomplete', 'cancelled'])
    .where('r.created_at', '>=', from)
    .where('r.created_at', '<', to)
    .where('r.agent_id', 'in', visibleAgentsQuery(db, viewer).select('a.id'))
    .groupBy('r.agent_id')
    .execute();
  // PostgreSQL answers counts and sums as text (bigint, numeric): numbers on both databases.
  return rows.map((r) => ({
    agent_id: r.agent_id!,
    runs: Number(r.runs),
    completed: Number(r.completed),
    avg_latency_ms: r.avg_latency_ms === null ? null : Number(r.avg_latency_ms),
    input_tokens: Number(r.input_tokens),
    output_tokens: Number(r.output_tokens),
    cost: Number(r.cost),
  }));
}

export interface AgentFeedbackTotals {
  agent_id: string;
  up: number;
  down: number;
}

/** Message feedback given in the workspace over [from, to), per agent the viewer sees: one query. */
export async function aggregateAgentFeedback(db: Executor, viewer: AgentViewer, from: string, to: string): Promise<AgentFeedbackTotals[]> {
  const rows = await db
    .selectFrom('messages as m')
    .select([
      'm.agent_id',
      sql<number>`sum(case when m.feedback = 'up' then 1 else 0 end)`.as('up'),
      sql<number>`sum(case when m.feedback = 'down' then 1 else 0 end)`.as('down'),
    ])
    .where('m.workspace_id', '=', viewer.workspaceId)
    .where('m.agent_id', 'is not', null)
    .where('m.feedback', 'is not', null)
    .where('m.feedback_at', '>=', from)
    .where('m.feedback_at', '<', to)
    .where('m.agent_id', 'in', visibleAgentsQuery(db, viewer).select('a.id'))
    .groupBy('m.agent_id')
    .execute();
  return rows.map((r) => ({ agent_id: r.agent_id!, up: Number(r.up), down: Number(r.down) }));
}
