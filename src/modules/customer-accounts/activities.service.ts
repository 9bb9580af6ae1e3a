import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fromJson, isUuid, newId, now, toJson } from '../../db/values.js';
import { AppError } from '../../errors.js';
import type { ThenaListResult, ThenaPage } from '../../http/thena.js';
import { authorize } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import * as repo from './activities.repository.js';
import type { ActivityListQueryValue, ActivityResponse, CreateActivityInput, UpdateActivityInput } from './activities.schemas.js';
import { attributeFields, attributeValuesByIds, ensureSeeded, resolveAttributeValue } from './attribute-values.service.js';
import { lockAttributes, type Attribute } from './attributes.js';
import { findAccount } from './customer-accounts.repository.js';
import { getAccountRowOrThrow } from './customer-accounts.service.js';
import type { ActivityRow } from './customer-accounts.table.js';
import { attachmentsFromUrls, attachmentsOf, peopleByIds, replaceAttachments, requireUuid, withoutAttachment } from './records.js';

/**
 * Activities of an account (calls, meetings, …). Viewers read, members write. Deleting an
 * activity unlinks the tasks that referred to it (their `activityId` becomes null).
 */

// Helpers the notes and tasks services share.

/** An attribute-backed request field: request field → attribute and column. */
export interface AttributeSpec<F extends string, C extends string> {
  field: F;
  attribute: Attribute;
  column: C;
}

/**
 * Attribute value ids for the fields the input names; on create (`fillDefaults`) an omitted
 * field gets the attribute's default. An unknown value is a 400 naming the field.
 */
export async function resolveAttributeColumns<F extends string, C extends string>(
  db: Executor,
  workspaceId: string,
  specs: ReadonlyArray<AttributeSpec<F, C>>,
  input: Partial<Record<F, string | undefined>>,
  fillDefaults: boolean,
): Promise<Partial<Record<C, string | null>>> {
  const columns: Partial<Record<C, string | null>> = {};
  for (const { field, attribute, column } of specs) {
    if (input[field] === undefined && !fillDefaults) continue;
    columns[column] = (await resolveAttributeValue(db, workspaceId, attribute, field, input[field]))?.id ?? null;
  }
  return columns;
}

/** The live account a request body names: 400 when there is none (a body field, not a path). */
export async function accountOfBody(db: Executor, workspaceId: string, accountId: string): Promise<string> {
  const account = isUuid(accountId) ? await findAccount(db, workspaceId, accountId.toLowerCase()) : undefined;
  if (!account) throw new AppError('BAD_REQUEST', 'accountId must be the id of an account');
  return account.id;
}

/** The account a list query names (404 when unknown, as a path would be), or undefined. */
export async function accountOfQuery(db: Executor, workspaceId: string, accountId: string | undefined): Promise<string | undefined> {
  if (accountId === undefined) return undefined;
  return (await getAccountRowOrThrow(db, workspaceId, accountId)).id;
}

/** A date-time from a request, stored as UTC ISO 8601 with milliseconds. */
export function isoOf(value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new AppError('BAD_REQUEST', 'must be a date-time');
  return date.toISOString();
}

// Activities

const ACTIVITY_ATTRIBUTES = [
  { field: 'type', attribute: 'activity_type', column: 'type_id' },
  { field: 'status', attribute: 'activity_status', column: 'status_id' },
] as const satisfies ReadonlyArray<AttributeSpec<string, string>>;

const ATTRIBUTE_NAMES: Attribute[] = ACTIVITY_ATTRIBUTES.map((a) => a.attribute);

/** Activity responses; accounts, attribute values and creators are read once for the whole list. */
export async function toActivityResponses(db: Executor, workspaceId: string, rows: ActivityRow[]): Promise<ActivityResponse[]> {
  const [accounts, values, people] = await Promise.all([
    repo.accountNamesByIds(
      db,
      workspaceId,
      rows.map((r) => r.account_id),
    ),
    attributeValuesByIds(
      db,
      workspaceId,
      rows.flatMap((r) => [r.type_id, r.status_id]),
    ),
    peopleByIds(
      db,
      rows.map((r) => r.creator_id),
    ),
  ]);
  return rows.map((row) => {
    const creator = row.creator_id === null ? undefined : people.get(row.creator_id);
    return {
      id: row.id,
      accountId: row.account_id,
      account: accounts.get(row.account_id) ?? null,
      activityTimestamp: row.activity_timestamp,
      duration: row.duration === null ? null : Number(row.duration),
      location: row.location,
      title: row.title,
      description: row.description,
      ...attributeFields('type', row.type_id, values),
      ...attributeFields('status', row.status_id, values),
      participants: fromJson<string[] | null>(row.participants) ?? [],
      creatorId: row.creator_id === null ? null : String(row.creator_id),
      creator: creator?.name ?? null,
      creatorEmail: creator?.email ?? null,
      attachments: attachmentsOf(row.attachments),
      metadata: fromJson<Record<string, unknown> | null>(row.metadata) ?? {},
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  });
}

async function toActivityResponse(db: Executor, row: ActivityRow): Promise<ActivityResponse> {
  const [response] = await toActivityResponses(db, row.workspace_id, [row]);
  return response!;
}

/**
 * A live activity of the workspace, or NOT_FOUND (also for another workspace's id or a non-UUID).
 * `forUpdate` (PostgreSQL, in a transaction) locks the row: attachments are read, changed and written.
 */
export async function getActivityRowOrThrow(db: Executor, workspaceId: string, id: string, forUpdate = false): Promise<ActivityRow> {
  const row = await repo.findActivity(db, workspaceId, requireUuid(id), forUpdate);
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

function optionalFields(input: UpdateActivityInput) {
  return {
    ...(input.activityTimestamp !== undefined ? { activity_timestamp: isoOf(input.activityTimestamp) } : {}),
    ...(input.duration !== undefined ? { duration: input.duration } : {}),
    ...(input.location !== undefined ? { location: input.location } : {}),
    ...(input.title !== undefined ? { title: input.title } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.participants !== undefined ? { participants: toJson(input.participants) } : {}),
    ...(input.metadata !== undefined ? { metadata: toJson(input.metadata) } : {}),
  };
}

/** Activities of an account (or of the workspace), newest first; `activityId` narrows to one. */
export async function listActivities(
  ctx: AppContext,
  scope: WorkspaceScope,
  query: ActivityListQueryValue,
  page: ThenaPage,
): Promise<ThenaListResult<ActivityResponse>> {
  const db = ctx.db.kysely;
  await ensureSeeded(ctx, scope.workspaceId);
  const filter: repo.ActivityFilter = {};
  const accountId = await accountOfQuery(db, scope.workspaceId, query.accountId);
  if (accountId !== undefined) filter.accountId = accountId;
  if (query.activityId !== undefined) filter.id = (await getActivityRowOrThrow(db, scope.workspaceId, query.activityId)).id;
  const { rows, total } = await repo.listActivities(db, scope.workspaceId, filter, { offset: (page.page - 1) * page.limit, limit: page.limit });
  if (filter.id !== undefined && rows.length === 0 && page.page === 1) throw new AppError('NOT_FOUND');
  return { items: await toActivityResponses(db, scope.workspaceId, rows), total };
}

export async function getActivity(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<ActivityResponse> {
  await ensureSeeded(ctx, scope.workspaceId);
  return toActivityResponse(ctx.db.kysely, await getActivityRowOrThrow(ctx.db.kysely, scope.workspaceId, id));
}

export async function createActivity(ctx: AppContext, scope: WorkspaceScope, input: CreateActivityInput): Promise<ActivityResponse> {
  authorize(scope.role, 'write');
  await ensureSeeded(ctx, scope.workspaceId);
  const db = ctx.db.kysely;
  const row = await db.transaction().execute(async (trx) => {
    await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, ATTRIBUTE_NAMES, 'shared');
    const accountId = await accountOfBody(trx, scope.workspaceId, input.accountId);
    const at = now();
    return repo.insertActivity(trx, {
      id: newId(),
      workspace_id: scope.workspaceId,
      account_id: accountId,
      creator_id: scope.userId,
      activity_timestamp: null,
      duration: null,
      location: null,
      title: null,
      description: null,
      participants: toJson([]),
      attachments: toJson(attachmentsFromUrls(input.attachmentUrls, at)),
      metadata: toJson({}),
      ...optionalFields(input),
      ...(await resolveAttributeColumns(trx, scope.workspaceId, ACTIVITY_ATTRIBUTES, input, true)),
      created_at: at,
      updated_at: at,
    });
  });
  return toActivityResponse(db, row);
}

export async function updateActivity(ctx: AppContext, scope: WorkspaceScope, id: string, input: UpdateActivityInput): Promise<ActivityResponse> {
  const db = ctx.db.kysely;
  await ensureSeeded(ctx, scope.workspaceId);
  await getActivityRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'write');
  const row = await db.transaction().execute(async (trx) => {
    await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, ATTRIBUTE_NAMES, 'shared');
    const current = await getActivityRowOrThrow(trx, scope.workspaceId, id, ctx.db.dialect === 'postgres');
    const at = now();
    return repo.updateActivity(trx, scope.workspaceId, current.id, {
      ...optionalFields(input),
      ...(input.attachmentUrls !== undefined ? { attachments: toJson(replaceAttachments(attachmentsOf(current.attachments), input.attachmentUrls, at)) } : {}),
      ...(await resolveAttributeColumns(trx, scope.workspaceId, ACTIVITY_ATTRIBUTES, input, false)),
      updated_at: at,
    });
  });
  return toActivityResponse(db, row);
}

/** Soft-deletes the activity; tasks that pointed at it keep living, unlinked. */
export async function deleteActivity(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  const db = ctx.db.kysely;
  const row = await getActivityRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'write');
  await db.transaction().execute((trx) => repo.softDeleteActivity(trx, scope.workspaceId, row.id, now()));
}

/** Removes one attachment; NOT_FOUND when the activity has none with that id. */
export async function removeActivityAttachment(ctx: AppContext, scope: WorkspaceScope, id: string, attachmentId: string): Promise<void> {
  const db = ctx.db.kysely;
  await getActivityRowOrThrow(db, scope.workspaceId, id);
  authorize(scope.role, 'write');
  await db.transaction().execute(async (trx) => {
    const current = await getActivityRowOrThrow(trx, scope.workspaceId, id, ctx.db.dialect === 'postgres');
    const at = now();
    await repo.updateActivity(trx, scope.workspaceId, current.id, {
      attachments: toJson(withoutAttachment(attachmentsOf(current.attachments), attachmentId)),
      updated_at: at,
    });
  });
}
