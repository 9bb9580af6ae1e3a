import { sql, type SelectQueryBuilder } from 'kysely';
import { AppError } from '../errors.js';

export interface SortSpec {
  /** Column reference as SQL sees it, e.g. `w.name`. */
  column: string;
  direction: 'asc' | 'desc';
}

export interface PageRequest {
  page: number;
  perPage: number;
  /** Present (possibly empty) when the client asked for a cursor page. */
  cursor: string | undefined;
  sort: SortSpec;
}

export type PageResult<T> =
  | { kind: 'offset'; items: T[]; total: number; page: number; perPage: number }
  | { kind: 'cursor'; items: T[]; perPage: number; nextCursor: string | null; prevCursor: string | null };

interface CursorPayload {
  /** Sort value and id of the row the page starts after (or before). */
  v: unknown;
  id: unknown;
  /** `n`: the page after this row; `p`: the page before it. */
  d: 'n' | 'p';
}

function encodeCursor(payload: CursorPayload): string {
  return Buffer.from(JSON.stringify(payload)).toString('base64url');
}

function decodeCursor(cursor: string): CursorPayload {
  try {
    const payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorPayload;
    if (payload && (payload.d === 'n' || payload.d === 'p') && 'v' in payload && 'id' in payload) return payload;
  } catch {
    // fall through
  }
  throw new AppError('VALIDATION', undefined, { fields: { cursor: ['The cursor field is invalid.'] } });
}

type AnyQuery = SelectQueryBuilder<any, any, any>;

export interface PageOptions<Row, T> {
  /** The filtered query, without selections, order or limits. */
  base: AnyQuery;
  /** Adds the selected columns. */
  select: (query: AnyQuery) => AnyQuery;
  /** Unique column that breaks ties in the order (a UUID v7 or an integer id). */
  idColumn: string;
  /** Name of the selected fields holding the sort value and the id, to build cursors. */
  sortField: string;
  idField: string;
  map: (row: Row) => T;
}

/**
 * Runs a list query as a length-aware page (count + offset) or, when the request carries a
 * cursor, as a keyset page that stays fast however deep the client reads.
 */
export async function fetchPage<Row, T>(request: PageRequest, options: PageOptions<Row, T>): Promise<PageResult<T>> {
  return request.cursor === undefined ? fetchOffsetPage(request, options) : fetchCursorPage(request, options);
}

async function fetchOffsetPage<Row, T>(request: PageRequest, options: PageOptions<Row, T>): Promise<PageResult<T>> {
  const { base, select, idColumn, map } = options;
  const { page, perPage, sort } = request;
  const countRow = (await base.select(sql<number>`count(*)`.as('count')).executeTakeFirst()) as { count: number } | undefined;
  const total = Number(countRow?.count ?? 0);
  const rows =
    total === 0 || (page - 1) * perPage >= total
      ? []
      : ((await select(base)
          .orderBy(sql.ref(sort.column), sort.direction)
          .orderBy(sql.ref(idColumn), sort.direction)
          .limit(perPage)
          .offset((page - 1) * perPage)
          .execute()) as Row[]);
  return { kind: 'offset', items: rows.map(map), total, page, perPage };
}

async function fetchCursorPage<Row, T>(request: PageRequest, options: PageOptions<Row, T>): Promise<PageResult<T>> {
  const { base, select, idColumn, sortField, idField, map } = options;
  const { perPage, sort } = request;
  const cursor = request.cursor ? decodeCursor(request.cursor) : undefined;
  const backwards = cursor?.d === 'p';
  // Reading backwards flips the order, then the page is reversed into place.
  const ascending = (sort.direction === 'asc') !== backwards;
  const direction = ascending ? 'asc' : 'desc';
  let query = select(base);
  if (cursor) {
    const op = ascending ? '>' : '<';
    const sortRef = sql.ref(sort.column);
    const idRef = sql.ref(idColumn);
    query = query.where(
      sql<boolean>`(${sortRef} ${sql.raw(op)} ${cursor.v} or (${sortRef} = ${cursor.v} and ${idRef} ${sql.raw(op)} ${cursor.id}))`,
    );
  }
  const rows = (await query
    .orderBy(sql.ref(sort.column), direction)
    .orderBy(sql.ref(idColumn), direction)
    .limit(perPage + 1)
    .execute()) as Record<string, unknown>[];
  const hasMore = rows.length > perPage;
  const pageRows = hasMore ? rows.slice(0, perPage) : rows;
  if (backwards) pageRows.reverse();
  const first = pageRows[0];
  const last = pageRows[pageRows.length - 1];
  const cursorAt = (row: Record<string, unknown>, d: 'n' | 'p') => encodeCursor({ v: row[sortField], id: row[idField], d });
  const moreAfter = backwards ? cursor !== undefined : hasMore;
  const moreBefore = backwards ? hasMore : cursor !== undefined;
  return {
    kind: 'cursor',
    items: (pageRows as Row[]).map(map),
    perPage,
    nextCursor: moreAfter && last ? cursorAt(last, 'n') : null,
    prevCursor: moreBefore && first ? cursorAt(first, 'p') : null,
  };
}
