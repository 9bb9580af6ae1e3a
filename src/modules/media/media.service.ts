import type { Readable } from 'node:stream';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { isUuid, newId, now } from '../../db/values.js';
import { AppError, fieldError, type FieldErrors } from '../../errors.js';
import { findUsersByIds } from '../users/users.repository.js';
import { toUserLeaf } from '../users/user.shape.js';
import { can } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { ContentInspector, UNSUPPORTED_FILE_MESSAGE, sanitizeFilename, utf8Prefix } from './media.content.js';
import * as repo from './media.repository.js';
import type { AttachmentResource, MediaResource } from './media.schemas.js';
import { MediaStorage } from './media.storage.js';
import type { MediaRow } from './media.table.js';

export const SORT_COLUMNS = { created_at: 'media.created_at', filename: 'media.filename', size: 'media.size_bytes' } as const;

/** Files one message may carry. */
export const MAX_ATTACHMENTS = 10;
/** Text inlined per attached file; the rest is left out with a note saying so. */
export const TEXT_INLINE_MAX_BYTES = 200 * 1024;

function viewerOf(scope: WorkspaceScope): repo.MediaViewer {
  return { workspaceId: scope.workspaceId, userId: scope.userId, isAdmin: can(scope.role, 'configure') };
}

function storageOf(ctx: AppContext): MediaStorage {
  return new MediaStorage(ctx.config.dataDir);
}

/** Where a media's content is downloaded. */
export function mediaContentUrl(baseUrl: string, id: string): string {
  return `${baseUrl}/api/v1/media/${id}/content`;
}

/** Media resources with their uploader; one query for all uploaders. `baseUrl` as for page links. */
export async function toMediaResources(db: Executor, rows: MediaRow[], baseUrl: string): Promise<MediaResource[]> {
  if (rows.length === 0) return [];
  const userIds = [...new Set(rows.map((r) => r.user_id).filter((id): id is number => id !== null))];
  const users = new Map((await findUsersByIds(db, userIds)).map((u) => [u.id, toUserLeaf(u)]));
  return rows.map((row) => ({
    uuid: row.id,
    filename: row.filename,
    mime_type: row.mime_type,
    size: Number(row.size_bytes),
    kind: row.kind,
    sha256: row.sha256,
    url: mediaContentUrl(baseUrl, row.id),
    user: row.user_id === null ? null : (users.get(row.user_id) ?? null),
    created_at: row.created_at,
    updated_at: row.updated_at,
  }));
}

/** `Attachment` resources of a message (uuid = the media's), in the order given. */
export async function toAttachmentResources(
  db: Executor,
  rows: Array<{ media: MediaRow; position: number }>,
  baseUrl: string,
): Promise<AttachmentResource[]> {
  const media = await toMediaResources(db, rows.map((r) => r.media), baseUrl);
  return rows.map((row, i) => ({ uuid: row.media.id, position: row.position, media: media[i]! }));
}

export async function getVisibleMediaOrThrow(db: Executor, scope: WorkspaceScope, id: string): Promise<MediaRow> {
  const row = await repo.findVisibleMedia(db, viewerOf(scope), id.toLowerCase());
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

export async function getMedia(ctx: AppContext, scope: WorkspaceScope, id: string, baseUrl: string): Promise<MediaResource> {
  const row = await getVisibleMediaOrThrow(ctx.db.kysely, scope, id);
  const [resource] = await toMediaResources(ctx.db.kysely, [row], baseUrl);
  return resource!;
}

export async function listMedia(
  ctx: AppContext,
  scope: WorkspaceScope,
  page: PageRequest,
  filter: repo.MediaListFilter,
  baseUrl: string,
): Promise<PageResult<MediaResource>> {
  const result = await fetchPage(page, {
    base: repo.listMediaQuery(ctx.db.kysely, viewerOf(scope), filter),
    select: (q) => q.selectAll('media'),
    idColumn: 'media.id',
    sortField: page.sort.column.slice('media.'.length),
    idField: 'id',
    map: (row: MediaRow) => row,
  });
  return { ...result, items: await toMediaResources(ctx.db.kysely, result.items, baseUrl) };
}

/** One uploaded file as the multipart parser hands it over; `content` is read once. */
export interface Upload {
  filename: string | undefined;
  declaredType: string;
  content: Readable;
  /** True once the content was cut at the size limit. */
  truncated(): boolean;
}

/**
 * Stores an upload: streamed to a temporary file while its size, SHA-256 and type are worked
 * out, then renamed into place and recorded. Over the size limit: 413 and nothing kept; not an
 * image or UTF-8 text: 422.
 */
export async function uploadMedia(ctx: AppContext, scope: WorkspaceScope, upload: Upload | undefined): Promise<MediaRow> {
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  if (!upload) throw fieldError('file', 'The file field is required.');
  const storage = storageOf(ctx);
  const inspector = new ContentInspector();
  const temporary = await storage.writeTemporary(scope.workspaceId, upload.content, inspector);
  let committed = false;
  const id = newId();
  const key = storage.keyOf(scope.workspaceId, id);
  try {
    if (upload.truncated()) throw new AppError('PAYLOAD_TOO_LARGE');
    if (inspector.size === 0) throw fieldError('file', 'The file field must not be empty.');
    const filename = sanitizeFilename(upload.filename);
    const type = inspector.classify(upload.declaredType, filename);
    if (!type) throw fieldError('file', UNSUPPORTED_FILE_MESSAGE);
    await storage.commit(temporary, key);
    committed = true;
    const at = now();
    return await repo.insertMedia(ctx.db.kysely, {
      id,
      workspace_id: scope.workspaceId,
      user_id: scope.userId,
      filename,
      mime_type: type.mimeType,
      size_bytes: inspector.size,
      kind: type.kind,
      storage_key: key,
      sha256: inspector.sha256,
      created_at: at,
      updated_at: at,
    });
  } catch (error) {
    await (committed ? storage.remove(key) : storage.discard(temporary));
    throw error;
  }
}

/** Only the uploader or an admin deletes; the row goes first, then the file. */
export async function deleteMedia(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  const db = ctx.db.kysely;
  const row = await getVisibleMediaOrThrow(db, scope, id);
  const mayDelete = can(scope.role, 'write') && (row.user_id === scope.userId || can(scope.role, 'configure'));
  if (!mayDelete) throw new AppError('FORBIDDEN');
  await repo.deleteMedia(db, scope.workspaceId, row.id);
  try {
    await storageOf(ctx).remove(row.storage_key);
  } catch (error) {
    ctx.log.warn({ err: error, media: row.id }, 'media file could not be removed');
  }
}

/** The row and a stream of its file, for the download endpoint. NOT_FOUND when the file is gone. */
export async function openMediaContent(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<{ row: MediaRow; stream: Readable }> {
  const row = await getVisibleMediaOrThrow(ctx.db.kysely, scope, id);
  const stream = await storageOf(ctx).open(row.storage_key);
  if (!stream) {
    ctx.log.warn({ media: row.id }, 'media file missing from storage');
    throw new AppError('NOT_FOUND');
  }
  return { row, stream };
}

function fail(errors: FieldErrors): never {
  const first = Object.values(errors)[0]![0]!;
  throw new AppError('VALIDATION', first, { fields: errors });
}

/**
 * The media a message will carry, in the order given: each must be visible to the caller in the
 * workspace. 422 naming `attachments.N` for an unknown, invisible or repeated one; at most 10.
 */
export async function loadAttachments(db: Executor, scope: WorkspaceScope, mediaIds: string[], field = 'attachments'): Promise<MediaRow[]> {
  if (mediaIds.length > MAX_ATTACHMENTS) {
    throw fieldError(field, `The ${field.replace(/_/g, ' ')} field must not have more than ${MAX_ATTACHMENTS} items.`);
  }
  const ids = mediaIds.map((id) => id.toLowerCase());
  const rows = await repo.findVisibleMediaByIds(db, viewerOf(scope), ids.filter(isUuid));
  const byId = new Map(rows.map((r) => [r.id, r]));
  const errors: FieldErrors = {};
  const seen = new Set<string>();
  ids.forEach((id, i) => {
    const name = `${field}.${i}`;
    if (seen.has(id)) errors[name] = [`The ${name} field has a duplicate value.`];
    else if (!byId.has(id)) errors[name] = [`The selected ${name} is invalid.`];
    seen.add(id);
  });
  if (Object.keys(errors).length > 0) fail(errors);
  return ids.map((id) => byId.get(id)!);
}

export type AttachmentPart = { type: 'text'; text: string } | { type: 'image'; image: Uint8Array; mediaType: string };

/**
 * The message parts the model sees for attached media: images as image parts (only for vision
 * models: 422 on `attachments` otherwise), text files inlined under their name, each cut at
 * 200 KB with a note saying how much was left out.
 */
export async function attachmentParts(
  ctx: AppContext,
  media: MediaRow[],
  model: { vision: boolean; name: string },
  field = 'attachments',
): Promise<AttachmentPart[]> {
  if (!model.vision && media.some((m) => m.kind === 'image')) {
    throw fieldError(field, `The model ${model.name} does not accept images.`);
  }
  const storage = storageOf(ctx);
  const parts: AttachmentPart[] = [];
  for (const [i, row] of media.entries()) {
    const gone = () => {
      ctx.log.warn({ media: row.id }, 'media file missing from storage');
      return fieldError(`${field}.${i}`, `The ${field}.${i} file is no longer available.`);
    };
    if (row.kind === 'image') {
      const bytes = await storage.read(row.storage_key);
      if (!bytes) throw gone();
      parts.push({ type: 'image', image: new Uint8Array(bytes), mediaType: row.mime_type });
      continue;
    }
    const file = await storage.readPrefix(row.storage_key, TEXT_INLINE_MAX_BYTES + 4);
    if (!file) throw gone();
    const shown = utf8Prefix(file.bytes, TEXT_INLINE_MAX_BYTES);
    let text = `--- ${row.filename} ---\n${shown.toString('utf8')}`;
    if (shown.length < file.size) {
      text += `\n[truncated: the first ${Math.round(shown.length / 1024)} KB of ${Math.round(file.size / 1024)} KB are shown]`;
    }
    parts.push({ type: 'text', text });
  }
  return parts;
}
