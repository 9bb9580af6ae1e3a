import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fromJson, newId, now, toJson } from '../../db/values.js';
import { AppError } from '../../errors.js';
import type { ThenaListResult, ThenaPage } from '../../http/thena.js';
import { authorize, can } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { accountNamesByIds } from './activities.repository.js';
import { accountOfBody, accountOfQuery, resolveAttributeColumns, type AttributeSpec } from './activities.service.js';
import { attributeFields, attributeValuesByIds, ensureSeeded } from './attribute-values.service.js';
import { lockAttributes, type Attribute } from './attributes.js';
import type { NoteRow } from './customer-accounts.table.js';
import * as repo from './notes.repository.js';
import type { CreateNoteInput, NoteListQueryValue, NoteResponse, UpdateNoteInput } from './notes.schemas.js';
import { attachmentsFromUrls, attachmentsOf, peopleByIds, replaceAttachments, requireUuid, withoutAttachment } from './records.js';

/**
 * Notes on an account. Visibility: `public` notes are seen by every member, `team` notes by
 * members above viewer, `private` notes by their author alone; a note the caller cannot see is
 * a 404 everywhere (list, get, update, delete). Members write notes; only the author, an admin
 * or an owner changes or deletes one (403 for other members who can see it).
 */

const NOTE_ATTRIBUTES = [{ field: 'type', attribute: 'note_type', column: 'type_id' }] as const satisfies ReadonlyArray<AttributeSpec<string, string>>;

const ATTRIBUTE_NAMES: Attribute[] = NOTE_ATTRIBUTES.map((a) => a.attribute);

function readerOf(scope: WorkspaceScope): repo.NoteReader {
  return { userId: scope.userId, team: can(scope.role, 'write') };
}

/** Note responses; accounts, attribute values and authors are read once for the whole list. */
export async function toNoteResponses(db: Executor, workspaceId: string, rows: NoteRow[]): Promise<NoteResponse[]> {
  const [accounts, values, people] = await Promise.all([
    accountNamesByIds(
      db,
      workspaceId,
      rows.map((r) => r.account_id),
    ),
    attributeValuesByIds(
      db,
      workspaceId,
      rows.map((r) => r.type_id),
    ),
    peopleByIds(
      db,
      rows.map((r) => r.author_id),
    ),
  ]);
  return rows.map((row) => {
    const author = row.author_id === null ? undefined : people.get(row.author_id);
    return {
      id: row.id,
      accountId: row.account_id,
      account: accounts.get(row.account_id) ?? null,
      content: row.content,
      ...attributeFields('type', row.type_id, values),
      visibility: row.visibility,
      authorId: row.author_id === null ? null : String(row.author_id),
      author: author?.name ?? null,
      authorEmail: author?.email ?? null,
      attachments: attachmentsOf(row.attachments),
      metadata: fromJson<Record<string, unknown> | null>(row.metadata) ?? {},
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  });
}

async function toNoteResponse(db: Executor, row: NoteRow): Promise<NoteResponse> {
  const [response] = await toNoteResponses(db, row.workspace_id, [row]);
  return response!;
}

/** A live note the caller may see, or NOT_FOUND (also for another workspace's id or a non-UUID). */
export async function getNoteRowOrThrow(db: Executor, scope: WorkspaceScope, id: string, forUpdate = false): Promise<NoteRow> {
  const row = await repo.findNote(db, scope.workspaceId, readerOf(scope), requireUuid(id), forUpdate);
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

/** Changing a note: members who can see it, and then its author, an admin or an owner. */
function authorizeNoteChange(scope: WorkspaceScope, row: NoteRow): void {
  authorize(scope.role, 'write');
  if (row.author_id !== scope.userId && !can(scope.role, 'manage_members')) throw new AppError('FORBIDDEN');
}

/** The notes the caller may see of an account (or of the workspace), newest first; `noteId` narrows to one. */
export async function listNotes(ctx: AppContext, scope: WorkspaceScope, query: NoteListQueryValue, page: ThenaPage): Promise<ThenaListResult<NoteResponse>> {
  const db = ctx.db.kysely;
  await ensureSeeded(ctx, scope.workspaceId);
  const filter: repo.NoteFilter = {};
  const accountId = await accountOfQuery(db, scope.workspaceId, query.accountId);
  if (accountId !== undefined) filter.accountId = accountId;
  if (query.noteId !== undefined) filter.id = (await getNoteRowOrThrow(db, scope, query.noteId)).id;
  const { rows, total } = await repo.listNotes(db, scope.workspaceId, readerOf(scope), filter, {
    offset: (page.page - 1) * page.limit,
    limit: page.limit,
  });
  if (filter.id !== undefined && total === 0) throw new AppError('NOT_FOUND');
  return { items: await toNoteResponses(db, scope.workspaceId, rows), total };
}

export async function getNote(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<NoteResponse> {
  await ensureSeeded(ctx, scope.workspaceId);
  return toNoteResponse(ctx.db.kysely, await getNoteRowOrThrow(ctx.db.kysely, scope, id));
}

export async function createNote(ctx: AppContext, scope: WorkspaceScope, input: CreateNoteInput): Promise<NoteResponse> {
  authorize(scope.role, 'write');
  await ensureSeeded(ctx, scope.workspaceId);
  const db = ctx.db.kysely;
  const row = await db.transaction().execute(async (trx) => {
    await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, ATTRIBUTE_NAMES, 'shared');
    const accountId = await accountOfBody(trx, scope.workspaceId, input.accountId);
    const at = now();
    return repo.insertNote(trx, {
      id: newId(),
      workspace_id: scope.workspaceId,
      account_id: accountId,
      author_id: scope.userId,
      content: input.content,
      visibility: input.visibility ?? 'public',
      attachments: toJson(attachmentsFromUrls(input.attachmentUrls, at)),
      metadata: toJson(input.metadata ?? {}),
      ...(await resolveAttributeColumns(trx, scope.workspaceId, NOTE_ATTRIBUTES, input, true)),
      created_at: at,
      updated_at: at,
    });
  });
  return toNoteResponse(db, row);
}

export async function updateNote(ctx: AppContext, scope: WorkspaceScope, id: string, input: UpdateNoteInput): Promise<NoteResponse> {
  const db = ctx.db.kysely;
  await ensureSeeded(ctx, scope.workspaceId);
  authorizeNoteChange(scope, await getNoteRowOrThrow(db, scope, id));
  const row = await db.transaction().execute(async (trx) => {
    await lockAttributes(trx, ctx.db.dialect, scope.workspaceId, ATTRIBUTE_NAMES, 'shared');
    const current = await getNoteRowOrThrow(trx, scope, id, ctx.db.dialect === 'postgres');
    const at = now();
    return repo.updateNote(trx, scope.workspaceId, current.id, {
      ...(input.content !== undefined ? { content: input.content } : {}),
      ...(input.visibility !== undefined ? { visibility: input.visibility } : {}),
      ...(input.metadata !== undefined ? { metadata: toJson(input.metadata) } : {}),
      ...(input.attachmentUrls !== undefined ? { attachments: toJson(replaceAttachments(attachmentsOf(current.attachments), input.attachmentUrls, at)) } : {}),
      ...(await resolveAttributeColumns(trx, scope.workspaceId, NOTE_ATTRIBUTES, input, false)),
      updated_at: at,
    });
  });
  return toNoteResponse(db, row);
}

export async function deleteNote(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  const db = ctx.db.kysely;
  const row = await getNoteRowOrThrow(db, scope, id);
  authorizeNoteChange(scope, row);
  await repo.softDeleteNote(db, scope.workspaceId, row.id, now());
}

/** Removes one attachment; NOT_FOUND when the note has none with that id. */
export async function removeNoteAttachment(ctx: AppContext, scope: WorkspaceScope, id: string, attachmentId: string): Promise<void> {
  const db = ctx.db.kysely;
  authorizeNoteChange(scope, await getNoteRowOrThrow(db, scope, id));
  await db.transaction().execute(async (trx) => {
    const current = await getNoteRowOrThrow(trx, scope, id, ctx.db.dialect === 'postgres');
    await repo.updateNote(trx, scope.workspaceId, current.id, {
      attachments: toJson(withoutAttachment(attachmentsOf(current.attachments), attachmentId)),
      updated_at: now(),
    });
  });
}
