import { sql, type Insertable, type SqlBool, type Updateable } from 'kysely';
import type { Dialect, Executor } from '../../db/database.js';
import { preparedQuery } from '../../db/prepared.js';
import { fromJson, toBool } from '../../db/values.js';
import type { AccountRow } from '../accounts/accounts.table.js';
import { fts5Query, tsQuery } from './memories.search.js';
import type { MemoriesTable, MemoryRow, MemorySource, MemoryType, WorkspaceAiSettingsRow, WorkspaceAiSettingsTable } from './memories.table.js';

/** Every column but the vector, which stays in the database unless a ranking needs it. */
const COLUMNS = [
  'm.id',
  'm.workspace_id',
  'm.agent_id',
  'm.user_id',
  'm.thread_id',
  'm.type',
  'm.source',
  'm.content',
  'm.metadata',
  'm.embedding_model',
  'm.created_at',
  'm.updated_at',
] as const;
const HAS_EMBEDDING = sql<unknown>`(m.embedding is not null)`.as('has_embedding');
/** The same, for RETURNING (SQLite allows no table alias there). */
const RETURNED = COLUMNS.map((c) => c.slice(2) as (typeof COLUMNS)[number] extends `m.${infer C}` ? C : never);
const RETURNED_HAS_EMBEDDING = sql<unknown>`(embedding is not null)`.as('has_embedding');

type RawMemory = Omit<MemoryRow, 'metadata' | 'has_embedding'> & { metadata: unknown; has_embedding: unknown };

export function toMemoryRow(raw: RawMemory): MemoryRow {
  return { ...raw, metadata: fromJson<Record<string, unknown>>(raw.metadata) ?? {}, has_embedding: toBool(raw.has_embedding) };
}

/** Who is looking. Admins and owners see every agent-wide memory of the workspace. */
export interface MemoryViewer {
  workspaceId: string;
  userId: number;
  isAdmin: boolean;
}

/** A grant on the memory's agent (`m.agent_id`) to the user, to the workspace they act in, or to everyone. */
function agentGranted(userId: number, workspaceId: string) {
  return sql<SqlBool>`exists (select 1 from shares s where s.resource_type = 'agent' and s.resource_id = m.agent_id and (
    (s.grantee_type = 'user' and s.grantee_user_id = ${userId})
    or (s.grantee_type = 'workspace' and s.grantee_workspace_id = ${workspaceId})
    or s.grantee_type = 'public'))`;
}

/**
 * A viewer sees, in the workspace they act in, their own memories, and the memories without a
 * user (an agent's own knowledge, from training or the API) of agents they can see: their own,
 * ones visible to the workspace or public, ones shared with them. Admins see all of those.
 */
function visibleMemories(db: Executor, viewer: MemoryViewer) {
  return db
    .selectFrom('memories as m')
    .leftJoin('agents as a', 'a.id', 'm.agent_id')
    .where('m.workspace_id', '=', viewer.workspaceId)
    .where((eb) =>
      eb.or([
        eb('m.user_id', '=', viewer.userId),
        eb.and([
          eb('m.user_id', 'is', null),
          viewer.isAdmin
            ? eb.lit(true)
            : eb.or([
                eb('m.agent_id', 'is', null),
                eb('a.user_id', '=', viewer.userId),
                eb('a.visibility', 'in', ['workspace', 'public']),
                agentGranted(viewer.userId, viewer.workspaceId),
              ]),
        ]),
      ]),
    );
}

export async function findVisibleMemory(db: Executor, viewer: MemoryViewer, id: string): Promise<MemoryRow | undefined> {
  const raw = await visibleMemories(db, viewer).select(COLUMNS).select(HAS_EMBEDDING).where('m.id', '=', id).executeTakeFirst();
  return raw ? toMemoryRow(raw as RawMemory) : undefined;
}

export interface MemoryListFilter {
  agentId?: string;
  threadId?: string;
  type?: MemoryType;
  source?: MemorySource;
  /** Search terms (see searchTermsOf); the list then carries each memory's rank as `score`. */
  terms?: string[];
}

/**
 * The list's rows as a derived table `m` with the memory columns, `has_embedding` and `score`
 * (the full-text rank when searching, higher is better; null otherwise), ready to be paged.
 */
export function listMemoriesQuery(db: Executor, dialect: Dialect, viewer: MemoryViewer, filter: MemoryListFilter) {
  let query = visibleMemories(db, viewer).select(COLUMNS).select(HAS_EMBEDDING);
  if (filter.agentId) query = query.where('m.agent_id', '=', filter.agentId);
  if (filter.threadId) query = query.where('m.thread_id', '=', filter.threadId);
  if (filter.type) query = query.where('m.type', '=', filter.type);
  if (filter.source) query = query.where('m.source', '=', filter.source);
  if (!filter.terms) return db.selectFrom(query.select(sql<number | null>`null`.as('score')).as('m'));
  if (dialect === 'postgres') {
    const ts = sql`to_tsquery('english', ${tsQuery(filter.terms)})`;
    const ranked = query.where(sql<SqlBool>`m.search @@ ${ts}`).select(sql<number>`ts_rank(m.search, ${ts})::float8`.as('score'));
    return db.selectFrom(ranked.as('m'));
  }
  const ranked = query
    .innerJoin(
      sql<{ fts_rowid: number; rank: number }>`(select rowid as fts_rowid, bm25(memories_fts) as rank from memories_fts where memories_fts match ${fts5Query(filter.terms)})`.as('f'),
      (join) => join.on(sql<SqlBool>`f.fts_rowid = m.rowid`),
    )
    // bm25 is lower for better matches; negated so both databases rank "higher is better".
    .select(sql<number>`-f.rank`.as('score'));
  return db.selectFrom(ranked.as('m'));
}

export async function insertMemories(db: Executor, values: Insertable<MemoriesTable>[]): Promise<MemoryRow[]> {
  if (values.length === 0) return [];
  const rows = await db
    .insertInto('memories')
    .values(values)
    .returning(RETURNED)
    .returning(RETURNED_HAS_EMBEDDING)
    .execute();
  return rows.map((raw) => toMemoryRow(raw as RawMemory));
}

export async function updateMemory(db: Executor, workspaceId: string, id: string, values: Updateable<MemoriesTable>): Promise<MemoryRow> {
  const raw = await db
    .updateTable('memories')
    .set(values)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returning(RETURNED)
    .returning(RETURNED_HAS_EMBEDDING)
    .executeTakeFirstOrThrow();
  return toMemoryRow(raw as RawMemory);
}

export async function deleteMemory(db: Executor, workspaceId: string, id: string): Promise<void> {
  await db.deleteFrom('memories').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
}

/** The memories one run may draw on: the agent's, in the workspace, the user's own or agent-wide. */
export interface RecallScope {
  workspaceId: string;
  agentId: string | null;
  userId: number;
}

function recallable(db: Executor, scope: RecallScope) {
  return db
    .selectFrom('memories as m')
    .where('m.workspace_id', '=', scope.workspaceId)
    .where((eb) => (scope.agentId === null ? eb('m.agent_id', 'is', null) : eb('m.agent_id', '=', scope.agentId)))
    .where((eb) => eb.or([eb('m.user_id', 'is', null), eb('m.user_id', '=', scope.userId)]));
}

/**
 * Full-text matches of each type, best first, at most `perType` of each (a window over the
 * ranked matches, so one query serves all three types).
 */
export function rankByTextQuery(db: Executor, dialect: Dialect, scope: RecallScope, terms: string[], perType: number) {
  let ranked;
  if (dialect === 'postgres') {
    const ts = sql`to_tsquery('english', ${tsQuery(terms)})`;
    ranked = recallable(db, scope)
      .select(COLUMNS)
      .select(HAS_EMBEDDING)
      .select(sql<number>`ts_rank(m.search, ${ts})::float8`.as('score'))
      .where(sql<SqlBool>`m.search @@ ${ts}`);
  } else {
    ranked = recallable(db, scope)
      .innerJoin(
        sql<{ fts_rowid: number; rank: number }>`(select rowid as fts_rowid, bm25(memories_fts) as rank from memories_fts where memories_fts match ${fts5Query(terms)})`.as('f'),
        (join) => join.on(sql<SqlBool>`f.fts_rowid = m.rowid`),
      )
      .select(COLUMNS)
      .select(HAS_EMBEDDING)
      .select(sql<number>`-f.rank`.as('score'));
  }
  const numbered = db
    .selectFrom(ranked.as('r'))
    .selectAll('r')
    .select(sql<number>`row_number() over (partition by r.type order by r.score desc, r.id desc)`.as('place'));
  return db.selectFrom(numbered.as('w')).selectAll('w').where('w.place', '<=', perType).orderBy('w.score', 'desc').orderBy('w.id', 'desc');
}

export async function rankByText(
  db: Executor,
  dialect: Dialect,
  scope: RecallScope,
  terms: string[],
  perType: number,
): Promise<Array<MemoryRow & { score: number }>> {
  const rows = await rankByTextQuery(db, dialect, scope, terms, perType).execute();
  return rows.map(({ place: _place, score, ...raw }) => ({ ...toMemoryRow(raw as RawMemory), score: Number(score) }));
}

/** The newest facts, for a turn whose text gives nothing to search for. */
export async function recentFacts(db: Executor, scope: RecallScope, limit: number): Promise<MemoryRow[]> {
  const rows = await recallable(db, scope).select(COLUMNS).select(HAS_EMBEDDING).where('m.type', '=', 'fact').orderBy('m.id', 'desc').limit(limit).execute();
  return rows.map((raw) => toMemoryRow(raw as RawMemory));
}

/** The newest memories embedded with `model` (ids only: vectors are loaded through the cache). */
export function embeddedCandidatesQuery(db: Executor, scope: RecallScope, model: string, limit: number) {
  return recallable(db, scope)
    .select(['m.id', 'm.type', 'm.updated_at'])
    .where('m.embedding_model', '=', model)
    .where('m.embedding', 'is not', null)
    .orderBy('m.id', 'desc')
    .limit(limit);
}

export function embeddedCandidates(
  db: Executor,
  scope: RecallScope,
  model: string,
  limit: number,
): Promise<Array<{ id: string; type: MemoryType; updated_at: string }>> {
  return embeddedCandidatesQuery(db, scope, model, limit).execute();
}

export function embeddingsByIds(db: Executor, workspaceId: string, ids: readonly string[]): Promise<Array<{ id: string; updated_at: string; embedding: Buffer | null }>> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('memories')
    .select(['id', 'updated_at', 'embedding'])
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', [...ids])
    .execute();
}

export async function memoriesByIds(db: Executor, workspaceId: string, ids: readonly string[]): Promise<MemoryRow[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('memories as m')
    .select(COLUMNS)
    .select(HAS_EMBEDDING)
    .where('m.workspace_id', '=', workspaceId)
    .where('m.id', 'in', [...ids])
    .execute();
  return rows.map((raw) => toMemoryRow(raw as RawMemory));
}

/** A memory with the same content already kept for this agent and user (the memory tool repeats itself). */
export async function findSameMemory(db: Executor, scope: RecallScope & { userId: number }, content: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('memories as m')
    .select('m.id')
    .where('m.workspace_id', '=', scope.workspaceId)
    .where((eb) => (scope.agentId === null ? eb('m.agent_id', 'is', null) : eb('m.agent_id', '=', scope.agentId)))
    .where('m.user_id', '=', scope.userId)
    .where('m.content', '=', content)
    .executeTakeFirst();
  return row?.id;
}

/** Memories per workspace the user sees (workspace metrics). */
export async function countVisibleMemoriesByWorkspace(db: Executor, userId: number, workspaceIds: readonly string[]): Promise<Map<string, number>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('memories as m')
    .innerJoin('workspace_members as wm', (join) => join.onRef('wm.workspace_id', '=', 'm.workspace_id').on('wm.user_id', '=', userId))
    .leftJoin('agents as a', 'a.id', 'm.agent_id')
    .select(['m.workspace_id', (eb) => eb.fn.countAll<number>().as('count')])
    .where('m.workspace_id', 'in', [...workspaceIds])
    .where((eb) =>
      eb.or([
        eb('m.user_id', '=', userId),
        eb.and([
          eb('m.user_id', 'is', null),
          eb.or([
            eb('wm.role', 'in', ['admin', 'owner']),
            eb('m.agent_id', 'is', null),
            eb('a.user_id', '=', userId),
            eb('a.visibility', 'in', ['workspace', 'public']),
            sql<SqlBool>`exists (select 1 from shares s where s.resource_type = 'agent' and s.resource_id = m.agent_id and (
              (s.grantee_type = 'user' and s.grantee_user_id = ${userId})
              or (s.grantee_type = 'workspace' and s.grantee_workspace_id = m.workspace_id)
              or s.grantee_type = 'public'))`,
          ]),
        ]),
      ]),
    )
    .groupBy('m.workspace_id')
    .execute();
  return new Map(rows.map((r) => [r.workspace_id, Number(r.count)]));
}

// Every agent run reads it (is there an embedding model?): prepared once.
const aiSettingsOf = preparedQuery((db, p: { workspaceId: string }) =>
  db.selectFrom('workspace_ai_settings').selectAll().where('workspace_id', '=', p.workspaceId),
);

export async function findAiSettings(db: Executor, workspaceId: string): Promise<WorkspaceAiSettingsRow | undefined> {
  const [row] = await aiSettingsOf(db, { workspaceId });
  return row;
}

export async function saveAiSettings(db: Executor, values: Insertable<WorkspaceAiSettingsTable>): Promise<WorkspaceAiSettingsRow> {
  return db
    .insertInto('workspace_ai_settings')
    .values(values)
    .onConflict((oc) =>
      oc.column('workspace_id').doUpdateSet({
        embedding_account_id: values.embedding_account_id ?? null,
        embedding_model: values.embedding_model ?? null,
        updated_at: values.updated_at,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * The workspace's embedding account, whoever owns it: an admin chose it for the whole
 * workspace, so every member's memories are embedded with it.
 */
export function findWorkspaceAccount(db: Executor, workspaceId: string, id: string): Promise<AccountRow | undefined> {
  return db.selectFrom('connected_accounts').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
}

/** Agents a memory may name when created through the API: visible in the workspace, or public. */
export async function findAgentForMemory(db: Executor, viewer: MemoryViewer, id: string): Promise<{ id: string; workspace_id: string; user_id: number | null } | undefined> {
  return db
    .selectFrom('agents as a')
    .select(['a.id', 'a.workspace_id', 'a.user_id'])
    .where('a.id', '=', id)
    .where((eb) =>
      eb.or([
        eb.and([
          eb('a.workspace_id', '=', viewer.workspaceId),
          viewer.isAdmin ? eb.lit(true) : eb.or([eb('a.user_id', '=', viewer.userId), eb('a.visibility', '!=', 'private')]),
        ]),
        eb('a.visibility', '=', 'public'),
      ]),
    )
    .executeTakeFirst();
}

/** Threads a memory may name: the viewer's own or workspace-visible threads of the workspace. */
export function findThreadForMemory(db: Executor, viewer: MemoryViewer, id: string): Promise<{ id: string; agent_id: string | null } | undefined> {
  return db
    .selectFrom('threads as t')
    .select(['t.id', 't.agent_id'])
    .where('t.workspace_id', '=', viewer.workspaceId)
    .where('t.id', '=', id)
    .where((eb) => eb.or([eb('t.user_id', '=', viewer.userId), eb('t.visibility', '=', 'workspace')]))
    .executeTakeFirst();
}

/** The agent a memory belongs to, for the "who may change it" rule. */
export function findAgentOwner(db: Executor, agentId: string): Promise<{ user_id: number | null } | undefined> {
  return db.selectFrom('agents').select('user_id').where('id', '=', agentId).executeTakeFirst();
}
