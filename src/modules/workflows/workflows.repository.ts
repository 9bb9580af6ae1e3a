import { sql, type Insertable, type SqlBool, type Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedQuery } from '../../db/prepared.js';
import { containsText, isUuid } from '../../db/values.js';
import { isManager, visibilityCondition, type ResourceSourceFilter, type ResourceViewer } from '../shares/visibility.js';
import type { WorkspaceRole } from '../workspaces/workspaces.table.js';
import type {
  WorkflowRow,
  WorkflowScheduleRow,
  WorkflowSchedulesTable,
  WorkflowsTable,
  WorkflowVisibility,
} from './workflows.table.js';

/** Who is looking: the user, the workspace the request acts in and their role there. */
export type WorkflowViewer = ResourceViewer;

/** Which workflows a list shows (`filter[source]`); `all` is everything the viewer may see. */
export type WorkflowSourceFilter = ResourceSourceFilter;

/**
 * Workflows the viewer may see, from `source` (default: all of them), as `workflows as w`: the
 * acting workspace's own by role and visibility, public ones, and ones shared with the user or
 * the acting workspace. The same rule as `resolveWorkflowAccessOrThrow`.
 */
export function visibleWorkflowsQuery(db: Executor, viewer: WorkflowViewer, source: WorkflowSourceFilter = 'all') {
  return db.selectFrom('workflows as w').where(visibilityCondition('workflow', 'w', viewer, source));
}

export interface WorkflowListFilter {
  search?: string;
  visibility?: WorkflowVisibility;
  isActive?: boolean;
  mine?: boolean;
  source: WorkflowSourceFilter;
}

export function listWorkflowsQuery(db: Executor, viewer: WorkflowViewer, filter: WorkflowListFilter) {
  let query = visibleWorkflowsQuery(db, viewer, filter.source);
  if (filter.search) {
    const search = filter.search;
    query = query.where((eb) => eb.or([containsText('w.name', search), containsText('w.description', search)]));
  }
  if (filter.visibility) query = query.where('w.visibility', '=', filter.visibility);
  if (filter.isActive !== undefined) query = query.where('w.is_active', '=', filter.isActive);
  if (filter.mine) query = query.where('w.user_id', '=', viewer.userId);
  return query;
}

/** Every execute and every editor view looks its workflow up: prepared once per kind of viewer. */
const visibleWorkflowById = (role: WorkspaceRole) =>
  preparedQuery((db, p: { workspaceId: string; userId: number; id: string }) =>
    visibleWorkflowsQuery(db, { workspaceId: p.workspaceId, userId: p.userId, role }).selectAll('w').where('w.id', '=', p.id),
  );
const workflowForManager = visibleWorkflowById('admin');
const workflowForMember = visibleWorkflowById('member');

export async function findVisibleWorkflow(db: Executor, viewer: WorkflowViewer, id: string): Promise<WorkflowRow | undefined> {
  const find = isManager(viewer.role) ? workflowForManager : workflowForMember;
  const [row] = await find(db, { workspaceId: viewer.workspaceId, userId: viewer.userId, id });
  return row as WorkflowRow | undefined;
}

/** Workflows by id among those the viewer may see, in one query. */
export function findVisibleWorkflows(db: Executor, viewer: WorkflowViewer, ids: readonly string[]): Promise<WorkflowRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return visibleWorkflowsQuery(db, viewer).selectAll('w').where('w.id', 'in', [...new Set(ids)]).execute();
}

const workflowById = preparedQuery((db, p: { id: string }) => db.selectFrom('workflows').selectAll().where('id', '=', p.id));

/**
 * A workflow by id, whoever asks: for callers that authenticate otherwise (the webhook route
 * checks the workflow's secret, runners act for an execution that is already authorized).
 */
export async function findWorkflowById(db: Executor, id: string): Promise<WorkflowRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await workflowById(db, { id: id.toLowerCase() });
  return row as WorkflowRow | undefined;
}

export function insertWorkflow(db: Executor, values: Insertable<WorkflowsTable>): Promise<WorkflowRow> {
  return db.insertInto('workflows').values(values).returningAll().executeTakeFirstOrThrow();
}

/**
 * Changes a workflow and adds one to its version, in one statement (two concurrent saves give
 * two versions). Undefined when it no longer exists.
 */
export function updateWorkflow(
  db: Executor,
  workspaceId: string,
  id: string,
  values: Omit<Updateable<WorkflowsTable>, 'version' | 'id' | 'workspace_id'>,
): Promise<WorkflowRow | undefined> {
  return db
    .updateTable('workflows')
    .set({ ...values, version: sql<number>`version + 1` })
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteWorkflow(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('workflows').where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
}

/**
 * Workflows of the workspace whose settings may name `workflowId` (as their error workflow):
 * a text match the caller confirms on the parsed settings.
 */
export function findWorkflowsMentioningInSettings(db: Executor, workspaceId: string, workflowId: string): Promise<Pick<WorkflowRow, 'id' | 'settings'>[]> {
  return db
    .selectFrom('workflows')
    .select(['id', 'settings'])
    .where('workspace_id', '=', workspaceId)
    .where('id', '<>', workflowId)
    .where(sql<SqlBool>`cast(settings as text) like ${`%${workflowId}%`}`)
    .execute();
}

/** Rewrites a workflow's settings only (no new version: the graph did not change). */
export async function updateWorkflowSettings(db: Executor, workspaceId: string, id: string, settings: string, at: string): Promise<void> {
  await db.updateTable('workflows').set({ settings, updated_at: at }).where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
}

// ---- schedules ---------------------------------------------------------------------------

export function findSchedulesOfWorkflow(db: Executor, workspaceId: string, workflowId: string): Promise<WorkflowScheduleRow[]> {
  return db
    .selectFrom('workflow_schedules')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('workflow_id', '=', workflowId)
    .execute();
}

/** The schedules of many workflows (a page of them, possibly from several workspaces), in one query. */
export function findSchedulesOfWorkflows(
  db: Executor,
  workflows: readonly Pick<WorkflowRow, 'id' | 'workspace_id'>[],
): Promise<WorkflowScheduleRow[]> {
  if (workflows.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('workflow_schedules')
    .selectAll()
    .where('workspace_id', 'in', [...new Set(workflows.map((w) => w.workspace_id))])
    .where('workflow_id', 'in', [...new Set(workflows.map((w) => w.id))])
    .execute();
}

export async function insertSchedules(db: Executor, rows: Insertable<WorkflowSchedulesTable>[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insertInto('workflow_schedules').values(rows).execute();
}

export async function updateScheduleTiming(
  db: Executor,
  workspaceId: string,
  id: string,
  values: Pick<WorkflowScheduleRow, 'cron' | 'timezone' | 'next_run_at'>,
): Promise<void> {
  await db.updateTable('workflow_schedules').set(values).where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
}

export async function deleteSchedules(db: Executor, workspaceId: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.deleteFrom('workflow_schedules').where('workspace_id', '=', workspaceId).where('id', 'in', [...ids]).execute();
}

export async function deleteSchedulesOfWorkflow(db: Executor, workspaceId: string, workflowId: string): Promise<void> {
  await db.deleteFrom('workflow_schedules').where('workspace_id', '=', workspaceId).where('workflow_id', '=', workflowId).execute();
}
