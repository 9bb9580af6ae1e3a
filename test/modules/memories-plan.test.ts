import { CompiledQuery, sql, type Compilable } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, now } from '../../src/db/values.js';
import { embeddedCandidatesQuery, rankByTextQuery } from '../../src/modules/memories/memories.repository.js';
import { searchTermsOf } from '../../src/modules/memories/memories.search.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const ROWS = 40_000;

/**
 * Retrieval runs before every agent turn, so it must not read the whole table as it grows. On
 * PostgreSQL the workspace holds 40,000 memories (the planner rightly scans a small table) and
 * the ranked query must start from the agent index or the GIN index; on SQLite it must go
 * through the FTS5 table and reach memories by rowid.
 */
for (const dialect of DIALECTS) {
  describe(`memory retrieval plans (${dialect})`, () => {
    let t: TestApp;
    let workspaceId: string;
    let userId: number;
    const agentId = newId();

    beforeAll(async () => {
      t = await createTestApp(dialect);
      const user = await t.signUp();
      workspaceId = user.user.primary_workspace.uuid;
      userId = user.user.id;
      const db = t.ctx.db.kysely;
      const at = now();
      await db
        .insertInto('agents')
        .values({
          id: agentId,
          workspace_id: workspaceId,
          user_id: userId,
          name: 'Planner',
          description: null,
          instructions: 'x',
          llm_id: null,
          account_id: null,
          tools: '[]',
          memory: '{}',
          settings: '{}',
          profile_photo_url: null,
          profile_photo_config: '{}',
          visibility: 'workspace',
          metadata: '{}',
          created_at: at,
          updated_at: at,
        })
        .execute();
      if (dialect !== 'postgres') return;
      // One memory in forty is the agent's; the rest belong to no agent.
      await sql`insert into memories (id, workspace_id, agent_id, user_id, type, source, content, metadata, created_at, updated_at)
        select gen_random_uuid(), ${workspaceId}, case when n % 40 = 0 then ${agentId}::uuid end, null, 'fact', 'training',
          'Memory ' || n || ' about shipment batch ' || (n % 700) || ' and invoice ' || (n % 90), '{}', now(), now()
        from generate_series(1, ${ROWS}) as n`.execute(db);
      await sql`analyze memories`.execute(db);
    }, 60_000);
    afterAll(() => t.close());

    async function plan(query: Compilable<unknown>): Promise<string> {
      const compiled = query.compile();
      const prefix = dialect === 'postgres' ? 'explain ' : 'explain query plan ';
      const result = await t.ctx.db.kysely.executeQuery<Record<string, unknown>>(CompiledQuery.raw(prefix + compiled.sql, [...compiled.parameters]));
      return result.rows.map((row) => String(row['QUERY PLAN'] ?? row.detail)).join('\n');
    }

    it('ranks full-text matches from an index', async () => {
      const scope = { workspaceId, agentId, userId };
      const text = await plan(rankByTextQuery(t.ctx.db.kysely, dialect, scope, searchTermsOf('Where is my shipment and the invoice?'), 5));
      if (dialect === 'postgres') {
        expect(text).toMatch(/Index Scan using memories_agent_index|Bitmap Index Scan on memories_(agent|search)_index/);
        expect(text).not.toMatch(/Seq Scan on memories/);
      } else {
        expect(text).toMatch(/SCAN memories_fts VIRTUAL TABLE INDEX/);
        expect(text).toMatch(/SEARCH m USING INTEGER PRIMARY KEY/);
      }
    });

    it('reads embedded candidates through the agent index, newest first', async () => {
      const text = await plan(embeddedCandidatesQuery(t.ctx.db.kysely, { workspaceId, agentId, userId }, 'text-embedding-3-small', 2000));
      expect(text).toMatch(dialect === 'postgres' ? /(Index Scan Backward using|Bitmap Index Scan on) memories_agent_index/ : /SEARCH m USING INDEX memories_agent_index/);
      expect(text).not.toMatch(/Seq Scan on memories/);
    });
  });
}
