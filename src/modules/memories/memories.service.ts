import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest, type PageResult } from '../../db/paging.js';
import { newId, now, toJson } from '../../db/values.js';
import { AppError, fieldError } from '../../errors.js';
import { findUsersByIds } from '../users/users.repository.js';
import { toUserLeaf } from '../users/user.shape.js';
import { can } from '../workspaces/permissions.js';
import type { WorkspaceScope } from '../workspaces/workspaces.service.js';
import { embedderOf, embeddingFailureOf, encodeVector, rankBySimilarity, unitVector, vectorsOf, type Embedder } from './memories.embeddings.js';
import * as repo from './memories.repository.js';
import type { CreateMemoryInput, MemoryListItemResource, MemoryResource, UpdateMemoryInput } from './memories.schemas.js';
import { searchTermsOf } from './memories.search.js';
import type { MemoryRow, MemorySource, MemoryType } from './memories.table.js';

export const SORT_COLUMNS = { created_at: 'm.created_at', updated_at: 'm.updated_at', score: 'm.score' } as const;

/** Embedded memories compared with a query, newest first: bounds the work of one retrieval. */
export const MAX_VECTOR_CANDIDATES = 2_000;
/** Reciprocal rank fusion's damping constant (the value of the original paper). */
const RRF_K = 60;
/** Of a long turn, the part that is embedded as the query. */
const QUERY_EMBED_CHARS = 8_000;
const INSERT_CHUNK = 500;

export type { MemoryRow, MemorySource, MemoryType } from './memories.table.js';

function viewerOf(scope: WorkspaceScope): repo.MemoryViewer {
  return { workspaceId: scope.workspaceId, userId: scope.userId, isAdmin: can(scope.role, 'configure') };
}

/** Memory resources with their user nested; one query for all users. */
export async function toMemoryResources(db: Executor, rows: MemoryRow[]): Promise<MemoryResource[]> {
  const userIds = [...new Set(rows.map((r) => r.user_id).filter((id): id is number => id !== null))];
  const users = new Map((await findUsersByIds(db, userIds)).map((u) => [u.id, toUserLeaf(u)]));
  return rows.map((row) => ({
    uuid: row.id,
    type: row.type,
    source: row.source,
    content: row.content,
    metadata: row.metadata,
    agent_uuid: row.agent_id,
    thread_uuid: row.thread_id,
    user: row.user_id === null ? null : (users.get(row.user_id) ?? null),
    has_embedding: row.has_embedding,
    created_at: row.created_at,
    updated_at: row.updated_at,
  }));
}

async function toMemoryResource(db: Executor, row: MemoryRow): Promise<MemoryResource> {
  const [resource] = await toMemoryResources(db, [row]);
  return resource!;
}

export interface MemoryListRequest {
  search?: string;
  agentId?: string;
  threadId?: string;
  type?: MemoryType;
  source?: MemorySource;
}

export async function listMemories(
  ctx: AppContext,
  scope: WorkspaceScope,
  page: PageRequest,
  filter: MemoryListRequest,
): Promise<PageResult<MemoryListItemResource>> {
  const db = ctx.db.kysely;
  const searching = filter.search !== undefined && filter.search.trim() !== '';
  if (page.sort.column === SORT_COLUMNS.score && !searching) throw fieldError('sort', 'The sort field score needs a search.');
  const terms = searching ? searchTermsOf(filter.search!) : undefined;
  // A search with nothing to look for (only punctuation or common words) finds nothing.
  if (terms && terms.length === 0) {
    return page.cursor === undefined
      ? { kind: 'offset', items: [], total: 0, page: page.page, perPage: page.perPage }
      : { kind: 'cursor', items: [], perPage: page.perPage, nextCursor: null, prevCursor: null };
  }
  const base = repo.listMemoriesQuery(db, ctx.db.dialect, viewerOf(scope), {
    agentId: filter.agentId?.toLowerCase(),
    threadId: filter.threadId?.toLowerCase(),
    type: filter.type,
    source: filter.source,
    terms,
  });
  const result = await fetchPage(page, {
    base,
    select: (q) => q.selectAll('m'),
    idColumn: 'm.id',
    sortField: page.sort.column.slice(2),
    idField: 'id',
    map: (raw: Parameters<typeof repo.toMemoryRow>[0] & { score: number | null }) => ({ row: repo.toMemoryRow(raw), score: raw.score }),
  });
  const resources = await toMemoryResources(db, result.items.map((i) => i.row));
  return {
    ...result,
    items: resources.map((resource, i) => {
      const score = result.items[i]!.score;
      return { ...resource, score: score === null ? null : Number(score) };
    }),
  };
}

export async function getVisibleMemoryOrThrow(db: Executor, scope: WorkspaceScope, id: string): Promise<MemoryRow> {
  const row = await repo.findVisibleMemory(db, viewerOf(scope), id.toLowerCase());
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

export async function getMemory(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<MemoryResource> {
  return toMemoryResource(ctx.db.kysely, await getVisibleMemoryOrThrow(ctx.db.kysely, scope, id));
}

/**
 * Who may change or delete a memory: its user; for an agent's own memories (no user), the
 * agent's creator and the workspace's admins and owners. Viewers never.
 */
async function getChangeableMemoryOrThrow(db: Executor, scope: WorkspaceScope, id: string): Promise<MemoryRow> {
  const row = await getVisibleMemoryOrThrow(db, scope, id);
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  if (row.user_id === scope.userId) return row;
  if (row.user_id === null) {
    if (can(scope.role, 'configure')) return row;
    const agent = row.agent_id ? await repo.findAgentOwner(db, row.agent_id) : undefined;
    if (agent && agent.user_id === scope.userId) return row;
  }
  throw new AppError('FORBIDDEN');
}

export async function createMemory(ctx: AppContext, scope: WorkspaceScope, input: CreateMemoryInput): Promise<MemoryResource> {
  if (!can(scope.role, 'write')) throw new AppError('FORBIDDEN');
  const db = ctx.db.kysely;
  const viewer = viewerOf(scope);
  let agentId: string | null = null;
  if (input.agent_uuid) {
    const agent = await repo.findAgentForMemory(db, viewer, input.agent_uuid.toLowerCase());
    if (!agent) throw fieldError('agent_uuid', 'The selected agent uuid is invalid.');
    agentId = agent.id;
  }
  let threadId: string | null = null;
  if (input.thread_uuid) {
    const thread = await repo.findThreadForMemory(db, viewer, input.thread_uuid.toLowerCase());
    if (!thread) throw fieldError('thread_uuid', 'The selected thread uuid is invalid.');
    if (agentId !== null && thread.agent_id !== null && thread.agent_id !== agentId) {
      throw fieldError('thread_uuid', 'The thread uuid must name a thread of the selected agent.');
    }
    threadId = thread.id;
    agentId ??= thread.agent_id;
  }
  const [row] = await storeMemories(ctx, [
    {
      workspaceId: scope.workspaceId,
      agentId,
      userId: scope.userId,
      threadId,
      type: input.type ?? 'fact',
      source: 'api',
      content: input.content,
      metadata: input.metadata ?? {},
    },
  ]);
  return toMemoryResource(db, row!);
}

export async function updateMemory(ctx: AppContext, scope: WorkspaceScope, id: string, input: UpdateMemoryInput): Promise<MemoryResource> {
  const db = ctx.db.kysely;
  const current = await getChangeableMemoryOrThrow(db, scope, id);
  const changes: Parameters<typeof repo.updateMemory>[3] = {};
  if (input.type !== undefined) changes.type = input.type;
  if (input.metadata !== undefined) changes.metadata = toJson(input.metadata);
  if (input.content !== undefined && input.content !== current.content) {
    changes.content = input.content;
    // The old vector describes the old words: replaced, or dropped when it cannot be made.
    const embedder = await embedderOf(ctx, db, scope.workspaceId);
    const [vector] = embedder ? await embedSafely(ctx, embedder, scope.workspaceId, [input.content]) : [];
    changes.embedding = vector ? encodeVector(vector) : null;
    changes.embedding_model = vector ? embedder!.modelId : null;
  }
  if (Object.keys(changes).length === 0) return toMemoryResource(db, current);
  changes.updated_at = now();
  return toMemoryResource(db, await repo.updateMemory(db, scope.workspaceId, current.id, changes));
}

export async function deleteMemory(ctx: AppContext, scope: WorkspaceScope, id: string): Promise<void> {
  const db = ctx.db.kysely;
  const row = await getChangeableMemoryOrThrow(db, scope, id);
  await repo.deleteMemory(db, scope.workspaceId, row.id);
}

/** A memory to store: for an agent (or none), a user (null: the agent's own knowledge) and a thread. */
export interface NewMemory {
  workspaceId: string;
  agentId: string | null;
  userId: number | null;
  threadId: string | null;
  type: MemoryType;
  source: MemorySource;
  content: string;
  metadata?: Record<string, unknown>;
}

/** Vectors for the texts, or one undefined per text when the call fails (logged, never thrown). */
async function embedSafely(
  ctx: AppContext,
  embedder: Embedder,
  workspaceId: string,
  texts: string[],
  failure = 'memories stored without embeddings',
): Promise<Array<number[] | undefined>> {
  try {
    return await embedder.embed(texts);
  } catch (error) {
    ctx.log.warn({ workspace: workspaceId, model: embedder.modelId, count: texts.length, reason: embeddingFailureOf(error) }, failure);
    return texts.map(() => undefined);
  }
}

/**
 * Stores memories in one transaction. When their workspace has an embedding model, their
 * vectors are computed first (outside the transaction); a failed embedding call only leaves
 * them without vectors. Rows come back in the order given.
 */
export async function storeMemories(ctx: AppContext, rows: NewMemory[]): Promise<MemoryRow[]> {
  if (rows.length === 0) return [];
  const db = ctx.db.kysely;
  const vectors: Array<{ vector: number[]; model: string } | undefined> = rows.map(() => undefined);
  for (const workspaceId of new Set(rows.map((r) => r.workspaceId))) {
    const embedder = await embedderOf(ctx, db, workspaceId);
    if (!embedder) continue;
    const indexes = rows.flatMap((r, i) => (r.workspaceId === workspaceId ? [i] : []));
    const embedded = await embedSafely(ctx, embedder, workspaceId, indexes.map((i) => rows[i]!.content));
    indexes.forEach((rowIndex, i) => {
      const vector = embedded[i];
      if (vector) vectors[rowIndex] = { vector, model: embedder.modelId };
    });
  }
  const at = now();
  const values = rows.map((row, i) => ({
    id: newId(),
    workspace_id: row.workspaceId,
    agent_id: row.agentId,
    user_id: row.userId,
    thread_id: row.threadId,
    type: row.type,
    source: row.source,
    content: row.content,
    metadata: toJson(row.metadata ?? {}),
    embedding: vectors[i] ? encodeVector(vectors[i]!.vector) : null,
    embedding_model: vectors[i]?.model ?? null,
    created_at: at,
    updated_at: at,
  }));
  const stored = await db.transaction().execute(async (trx) => {
    const out: MemoryRow[] = [];
    for (let i = 0; i < values.length; i += INSERT_CHUNK) out.push(...(await repo.insertMemories(trx, values.slice(i, i + INSERT_CHUNK))));
    return out;
  });
  const byId = new Map(stored.map((r) => [r.id, r]));
  return values.map((v) => byId.get(v.id)!);
}

export interface RetrievedMemory {
  row: MemoryRow;
  /** Higher is better; comparable within one retrieval only (full-text rank, or fused rank with embeddings). */
  score: number;
}

export interface RetrievalQuery {
  workspaceId: string;
  /** The agent whose memories are searched; null: memories kept without an agent. */
  agentId: string | null;
  /** The user's own memories are searched with the agent's own (user-less) ones. */
  userId: number;
  text: string;
  /** At most this many of each type. */
  limit: number;
}

export interface RetrievedMemories {
  facts: RetrievedMemory[];
  examples: RetrievedMemory[];
  documents: RetrievedMemory[];
}

type Ranked = Map<string, { row?: MemoryRow; score: number }>;

/** Memories of one type, ranked by meaning (cosine similarity to the query's vector), best first. */
async function rankByMeaning(
  ctx: AppContext,
  embedder: Embedder,
  scope: repo.RecallScope,
  text: string,
  perType: number,
): Promise<Map<MemoryType, string[]> | undefined> {
  const db = ctx.db.kysely;
  const [[query], candidates] = await Promise.all([
    embedSafely(ctx, embedder, scope.workspaceId, [text.slice(0, QUERY_EMBED_CHARS)], 'memories retrieved by full text only'),
    repo.embeddedCandidates(db, scope, embedder.modelId, MAX_VECTOR_CANDIDATES),
  ]);
  if (!query || candidates.length === 0) return undefined;
  const ranked = rankBySimilarity(unitVector(query), candidates, await vectorsOf(db, scope.workspaceId, candidates));
  const byType = new Map<MemoryType, string[]>();
  for (const candidate of ranked) {
    const list = byType.get(candidate.type) ?? [];
    if (list.length < perType) list.push(candidate.id);
    byType.set(candidate.type, list);
  }
  return byType;
}

/**
 * The memories a run draws on, per type (`limit` of each): the agent's memories in the
 * workspace, the user's own and the agent-wide ones, ranked by full-text relevance to `text`,
 * fused with similarity of meaning when the workspace has an embedding model. A text with
 * nothing to search for gives the newest facts.
 */
export async function retrieveMemories(ctx: AppContext, query: RetrievalQuery): Promise<RetrievedMemories> {
  const db = ctx.db.kysely;
  const limit = Math.max(0, Math.min(Math.floor(query.limit), 50));
  const empty: RetrievedMemories = { facts: [], examples: [], documents: [] };
  if (limit === 0) return empty;
  const scope: repo.RecallScope = { workspaceId: query.workspaceId, agentId: query.agentId, userId: query.userId };
  const terms = searchTermsOf(query.text);
  if (terms.length === 0) {
    const facts = await repo.recentFacts(db, scope, limit);
    return { ...empty, facts: facts.map((row) => ({ row, score: 0 })) };
  }
  // Fusion looks past the first few of each list, where the other ranking may disagree. The
  // text ranking starts at once (runs wait for it before calling the model).
  const perType = limit * 3;
  const [embedder, byText] = await Promise.all([
    embedderOf(ctx, db, query.workspaceId, 'query'),
    repo.rankByText(db, ctx.db.dialect, scope, terms, perType),
  ]);
  const byMeaning = embedder ? await rankByMeaning(ctx, embedder, scope, query.text, perType) : undefined;
  const group = (type: MemoryType) => byText.filter((r) => r.type === type);
  if (!byMeaning) {
    const top = (type: MemoryType) => group(type).slice(0, limit).map(({ score, ...row }) => ({ row, score }));
    return { facts: top('fact'), examples: top('example'), documents: top('document') };
  }
  const fused = new Map<MemoryType, Ranked>();
  for (const type of ['fact', 'example', 'document'] as const) {
    const ranked: Ranked = new Map();
    group(type).forEach(({ score: _score, ...row }, rank) => ranked.set(row.id, { row, score: 1 / (RRF_K + rank + 1) }));
    (byMeaning.get(type) ?? []).forEach((id, rank) => {
      const entry = ranked.get(id) ?? { score: 0 };
      entry.score += 1 / (RRF_K + rank + 1);
      ranked.set(id, entry);
    });
    fused.set(type, ranked);
  }
  const best = new Map<MemoryType, Array<[string, { row?: MemoryRow; score: number }]>>();
  for (const [type, ranked] of fused) best.set(type, [...ranked].sort((a, b) => b[1].score - a[1].score || (a[0] < b[0] ? 1 : -1)).slice(0, limit));
  const missing = [...best.values()].flat().filter(([, entry]) => !entry.row).map(([id]) => id);
  const loaded = new Map((await repo.memoriesByIds(db, query.workspaceId, missing)).map((r) => [r.id, r]));
  const resolve = (type: MemoryType) =>
    (best.get(type) ?? []).flatMap(([id, entry]) => {
      const row = entry.row ?? loaded.get(id);
      return row ? [{ row, score: entry.score }] : [];
    });
  return { facts: resolve('fact'), examples: resolve('example'), documents: resolve('document') };
}

/**
 * One ranked list across types (the memory tool's search): at most `limit`, best first;
 * empty when the text has nothing to search for.
 */
export async function searchMemories(ctx: AppContext, query: RetrievalQuery): Promise<RetrievedMemory[]> {
  if (searchTermsOf(query.text).length === 0) return [];
  const found = await retrieveMemories(ctx, query);
  return [...found.facts, ...found.examples, ...found.documents].sort((a, b) => b.score - a.score).slice(0, query.limit);
}
