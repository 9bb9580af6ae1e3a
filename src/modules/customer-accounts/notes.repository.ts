import { type ExpressionBuilder, type Insertable, type Updateable } from 'kysely';
import type { Database, Executor } from '../../db/database.js';
import type { CustomerNotesTable, NoteRow } from './customer-accounts.table.js';

/** Who is reading: notes they may not see are left out of every query. */
export interface NoteReader {
  userId: number;
  /** A member above viewer: sees `team` notes. */
  team: boolean;
}

export interface NoteFilter {
  accountId?: string;
  id?: string;
}

function visibleTo(reader: NoteReader) {
  return (eb: ExpressionBuilder<Database, 'customer_notes'>) =>
    eb.or([
      eb('visibility', '=', 'public'),
      eb.and([eb('visibility', '=', 'private'), eb('author_id', '=', reader.userId)]),
      ...(reader.team ? [eb('visibility', '=', 'team')] : []),
    ]);
}

function filteredNotes(db: Executor, workspaceId: string, reader: NoteReader, filter: NoteFilter) {
  let query = db.selectFrom('customer_notes').where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).where(visibleTo(reader));
  if (filter.accountId !== undefined) query = query.where('account_id', '=', filter.accountId);
  if (filter.id !== undefined) query = query.where('id', '=', filter.id);
  return query;
}

/** One page of the notes the reader may see, newest first (ids are UUID v7), and their total. */
export async function listNotes(
  db: Executor,
  workspaceId: string,
  reader: NoteReader,
  filter: NoteFilter,
  page: { offset: number; limit: number },
): Promise<{ rows: NoteRow[]; total: number }> {
  const [rows, count] = await Promise.all([
    filteredNotes(db, workspaceId, reader, filter).selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute(),
    filteredNotes(db, workspaceId, reader, filter)
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.count) };
}

/** A live note the reader may see; `forUpdate` locks its row for the rest of the transaction (PostgreSQL only). */
export function findNote(db: Executor, workspaceId: string, reader: NoteReader, id: string, forUpdate = false): Promise<NoteRow | undefined> {
  const query = filteredNotes(db, workspaceId, reader, { id }).selectAll();
  return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

export function insertNote(db: Executor, row: Insertable<CustomerNotesTable>): Promise<NoteRow> {
  return db.insertInto('customer_notes').values(row).returningAll().executeTakeFirstOrThrow();
}

export function updateNote(db: Executor, workspaceId: string, id: string, values: Updateable<CustomerNotesTable>): Promise<NoteRow> {
  return db
    .updateTable('customer_notes')
    .set(values)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function softDeleteNote(db: Executor, workspaceId: string, id: string, at: string): Promise<void> {
  await db
    .updateTable('customer_notes')
    .set({ deleted_at: at, updated_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .execute();
}
