import type { FastifyRequest } from 'fastify';
import qs from 'qs';
import { Type, type TProperties } from 'typebox';
import type { PageRequest, PageResult } from '../db/paging.js';
import { StringEnum } from './schemas.js';

export const DEFAULT_PER_PAGE = 15;
export const MAX_PER_PAGE = 100;
/** Laravel's default: pages shown on each side of the current one. */
const ON_EACH_SIDE = 3;

/**
 * Query parameters of every platform list: `page`, `per_page`, `cursor`, `search`, `sort`
 * (`name` or `-name`, from the endpoint's allowed fields) and `filter[field]`.
 */
export function ListQuery<F extends TProperties>(sortFields: readonly string[], filters: F) {
  const sorts = sortFields.flatMap((f) => [f, `-${f}`]);
  return Type.Object({
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
    per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PER_PAGE, default: DEFAULT_PER_PAGE })),
    cursor: Type.Optional(Type.String({ maxLength: 1024, description: 'Ask for a cursor page; empty for the first one.' })),
    search: Type.Optional(Type.String({ maxLength: 255 })),
    sort: Type.Optional(StringEnum(sorts)),
    filter: Type.Optional(Type.Object(filters, { additionalProperties: false })),
  });
}

export interface ListQueryValues {
  page?: number;
  per_page?: number;
  cursor?: string;
  search?: string;
  sort?: string;
}

/** Reads paging from a validated list query; `defaultSort` is like `-created_at`. */
export function pageRequestOf(query: ListQueryValues, columns: Record<string, string>, defaultSort: string): PageRequest {
  const sort = query.sort ?? defaultSort;
  const descending = sort.startsWith('-');
  const field = descending ? sort.slice(1) : sort;
  const column = columns[field];
  if (!column) throw new Error(`No column for sort field ${field}`);
  return {
    page: query.page ?? 1,
    perPage: query.per_page ?? DEFAULT_PER_PAGE,
    cursor: query.cursor,
    sort: { column, direction: descending ? 'desc' : 'asc' },
  };
}

export function baseUrlOf(request: FastifyRequest, publicUrl: string | undefined): string {
  return publicUrl ?? `${request.protocol}://${request.host}`;
}

interface PageLink {
  url: string | null;
  label: string;
  active: boolean;
}

/** Laravel's UrlWindow: which page numbers to show, with '...' where pages are skipped. */
export function pageWindow(currentPage: number, lastPage: number, onEachSide = ON_EACH_SIDE): Array<number | '...'> {
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  if (lastPage < onEachSide * 2 + 8) return range(1, lastPage);
  const window = onEachSide + 4;
  if (currentPage <= window) return [...range(1, window + onEachSide), '...', lastPage - 1, lastPage];
  if (currentPage > lastPage - window) return [1, 2, '...', ...range(lastPage - (window + (onEachSide - 1)), lastPage)];
  return [1, 2, '...', ...range(currentPage - onEachSide, currentPage + onEachSide), '...', lastPage - 1, lastPage];
}

/** Builds the `{data, links, meta}` body of a list response. */
export function pageResponse<T>(request: FastifyRequest, publicUrl: string | undefined, result: PageResult<T>) {
  const path = `${baseUrlOf(request, publicUrl)}${request.url.split('?')[0]}`;
  // Links keep the request's other parameters (filters, sort), as Laravel's withQueryString(),
  // percent-encoding brackets too so every link is a valid URI.
  const query = { ...(request.query as Record<string, unknown>) };
  delete query.page;
  delete query.cursor;
  const url = (param: Record<string, string | number>) =>
    `${path}?${qs.stringify({ ...query, ...param })}`;

  if (result.kind === 'cursor') {
    return {
      data: result.items,
      links: {
        first: null,
        last: null,
        prev: result.prevCursor ? url({ cursor: result.prevCursor }) : null,
        next: result.nextCursor ? url({ cursor: result.nextCursor }) : null,
      },
      meta: { path, per_page: result.perPage, next_cursor: result.nextCursor, prev_cursor: result.prevCursor },
    };
  }

  const { page, perPage, total, items } = result;
  const lastPage = Math.max(Math.ceil(total / perPage), 1);
  const prev = page > 1 ? url({ page: page - 1 }) : null;
  const next = page < lastPage ? url({ page: page + 1 }) : null;
  const links: PageLink[] = [
    { url: prev, label: '&laquo; Previous', active: false },
    ...pageWindow(page, lastPage).map((entry) =>
      entry === '...'
        ? { url: null, label: '...', active: false }
        : { url: url({ page: entry }), label: String(entry), active: entry === page },
    ),
    { url: next, label: 'Next &raquo;', active: false },
  ];
  const from = items.length > 0 ? (page - 1) * perPage + 1 : null;
  return {
    data: items,
    links: { first: url({ page: 1 }), last: url({ page: lastPage }), prev, next },
    meta: {
      current_page: page,
      from,
      last_page: lastPage,
      links,
      path,
      per_page: perPage,
      to: from === null ? null : from + items.length - 1,
      total,
    },
  };
}
