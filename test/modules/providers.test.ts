import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const OFFICIAL_SLUGS = [
  'anthropic',
  'deepseek',
  'google-gemini',
  'groq',
  'http',
  'mcp',
  'mistral',
  'ollama',
  'openai',
  'openai-compatible',
  'openrouter',
];

const SEED_PROVIDER_KEYS = [
  'uuid',
  'slug',
  'name',
  'description',
  'website',
  'profile_photo_url',
  'profile_photo_config',
  'authentication_strategy',
  'authentication_config',
  'is_enabled',
  'type',
  'is_owner',
  'visibility',
  'created_at',
  'updated_at',
  'metadata',
  'user',
  'tools_count',
];

function oauthProviderBody(overrides: Record<string, unknown> = {}) {
  return {
    name: 'Acme CRM',
    type: 'tool',
    authentication_strategy: 'oauth2',
    authentication_config: {
      oauth2: {
        client_id: 'acme-client',
        client_secret: 'acme-client-secret-CANARY-1',
        authorize_url: 'https://auth.acme.test/authorize',
        token_url: 'https://auth.acme.test/token',
        user_url: 'https://api.acme.test/me',
        scopes: ['read', 'write'],
        scope_separator: 'space',
      },
    },
    metadata: { tool_groups: [{ label: 'Contacts', tools: ['0198a000-0000-7000-8000-000000000001', '0198a000-0000-7000-8000-000000000002'] }] },
    ...overrides,
  };
}

describe.each(DIALECTS)('providers on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let stranger: SignedUp;

  beforeAll(async () => {
    t = await createTestApp(dialect);
    owner = await t.signUp();
    stranger = await t.signUp();
  });
  afterAll(() => t.close());

  describe('official catalog', () => {
    it('lists the official providers, read-only, in the seed Provider shape', async () => {
      const response = await t.request({ url: '/api/v1/providers?per_page=100', token: owner.token });

      expect(response.status).toBe(200);
      const slugs = response.body.data.map((p: any) => p.slug).sort();
      expect(slugs).toEqual(OFFICIAL_SLUGS);
      const openai = response.body.data.find((p: any) => p.slug === 'openai');
      expect(Object.keys(openai)).toEqual(SEED_PROVIDER_KEYS);
      expect(openai).toMatchObject({
        name: 'OpenAI',
        authentication_strategy: 'token',
        authentication_config: { token: { key: 'Authorization', type: 'bearer' } },
        is_enabled: true,
        type: 'large_language_model',
        is_owner: false,
        visibility: 'public',
        metadata: { tool_groups: [], is_official: true, is_featured: true, api: 'openai' },
        user: null,
        tools_count: 0,
        profile_photo_config: { emoji: '🤖', preference: 'emoji' },
      });
      expect(response.body.meta).toMatchObject({ total: 11, per_page: 100, current_page: 1 });
    });

    it('filters by type and search, and pages', async () => {
      const tools = await t.request({ url: '/api/v1/providers?type=tool', token: owner.token });
      expect(tools.body.data.map((p: any) => p.slug)).toEqual(['http']);

      const mcp = await t.request({ url: '/api/v1/providers?filter[type]=mcp_server', token: owner.token });
      expect(mcp.body.data.map((p: any) => p.slug)).toEqual(['mcp']);

      const search = await t.request({ url: '/api/v1/providers?search=compatible', token: owner.token });
      expect(search.body.data.map((p: any) => p.slug)).toContain('openai-compatible');

      const page = await t.request({ url: '/api/v1/providers?per_page=5&page=2&type=large_language_model', token: owner.token });
      expect(page.body.data).toHaveLength(4);
      expect(page.body.meta).toMatchObject({ current_page: 2, last_page: 2, total: 9, from: 6, to: 9 });

      const first = await t.request({ url: '/api/v1/providers?cursor=&per_page=6&sort=name', token: owner.token });
      const second = await t.request({ url: `/api/v1/providers?cursor=${first.body.meta.next_cursor}&per_page=6&sort=name`, token: owner.token });
      const names = [...first.body.data, ...second.body.data].map((p: any) => p.name);
      expect(names).toHaveLength(11);
      expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

      const bad = await t.request({ url: '/api/v1/providers?type=spaceship', token: owner.token });
      expect(bad.status).toBe(422);
      expect(bad.body.errors).toHaveProperty('type');
    });

    it('refuses to change or delete an official provider (403)', async () => {
      const list = await t.request({ url: '/api/v1/providers?search=anthropic', token: owner.token });
      const anthropic = list.body.data[0];

      const put = await t.request({ method: 'PUT', url: `/api/v1/providers/${anthropic.uuid}`, token: owner.token, body: { name: 'Mine' } });
      const del = await t.request({ method: 'DELETE', url: `/api/v1/providers/${anthropic.uuid}`, token: owner.token });

      expect(put.status).toBe(403);
      expect(del.status).toBe(403);
      const row = await t.ctx.db.kysely.selectFrom('providers').select('name').where('id', '=', anthropic.uuid).executeTakeFirstOrThrow();
      expect(row.name).toBe('Anthropic');
    });

    it('needs authentication', async () => {
      const response = await t.request({ url: '/api/v1/providers' });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ message: 'Unauthenticated.' });
    });
  });

  describe('custom providers', () => {
    it('creates one with its client secret encrypted and never shown', async () => {
      const response = await t.request({ method: 'POST', url: '/api/v1/providers', token: owner.token, body: oauthProviderBody() });

      expect(response.status).toBe(201);
      const provider = response.body.data;
      expect(Object.keys(provider)).toEqual(SEED_PROVIDER_KEYS);
      expect(provider).toMatchObject({
        slug: 'acme-crm',
        is_owner: true,
        visibility: 'workspace',
        tools_count: 2,
        metadata: { is_official: false, is_featured: false },
        user: { id: owner.user.id, email: owner.email, primary_workspace: { user: {} } },
      });
      expect(provider.authentication_config.oauth2.client_secret).toBe('********');
      expect(response.text).not.toContain('CANARY');

      const row = await t.ctx.db.kysely.selectFrom('providers').selectAll().where('id', '=', provider.uuid).executeTakeFirstOrThrow();
      expect(row.client_secret_encrypted).toMatch(/^ath1:[0-9a-f-]{36}:/);
      expect(row.client_secret_encrypted).not.toContain('CANARY');
      expect(JSON.stringify(row.authentication_config)).not.toContain('CANARY');
      expect(JSON.stringify(t.logs)).not.toContain('CANARY');
    });

    it('keeps the stored client secret when "********" is sent back, replaces it when a new one is', async () => {
      const created = await t.request({ method: 'POST', url: '/api/v1/providers', token: owner.token, body: oauthProviderBody({ name: 'Keep Secret' }) });
      const id = created.body.data.uuid;
      const before = await t.ctx.db.kysely.selectFrom('providers').select('client_secret_encrypted').where('id', '=', id).executeTakeFirstOrThrow();

      const same = await t.request({
        method: 'PUT',
        url: `/api/v1/providers/${id}`,
        token: owner.token,
        body: { authentication_config: created.body.data.authentication_config, description: 'now described' },
      });
      expect(same.status).toBe(200);
      expect(same.body.data.description).toBe('now described');
      const kept = await t.ctx.db.kysely.selectFrom('providers').select('client_secret_encrypted').where('id', '=', id).executeTakeFirstOrThrow();
      expect(kept.client_secret_encrypted).toBe(before.client_secret_encrypted);

      const changed = await t.request({
        method: 'PUT',
        url: `/api/v1/providers/${id}`,
        token: owner.token,
        body: { authentication_config: { oauth2: { ...created.body.data.authentication_config.oauth2, client_secret: 'new-secret-CANARY-2' } } },
      });
      expect(changed.status).toBe(200);
      expect(changed.text).not.toContain('CANARY');
      const after = await t.ctx.db.kysely.selectFrom('providers').select('client_secret_encrypted').where('id', '=', id).executeTakeFirstOrThrow();
      expect(after.client_secret_encrypted).not.toBe(before.client_secret_encrypted);
    });

    it('validates the oauth2 configuration, naming the field', async () => {
      const response = await t.request({
        method: 'POST',
        url: '/api/v1/providers',
        token: owner.token,
        body: oauthProviderBody({ name: 'Broken', authentication_config: { oauth2: { client_id: 'x', authorize_url: 'not a url' } } }),
      });
      expect(response.status).toBe(422);
      expect(Object.keys(response.body.errors).sort()).toEqual([
        'authentication_config.oauth2.authorize_url',
        'authentication_config.oauth2.token_url',
      ]);
    });

    it('refuses a slug already taken by an official provider or the workspace', async () => {
      const official = await t.request({
        method: 'POST',
        url: '/api/v1/providers',
        token: owner.token,
        body: { name: 'Fake OpenAI', slug: 'openai', type: 'large_language_model', authentication_strategy: 'token' },
      });
      expect(official.status).toBe(422);
      expect(official.body.errors.slug).toEqual(['The slug has already been taken.']);
    });

    it('lists custom ones beside the official catalog and filters them', async () => {
      await t.request({
        method: 'POST',
        url: '/api/v1/providers',
        token: owner.token,
        body: { name: 'Team vLLM', type: 'large_language_model', authentication_strategy: 'token', metadata: { default_base_url: 'http://10.0.0.5:8000/v1' } },
      });
      const response = await t.request({ url: '/api/v1/providers?filter[is_official]=false&per_page=50', token: owner.token });
      expect(response.status).toBe(200);
      const vllm = response.body.data.find((p: any) => p.slug === 'team-vllm');
      expect(vllm.metadata).toMatchObject({ api: 'openai', default_base_url: 'http://10.0.0.5:8000/v1', base_url_required: false });
      expect(response.body.data.every((p: any) => p.metadata.is_official === false)).toBe(true);
    });

    it('hides another workspace’s providers (404) and keeps them out of its lists', async () => {
      const created = await t.request({ method: 'POST', url: '/api/v1/providers', token: owner.token, body: oauthProviderBody({ name: 'Private Tool' }) });
      const id = created.body.data.uuid;

      const get = await t.request({ url: `/api/v1/providers/${id}`, token: stranger.token });
      const put = await t.request({ method: 'PUT', url: `/api/v1/providers/${id}`, token: stranger.token, body: { name: 'x' } });
      const del = await t.request({ method: 'DELETE', url: `/api/v1/providers/${id}`, token: stranger.token });
      const list = await t.request({ url: '/api/v1/providers?per_page=100', token: stranger.token });

      expect([get.status, put.status, del.status]).toEqual([404, 404, 404]);
      expect(get.body).toEqual({ message: 'Resource not found.' });
      expect(list.body.data.map((p: any) => p.uuid)).not.toContain(id);
      expect(list.body.meta.total).toBe(11);
    });

    it('shows a public custom provider to every user, but only its workspace changes it', async () => {
      const created = await t.request({
        method: 'POST',
        url: '/api/v1/providers',
        token: owner.token,
        body: oauthProviderBody({ name: 'Shared Catalog Tool', visibility: 'public' }),
      });
      const id = created.body.data.uuid;

      const get = await t.request({ url: `/api/v1/providers/${id}`, token: stranger.token });
      const put = await t.request({ method: 'PUT', url: `/api/v1/providers/${id}`, token: stranger.token, body: { name: 'Taken over' } });
      const del = await t.request({ method: 'DELETE', url: `/api/v1/providers/${id}`, token: stranger.token });

      expect(get.status).toBe(200);
      expect(get.body.data).toMatchObject({ is_owner: false, visibility: 'public', authentication_config: { oauth2: { client_secret: '********' } } });
      expect(get.text).not.toContain('CANARY');
      expect([put.status, del.status]).toEqual([403, 403]);
    });

    it('keeps a private custom provider to its creator', async () => {
      const colleague = await t.signUp();
      const workspace = owner.user.primary_workspace.uuid;
      await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspace}/members`, token: owner.token, body: { email: colleague.email, role: 'admin' } });
      const created = await t.request({
        method: 'POST',
        url: '/api/v1/providers',
        token: owner.token,
        body: oauthProviderBody({ name: 'Only Mine', visibility: 'private' }),
      });

      const get = await t.request({ url: `/api/v1/providers/${created.body.data.uuid}`, token: colleague.token, headers: { 'x-workspace-id': workspace } });

      expect(get.status).toBe(404);
    });

    it('lets a viewer read but not create providers', async () => {
      const viewer = await t.signUp();
      const workspace = owner.user.primary_workspace.uuid;
      await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspace}/members`, token: owner.token, body: { email: viewer.email, role: 'viewer' } });
      const headers = { 'x-workspace-id': workspace };

      const list = await t.request({ url: '/api/v1/providers?filter[is_official]=false', token: viewer.token, headers });
      const create = await t.request({ method: 'POST', url: '/api/v1/providers', token: viewer.token, headers, body: oauthProviderBody({ name: 'Viewer made' }) });

      expect(list.status).toBe(200);
      expect(list.body.data.length).toBeGreaterThan(0);
      expect(list.body.data.every((p: any) => p.is_owner === false)).toBe(true);
      expect(create.status).toBe(403);
    });

    it('deletes a custom provider', async () => {
      const created = await t.request({ method: 'POST', url: '/api/v1/providers', token: owner.token, body: oauthProviderBody({ name: 'Short Lived' }) });
      const id = created.body.data.uuid;

      const del = await t.request({ method: 'DELETE', url: `/api/v1/providers/${id}`, token: owner.token });
      const get = await t.request({ url: `/api/v1/providers/${id}`, token: owner.token });

      expect(del.status).toBe(204);
      expect(get.status).toBe(404);
    });

    it('counts custom providers in the workspace metrics', async () => {
      const response = await t.request({ url: '/api/v1/workspaces/metrics', token: owner.token });
      expect(response.status).toBe(200);
      expect(response.body.totals.providers).toBeGreaterThan(0);
      expect(response.body.totals).toHaveProperty('accounts');
    });
  });
});
