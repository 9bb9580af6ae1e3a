import { CompiledQuery, sql, type Compilable } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountSearch } from '../../src/modules/customer-accounts/customer-accounts.repository.js';
import { nameOrEmailContains } from '../../src/modules/customer-accounts/contacts.repository.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const ROWS = 60_000;

/**
 * `search` must not scan the table as it grows: the condition the repositories build has to be
 * one the trigram index answers. On PostgreSQL the workspace is filled with 60,000 accounts and
 * contacts (the planner rightly scans a small table) and the plan of the real query must use
 * the trigram index, which it can only when the condition's expression is the index's. On
 * SQLite the condition goes through the FTS5 table.
 */
for (const dialect of DIALECTS) {
  describe(`search query plans (${dialect})`, () => {
    let t: TestApp;
    let workspaceId: string;

    beforeAll(async () => {
      t = await createTestApp(dialect);
      workspaceId = (await t.signUp()).user.primary_workspace.uuid;
      if (dialect !== 'postgres') return;
      const db = t.ctx.db.kysely;
      await sql`insert into customer_accounts (id, workspace_id, name, primary_domain, custom_field_values, metadata, created_at, updated_at)
        select gen_random_uuid(), ${workspaceId}, 'Customer ' || n, 'customer-' || n || '.example.com', '[]', '{}', now(), now()
        from generate_series(1, ${ROWS}) as n`.execute(db);
      await sql`insert into customer_contacts (id, workspace_id, first_name, email, custom_field_values, metadata, created_at, updated_at)
        select gen_random_uuid(), ${workspaceId}, 'Person ' || n, 'person-' || n || '@example.com', '[]', '{}', now(), now()
        from generate_series(1, ${ROWS}) as n`.execute(db);
      await sql`analyze customer_accounts`.execute(db);
      await sql`analyze customer_contacts`.execute(db);
    }, 60_000);
    afterAll(() => t.close());

    async function plan(query: Compilable<unknown>): Promise<string> {
      const compiled = query.compile();
      const prefix = dialect === 'postgres' ? 'explain ' : 'explain query plan ';
      const result = await t.ctx.db.kysely.executeQuery<Record<string, unknown>>(CompiledQuery.raw(prefix + compiled.sql, [...compiled.parameters]));
      return result.rows.map((row) => String(row['QUERY PLAN'] ?? row.detail)).join('\n');
    }

    it('answers account search from the trigram index', async () => {
      const query = t.ctx.db.kysely
        .selectFrom('customer_accounts as a')
        .select('a.id')
        .where('a.workspace_id', '=', workspaceId)
        .where('a.deleted_at', 'is', null)
        .where(accountSearch(dialect, 'umbrella'))
        .orderBy('a.id', 'desc')
        .limit(20);
      const text = await plan(query);
      expect(text).toMatch(dialect === 'postgres' ? /Bitmap Index Scan on customer_accounts_search_index/ : /customer_accounts_fts VIRTUAL TABLE INDEX/);
    });

    it('answers contact search from the trigram index', async () => {
      const query = t.ctx.db.kysely
        .selectFrom('customer_contacts as c')
        .select('c.id')
        .where('c.workspace_id', '=', workspaceId)
        .where('c.deleted_at', 'is', null)
        .where(nameOrEmailContains(dialect, 'hamilton'))
        .orderBy('c.id', 'desc')
        .limit(100);
      const text = await plan(query);
      expect(text).toMatch(dialect === 'postgres' ? /Bitmap Index Scan on customer_contacts_search_index/ : /customer_contacts_fts VIRTUAL TABLE INDEX/);
    });
  });
}
