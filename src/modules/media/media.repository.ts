import type { ExpressionBuilder, Insertable } from 'kysely';
import type { Database, Executor } from '../../db/database.js';
import { containsText } from '../../db/values.js';
import type { MediaKind, MediaRow, MediaTable } from './media.table.js';

/** Who is looking: media are seen by their uploader, by admins, and through a visible thread. */
export interface MediaViewer {
  workspaceId: string;
  userId: number;
  /** Admins and owners see every upload of the workspace. */
  isAdmin: boolean;
}

/**
 * Someone else's upload is visible when it is attached to a message of a thread the viewer
 * sees (their own thread, or one shared with the workspace), so a shared conversation shows
 * its files to everyone who reads it.
 */
function visibleTo(viewer: MediaViewer) {
  return (eb: ExpressionBuilder<Database, 'media'>) =>
    viewer.isAdmin
      ? eb.lit(true)
      : eb.or([
          eb('media.user_id', '=', viewer.userId),
          eb.exists(
            eb
              .selectFrom('message_attachments as ma')
              .innerJoin('messages as msg', 'msg.id', 'ma.message_id')
              .innerJoin('threads as th', 'th.id', 'msg.thread_id')
              .select('ma.media_id')
              .whereRef('ma.media_id', '=', 'media.id')
              .where('th.workspace_id', '=', viewer.workspaceId)
              .where((inner) => inner.or([inner('th.user_id', '=', viewer.userId), inner('th.visibility', '=', 'workspace')])),
          ),
        ]);
}

export async function findVisibleMedia(db: Executor, viewer: MediaViewer, id: string): Promise<MediaRow | undefined> {
  return db
    .selectFrom('media')
    .selectAll('media')
    .where('media.workspace_id', '=', viewer.workspaceId)
    .where('media.id', '=', id)
    .where(visibleTo(viewer))
    .executeTakeFirst();
}

/** The visible media among `ids` (any order; the caller restores its own). */
export async function findVisibleMediaByIds(db: Executor, viewer: MediaViewer, ids: readonly string[]): Promise<MediaRow[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom('media')
    .selectAll('media')
    .where('media.workspace_id', '=', viewer.workspaceId)
    .where('media.id', 'in', [...ids])
    .where(visibleTo(viewer))
    .execute();
}

export interface MediaListFilter {
  search?: string;
  kind?: MediaKind;
}

/** The list: the viewer's own uploads, or every upload of the workspace for admins. */
export function listMediaQuery(db: Executor, viewer: MediaViewer, filter: MediaListFilter) {
  let query = db.selectFrom('media').where('media.workspace_id', '=', viewer.workspaceId);
  if (!viewer.isAdmin) query = query.where('media.user_id', '=', viewer.userId);
  if (filter.kind) query = query.where('media.kind', '=', filter.kind);
  if (filter.search) query = query.where(containsText('media.filename', filter.search));
  return query;
}

export function insertMedia(db: Executor, values: Insertable<MediaTable>): Promise<MediaRow> {
  return db.insertInto('media').values(values).returningAll().executeTakeFirstOrThrow();
}

export async function deleteMedia(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('media').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
}

/** Media per workspace the user sees in the list: their own, every one where they are an admin. */
export async function countVisibleMediaByWorkspace(db: Executor, userId: number, workspaceIds: readonly string[]): Promise<Map<string, number>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('media')
    .innerJoin('workspace_members as wm', (join) => join.onRef('wm.workspace_id', '=', 'media.workspace_id').on('wm.user_id', '=', userId))
    .select(['media.workspace_id', (eb) => eb.fn.countAll<number>().as('count')])
    .where('media.workspace_id', 'in', [...workspaceIds])
    .where((eb) => eb.or([eb('media.user_id', '=', userId), eb('wm.role', 'in', ['admin', 'owner'])]))
    .groupBy('media.workspace_id')
    .execute();
  return new Map(rows.map((r) => [r.workspace_id, Number(r.count)]));
}
