import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fromJson, isUuid, newId, now, toJson } from '../../db/values.js';
import { AppError } from '../../errors.js';
import type { ThenaListResult, ThenaPage } from '../../http/thena.js';
import { authorize } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { accountNamesByIds, findActivity } from './activities.repository.js';
import { accountOfBody, accountOfQuery, isoOf, resolveAttributeColumns, type AttributeSpec } from './activities.service.js';
import { attributeFields, attributeValuesByIds, configurationOf, ensureSeeded, filterValueId } from './attribute-values.service.js';
import { lockAttributes, type Attribute } from './attributes.js';
import type { TaskRow } from './customer-accounts.table.js';
import { attachmentsFromUrls, attachmentsOf, peopleByIds, replaceAttachments, requireMember, requireUuid, userIdOf, withoutAttachment } from './records.js';
import * as repo from './tasks.repository.js';
import type { CreateTaskInput, TaskListQueryValue, TaskResponse, UpdateTaskInput } from './tasks.schemas.js';

/**
 * Tasks on an account. The assignee must be a workspace member (400 otherwise); a linked
 * activity must be a live activity of the same account (400 otherwise). `isClosed` is the
 * status value's configuration. Viewers read, members write.
 */

const TASK_ATTRIBUTES = [
  { field: 'type', attribute: 'task_type', column: 'type_id' },
  { field: 'status', attribute: 'task_status', column: 'status_id' },
  { field: 'priority', attribute: 'task_priority', column: 'priority_id' },
] as const satisfies ReadonlyArray<AttributeSpec<string, string>>;

const ATTRIBUTE_NAMES: Attribute[] = TASK_ATTRIBUTES.map((a) => a.attribute);

/** Task responses; accounts, attribute values and people are read once for the whole list. */
export async function toTaskResponses(db: Executor, workspaceId: string, rows: TaskRow[]): Promise<TaskResponse[]> {
  const [accounts, values, people] = await Promise.all([
    accountNamesByIds(
      db,
      workspaceId,
      rows.map((r) => r.account_id),
    ),
    attributeValuesByIds(
      db,
      workspaceId,
      rows.flatMap((r) => [r.type_id, r.status_id, r.priority_id]),
    ),
    peopleByIds(
      db,
      rows.flatMap((r) => [r.creator_id, r.assignee_id]),
    ),
  ]);
  return rows.map((row) => {
    const creator = row.creator_id === null ? undefined : people.get(row.creator_id);
    const assignee = row.assignee_id === null ? undefined : people.get(row.assignee_id);
    const status = row.status_id === null ? undefined : values.get(row.status_id);
    return {
      id: row.id,
      accountId: row.account_id,
      account: accounts.get(row.account_id) ?? null,
      title: row.title,
      description: row.description,
      activityId: row.activity_id,
      ...attributeFields('type', row.type_id, values),
      ...attributeFields('status', row.status_id, values),
      isClosed: status !== undefined && configurationOf(status).isClosed === true,
      ...attributeFields('priority', row.priority_id, values),
      dueDate: row.due_date,
      creatorId: row.creator_id === null ? null : String(row.creator_id),
      creator: creator?.name ?? null,
      creatorEmail: creator?.email ?? null,
      assigneeId: row.assignee_id === null ? null : String(row.assignee_id),
      assignee: assignee?.name ?? null,
      assigneeEmail: assignee?.email ?? null,
      attachments: attachmentsOf(row.attachments),
      metadata: fromJson<Record<string, unknown> | null>(row.metadata) ?? {},
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  });
}

async function toTaskResponse(db: Executor, row: TaskRow): Promise<TaskResponse> {
  const [response] = await toTaskResponses(db, row.workspace_id, [row]);
  return response!;
}

/** A live task of the workspace, or NOT_FOUND (also for another workspace's id or a non-UUID). */
export async function getTaskRowOrThrow(db: Executor, workspaceId: string, id: string, forUpdate = false): Promise<TaskRow> {
  const row = await repo.findTask(db, workspaceId, requireUuid(id), forUpdate);
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

/** The assignee a request names: a workspace member (400 otherwise); null unassigns. */
async function assigneeOf(db: Executor, workspaceId: string, assigneeId: string | null | undefined): Promise<number | null | undefined> {
  const userId = userIdOf(assigneeId, 'assigneeId');
  if (userId !== undefined && userId !== null) await requireMember(db, workspaceId, userId, 'assigneeId');
  return userId;
}

/** The activity a request links: a live activity of the task's account (400 otherwise); null unlinks. */
async function activityOf(db: Executor, workspaceId: string, accountId: string, activityId: string | null | undefined): Promise<string | null | undefined> {
  if (activityId === undefined || activityId === null) return activityId;
  const activity = isUuid(activityId) ? await findActivity(db, workspaceId, activityId.toLowerCase()) : undefined;
  if (!activity || activity.account_id !== accountId) throw new AppError('BAD_REQUEST', 'activityId must be the id of an activity of the account');
  return activity.id;
}

function optionalFields(input: UpdateTaskInput) {
  return {
    ...(input.title !== undefined ? { title: input.title } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.dueDate !== undefined ? { due_date: input.dueDate === null ? null : isoOf(input.dueDate) } : {}),
    ...(input.metadata !== undefined ? { metadata: toJson(input.metadata) } : {}),
  };
}

/** Tasks of an account (or of the workspace), newest first, filtered; `taskId` narrows to one. */
export async function listTasks(ctx: AppContext, scope: WorkspaceScope, query: TaskListQueryValue, page: ThenaPage): Promise<ThenaListResult<TaskResponse>> {
  const db = ctx.db.kysely;
  await ensureSeeded(ctx, scope.workspaceId);
  const filter: repo.TaskFilter = {};
  const accountId = await accountOfQuery(db, scope.workspaceId, query.accountId);
  if (accountId !== undefined) filter.accountId = accountId;
  if (query.taskId !== undefined) filter.id = (await getTaskRowOrThrow(db, scope.workspaceId, query.taskId)).id;
  const assignee = userIdOf(query.assigneeId, 'assigneeId');
  if (assignee !== undefined && assignee !== null) filter.assigneeId = assignee;
  for (const { field, attribute } of [
    { field: 'status', attribute: 'task_status' },
    { field: 'priority', attribute: 'task_priority' },
  ] as const) {
    const id = await filterValueId(db, scope.workspaceId, attribute, query[field]);
    if (id === null) return { items: [], total: 0 };
    if (id !== undefined) filter[`${field}Id`] = id;
  }
  const { rows, total } = await repo.listTasks(db, scope.workspaceId, filter, { offset: (page.page - 1) * page.limit, limit: page.limit });
  return { items: await toTaskResponses(db, scope.workspaceId, rows), total };
}

export async function getTask(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<TaskResponse> {
  await ensureSeeded(ctx, scope.workspaceId);
  return toTaskResponse(ctx.db.kysely, await getTaskRowOrThrow(ctx.db.kysely, scope.workspaceId, id));
}

export async function createTask(ctx: AppContext, scope: WorkspaceScope, input: CreateTaskInput): Promise<TaskResponse> {
  authorize(scope.role, 'write');
  await ensureSeeded(ctx, scope.workspaceId);
  const db = ctx.db.kysely;
  const row = await db.transaction().execute(async (trx) => {
    await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, ATTRIBUTE_NAMES, 'shared');
    const accountId = await accountOfBody(trx, scope.workspaceId, input.accountId);
    const assignee = await assigneeOf(trx, scope.workspaceId, input.assigneeId);
    const activityId = await activityOf(trx, scope.workspaceId, accountId, input.activityId);
    const at = now();
    return repo.insertTask(trx, {
      id: newId(),
      workspace_id: scope.workspaceId,
      account_id: accountId,
      creator_id: scope.userId,
      title: input.title,
      assignee_id: assignee ?? null,
      activity_id: activityId ?? null,
      description: null,
      due_date: null,
      attachments: toJson(attachmentsFromUrls(input.attachmentUrls, at)),
      metadata: toJson({}),
      ...optionalFields(input),
      ...(await resolveAttributeColumns(trx, scope.workspaceId, TASK_ATTRIBUTES, input, true)),
      created_at: at,
      updated_at: at,
    });
  });
  return toTaskResponse(db, row);
}

export async function updateTask(ctx: AppContext, scope: WorkspaceScope, id: string, input: UpdateTaskInput): Promise<TaskResponse> {
  const db = ctx.db.kysely;
  await ensureSeeded(ctx, scope.workspaceId);
  await getTaskRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'write');
  const row = await db.transaction().execute(async (trx) => {
    await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, ATTRIBUTE_NAMES, 'shared');
    const current = await getTaskRowOrThrow(trx, scope.workspaceId, id, ctx.db.dialect === 'postgres');
    const assignee = await assigneeOf(trx, scope.workspaceId, input.assigneeId);
    const activityId = await activityOf(trx, scope.workspaceId, current.account_id, input.activityId);
    const at = now();
    return repo.updateTask(trx, scope.workspaceId, current.id, {
      ...optionalFields(input),
      ...(assignee !== undefined ? { assignee_id: assignee } : {}),
      ...(activityId !== undefined ? { activity_id: activityId } : {}),
      ...(input.attachmentUrls !== undefined ? { attachments: toJson(replaceAttachments(attachmentsOf(current.attachments), input.attachmentUrls, at)) } : {}),
      ...(await resolveAttributeColumns(trx, scope.workspaceId, TASK_ATTRIBUTES, input, false)),
      updated_at: at,
    });
  });
  return toTaskResponse(db, row);
}

export async function deleteTask(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  const db = ctx.db.kysely;
  const row = await getTaskRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'write');
  await repo.softDeleteTask(db, scope.workspaceId, row.id, now());
}

/** Removes one attachment; NOT_FOUND when the task has none with that id. */
export async function removeTaskAttachment(ctx: AppContext, scope: WorkspaceScope, id: string, attachmentId: string): Promise<void> {
  const db = ctx.db.kysely;
  await getTaskRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'write');
  await db.transaction().execute(async (trx) => {
    const current = await getTaskRowOrThrow(trx, scope.workspaceId, id, ctx.db.dialect === 'postgres');
    await repo.updateTask(trx, scope.workspaceId, current.id, {
      attachments: toJson(withoutAttachment(attachmentsOf(current.attachments), attachmentId)),
      updated_at: now(),
    });
  });
}
