import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic } from '../fakes/anthropic-server.js';
import { sendJson, startFakeServer, type FakeServer } from '../fakes/http-fake.js';
import { startFakeOllama } from '../fakes/ollama-server.js';
import { startFakeOpenAi } from '../fakes/openai-server.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const SEED_ACCOUNT_KEYS = [
  'uuid',
  'provider_display_name',
  'created_at',
  'updated_at',
  'provider_account_id',
  'provider_authentication_strategy',
  'provider',
  'workspace',
  'user',
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
const SEED_WORKSPACE_KEYS = [
  'uuid',
  'slug',
  'name',
  'profile_photo_url',
  'multiplai_id',
  'is_onboarded',
  'metadata',
  'is_owner',
  'created_at',
  'updated_at',
  'user',
];
const SEED_USER_KEYS = [
  'id',
  'name',
  'first_name',
  'last_name',
  'email',
  'profile_photo_url',
  'multiplai_id',
  'created_at',
  'updated_at',
  'primary_workspace',
];

const OPENAI_KEY = 'sk-vllm-secret-0001';
const ANTHROPIC_KEY = 'sk-ant-secret-0002';

async function providerId(t: TestApp, token: string, slug: string): Promise<string> {
  const response = await t.request({ url: `/api/v1/providers?search=${slug}&per_page=50`, token });
  return response.body.data.find((p: any) => p.slug === slug).uuid;
}

describe.each(DIALECTS)('connected accounts on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let member: SignedUp;
  let stranger: SignedUp;
  let openai: FakeServer;
  let anthropic: FakeServer;
  let compatibleId: string;
  const workspaceHeader = () => ({ 'x-workspace-id': owner.user.primary_workspace.uuid });

  const createCompatible = async (overrides: Record<string, unknown> = {}) => {
    const response = await t.request({
      method: 'POST',
      url: '/api/v1/accounts',
      token: owner.token,
      body: {
        provider_uuid: compatibleId,
        provider_display_name: 'Team vLLM',
        token: OPENAI_KEY,
        base_url: `${openai.url}/v1`,
        ...overrides,
      },
    });
    if (response.status !== 201) throw new Error(`create failed: ${response.status} ${response.text}`);
    metaOf.set(response.body.data.uuid, response.body.meta);
    return response.body.data;
  };
  const metaOf = new Map<string, any>();

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: OPENAI_KEY, echoKey: true });
    anthropic = await startFakeAnthropic({ apiKey: ANTHROPIC_KEY, organizationId: 'org-anthropic-7' });
    t = await createTestApp(dialect, { ATHENA_OUTBOUND_TIMEOUT: '1' });
    owner = await t.signUp();
    member = await t.signUp();
    stranger = await t.signUp();
    await t.request({
      method: 'POST',
      url: `/api/v1/workspaces/${owner.user.primary_workspace.uuid}/members`,
      token: owner.token,
      body: { email: member.email, role: 'member' },
    });
    compatibleId = await providerId(t, owner.token, 'openai-compatible');
  });
  afterAll(async () => {
    await t.close();
    await openai.close();
    await anthropic.close();
  });

  describe('create', () => {
    it('stores the token encrypted and answers the seed Account shape with it masked', async () => {
      const account = await createCompatible();

      expect(Object.keys(account)).toEqual(SEED_ACCOUNT_KEYS);
      expect(account).toMatchObject({
        provider_display_name: 'Team vLLM',
        provider_account_id: null,
        provider_authentication_strategy: 'token',
        provider: { uuid: compatibleId, slug: 'openai-compatible', user: null },
        workspace: { uuid: owner.user.primary_workspace.uuid, is_owner: true, user: { id: owner.user.id, primary_workspace: {} } },
        user: { id: owner.user.id, primary_workspace: { uuid: owner.user.primary_workspace.uuid, user: {} } },
      });
      expect(metaOf.get(account.uuid)).toEqual({
        scope: 'private',
        base_url: `${openai.url}/v1`,
        username: null,
        token: '********',
        password: null,
        is_verified: false,
        verification_status: 'unverified',
        verification_error: null,
        verified_at: null,
        expires_at: null,
      });

      const row = await t.ctx.db.kysely.selectFrom('connected_accounts').selectAll().where('id', '=', account.uuid).executeTakeFirstOrThrow();
      expect(row.token_encrypted).toMatch(/^ath1:[0-9a-f-]{36}:[A-Za-z0-9_-]+$/);
      expect(row.token_encrypted).not.toContain(OPENAI_KEY);
      const key = await t.ctx.db.kysely.selectFrom('workspace_keys').selectAll().where('workspace_id', '=', owner.user.primary_workspace.uuid).executeTakeFirstOrThrow();
      expect(row.token_encrypted!.split(':')[1]).toBe(key.id);
      expect(key.wrapped_key).not.toContain(t.ctx.masterKey.toString('hex'));
      expect(JSON.stringify(t.logs)).not.toContain(OPENAI_KEY);
    });

    it('requires what the provider’s strategy needs, naming the field', async () => {
      const noToken = await t.request({
        method: 'POST',
        url: '/api/v1/accounts',
        token: owner.token,
        body: { provider_uuid: compatibleId, provider_display_name: 'x', base_url: `${openai.url}/v1` },
      });
      expect(noToken.status).toBe(422);
      expect(noToken.body.errors).toEqual({ token: ['The token field is required when provider authentication strategy is token.'] });

      const wrongStrategy = await t.request({
        method: 'POST',
        url: '/api/v1/accounts',
        token: owner.token,
        body: { provider_uuid: compatibleId, provider_display_name: 'x', provider_authentication_strategy: 'basic', token: 't', base_url: `${openai.url}/v1` },
      });
      expect(wrongStrategy.status).toBe(422);
      expect(Object.keys(wrongStrategy.body.errors)).toEqual(['provider_authentication_strategy']);

      const noBaseUrl = await t.request({
        method: 'POST',
        url: '/api/v1/accounts',
        token: owner.token,
        body: { provider_uuid: compatibleId, provider_display_name: 'x', token: 't' },
      });
      expect(noBaseUrl.status).toBe(422);
      expect(Object.keys(noBaseUrl.body.errors)).toEqual(['base_url']);

      const unknownProvider = await t.request({
        method: 'POST',
        url: '/api/v1/accounts',
        token: owner.token,
        body: { provider_uuid: '0198ffff-0000-7000-8000-000000000000', provider_display_name: 'x', token: 't' },
      });
      expect(unknownProvider.status).toBe(422);
      expect(Object.keys(unknownProvider.body.errors)).toEqual(['provider_uuid']);
    });

    it('lets Ollama accounts go without a token or base URL', async () => {
      const ollama = await providerId(t, owner.token, 'ollama');
      const response = await t.request({
        method: 'POST',
        url: '/api/v1/accounts',
        token: owner.token,
        body: { provider_uuid: ollama, provider_display_name: 'My Ollama' },
      });
      expect(response.status).toBe(201);
      expect(response.body.data.provider_authentication_strategy).toBe('none');
      expect(response.body.meta).toMatchObject({ token: null, base_url: null });
    });
  });

  describe('update (seed 004 body)', () => {
    it('takes the seed request body and answers the seed response keys', async () => {
      const account = await createCompatible();
      const response = await t.request({
        method: 'PUT',
        url: `/api/v1/accounts/${account.uuid}`,
        token: owner.token,
        body: {
          provider_display_name: 'My OpenAI Account',
          provider_authentication_strategy: 'token',
          token: 'sk-vllm-rotated-0003',
          username: 'string',
          password: 'string-password',
          scope: 'public',
        },
      });

      expect(response.status).toBe(200);
      expect(Object.keys(response.body)).toEqual(['data']);
      const data = response.body.data;
      expect(Object.keys(data)).toEqual(SEED_ACCOUNT_KEYS);
      // Nested key for key too, one level deep and then `{}` (seed 004).
      expect(Object.keys(data.provider)).toEqual(SEED_PROVIDER_KEYS);
      expect(Object.keys(data.workspace)).toEqual(SEED_WORKSPACE_KEYS);
      expect(Object.keys(data.workspace.user)).toEqual(SEED_USER_KEYS);
      expect(data.workspace.user.primary_workspace).toEqual({});
      expect(Object.keys(data.user)).toEqual(SEED_USER_KEYS);
      expect(Object.keys(data.user.primary_workspace)).toEqual(SEED_WORKSPACE_KEYS);
      expect(data.user.primary_workspace.user).toEqual({});
      expect(data).toMatchObject({ provider_display_name: 'My OpenAI Account', provider_authentication_strategy: 'token' });
      const details = await t.request({ url: `/api/v1/accounts/${account.uuid}`, token: owner.token });
      expect(details.body.meta).toMatchObject({ scope: 'public', token: '********', password: '********', username: 'string' });
      expect(response.text).not.toContain('sk-vllm-rotated-0003');
      expect(response.text).not.toContain('string-password');
      const row = await t.ctx.db.kysely.selectFrom('connected_accounts').selectAll().where('id', '=', account.uuid).executeTakeFirstOrThrow();
      expect(row.password_encrypted).toMatch(/^ath1:/);
    });

    it('keeps the stored token when "********" is sent back', async () => {
      const account = await createCompatible();
      const before = await t.ctx.db.kysely.selectFrom('connected_accounts').select('token_encrypted').where('id', '=', account.uuid).executeTakeFirstOrThrow();

      const response = await t.request({
        method: 'PUT',
        url: `/api/v1/accounts/${account.uuid}`,
        token: owner.token,
        body: { provider_display_name: 'Renamed', token: '********' },
      });

      expect(response.status).toBe(200);
      expect(response.body.data.provider_display_name).toBe('Renamed');
      const after = await t.ctx.db.kysely.selectFrom('connected_accounts').select('token_encrypted').where('id', '=', account.uuid).executeTakeFirstOrThrow();
      expect(after.token_encrypted).toBe(before.token_encrypted);
      const verify = await t.request({ method: 'POST', url: `/api/v1/accounts/${account.uuid}/verify`, token: owner.token });
      expect(verify.status).toBe(200);
    });

    it('refuses to clear the token of a token account', async () => {
      const account = await createCompatible();
      const response = await t.request({ method: 'PUT', url: `/api/v1/accounts/${account.uuid}`, token: owner.token, body: { token: null } });
      expect(response.status).toBe(422);
      expect(Object.keys(response.body.errors)).toEqual(['token']);
    });
  });

  describe('verify', () => {
    it('calls the OpenAI-compatible server, fills provider_account_id and lists its models', async () => {
      const account = await createCompatible();
      const before = openai.requests.length;

      const response = await t.request({ method: 'POST', url: `/api/v1/accounts/${account.uuid}/verify`, token: owner.token });

      expect(response.status).toBe(200);
      expect(response.body.meta).toMatchObject({ is_verified: true, verification_status: 'verified', verification_error: null });
      expect(response.body.data.provider_account_id).toMatch(/^key_[0-9a-f]{16}$/);
      expect(Date.parse(response.body.meta.verified_at)).toBeGreaterThan(Date.now() - 10_000);
      const call = openai.requests[before]!;
      expect(call).toMatchObject({ method: 'GET', path: '/v1/models' });
      expect(call.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);

      const models = await t.request({ url: `/api/v1/large-language-models?filter[account]=${account.uuid}`, token: owner.token });
      expect(models.status).toBe(200);
      expect(models.body.data.map((m: any) => m.model_id).sort()).toEqual(['llama-3.1-8b-instruct', 'qwen2.5-coder-7b']);
      expect(models.body.data[0]).toMatchObject({ is_official: false, account_uuid: account.uuid, provider: { slug: 'openai-compatible' } });
    });

    it('verifies an Ollama account on loopback without credentials and lists its local models', async () => {
      const ollama = await startFakeOllama();
      try {
        const created = await t.request({
          method: 'POST',
          url: '/api/v1/accounts',
          token: owner.token,
          body: { provider_uuid: await providerId(t, owner.token, 'ollama'), provider_display_name: 'Laptop', base_url: ollama.url },
        });
        const response = await t.request({ method: 'POST', url: `/api/v1/accounts/${created.body.data.uuid}/verify`, token: owner.token });

        expect(response.status).toBe(200);
        expect(response.body.data.provider_account_id).toBe(new URL(ollama.url).host);
        expect(ollama.requests.at(-1)).toMatchObject({ method: 'GET', path: '/api/tags' });
        const models = await t.request({ url: `/api/v1/large-language-models?filter[account]=${created.body.data.uuid}`, token: owner.token });
        expect(models.body.data.map((m: any) => m.model_id).sort()).toEqual(['llama3.2:latest', 'qwen2.5-coder:7b']);
      } finally {
        await ollama.close();
      }
    });

    it('uses the organization the provider reports as provider_account_id', async () => {
      const withOrg = await startFakeOpenAi({ apiKey: OPENAI_KEY, organization: 'org-fake-42' });
      try {
        const account = await createCompatible({ base_url: `${withOrg.url}/v1` });
        const response = await t.request({ method: 'POST', url: `/api/v1/accounts/${account.uuid}/verify`, token: owner.token });
        expect(response.body.data.provider_account_id).toBe('org-fake-42');
      } finally {
        await withOrg.close();
      }
    });

    it('verifies an Anthropic account through a proxy base URL with x-api-key and anthropic-version', async () => {
      const anthropicId = await providerId(t, owner.token, 'anthropic');
      const created = await t.request({
        method: 'POST',
        url: '/api/v1/accounts',
        token: owner.token,
        body: { provider_uuid: anthropicId, provider_display_name: 'Claude', token: ANTHROPIC_KEY, base_url: `${anthropic.url}/v1` },
      });
      expect(created.status).toBe(201);

      const response = await t.request({ method: 'POST', url: `/api/v1/accounts/${created.body.data.uuid}/verify`, token: owner.token });

      expect(response.status).toBe(200);
      expect(response.body.data.provider_account_id).toBe('org-anthropic-7');
      const call = anthropic.requests.at(-1)!;
      expect(call.headers['x-api-key']).toBe(ANTHROPIC_KEY);
      expect(call.headers['anthropic-version']).toBe('2023-06-01');
    });

    it('answers 422 with the provider’s reason for a rejected key, keeps the account and marks it failed', async () => {
      const account = await createCompatible({ token: 'sk-wrong-key-9999' });

      const response = await t.request({ method: 'POST', url: `/api/v1/accounts/${account.uuid}/verify`, token: owner.token });

      expect(response.status).toBe(422);
      // The fake echoes the whole key, as some servers do: it is masked before it is stored or shown.
      expect(response.body.message).toBe('The provider rejected the credentials: Incorrect API key provided: ********.');
      expect(response.body.errors).toEqual({ token: ['Incorrect API key provided: ********.'] });
      expect(response.text).not.toContain('sk-wrong-key-9999');
      const row = await t.ctx.db.kysely.selectFrom('connected_accounts').selectAll().where('id', '=', account.uuid).executeTakeFirstOrThrow();
      expect(row.verification_status).toBe('failed');
      expect(row.verification_error).toBe('Incorrect API key provided: ********.');
      expect(row.verified_at).not.toBeNull();
      const get = await t.request({ url: `/api/v1/accounts/${account.uuid}`, token: owner.token });
      expect(get.body.meta).toMatchObject({ is_verified: false, verification_status: 'failed', verification_error: 'Incorrect API key provided: ********.' });
    });

    it('answers 502 for an unreachable provider, and 502 after the bounded timeout for a silent one', async () => {
      const closed = await startFakeOpenAi({ apiKey: OPENAI_KEY });
      const closedUrl = closed.url;
      await closed.close();
      const unreachable = await createCompatible({ base_url: `${closedUrl}/v1` });
      const refused = await t.request({ method: 'POST', url: `/api/v1/accounts/${unreachable.uuid}/verify`, token: owner.token });
      expect(refused.status).toBe(502);
      expect(refused.body.message).toMatch(/^The provider could not be reached: .*ECONNREFUSED/);

      const slow = await startFakeOpenAi({ apiKey: OPENAI_KEY, delayMs: 5_000 });
      try {
        const account = await createCompatible({ base_url: `${slow.url}/v1` });
        const started = Date.now();
        const response = await t.request({ method: 'POST', url: `/api/v1/accounts/${account.uuid}/verify`, token: owner.token });
        expect(response.status).toBe(502);
        expect(response.body.message).toContain('did not answer within 1 second.');
        expect(Date.now() - started).toBeLessThan(3_000);
        const row = await t.ctx.db.kysely.selectFrom('connected_accounts').selectAll().where('id', '=', account.uuid).executeTakeFirstOrThrow();
        expect(row.verification_status).toBe('unverified');
      } finally {
        await slow.close();
      }
    });
  });

  describe('tools behind the outbound guard', () => {
    it('refuses to verify an HTTP tool account that points at a loopback address', async () => {
      const http = await providerId(t, owner.token, 'http');
      const created = await t.request({
        method: 'POST',
        url: '/api/v1/accounts',
        token: owner.token,
        body: { provider_uuid: http, provider_display_name: 'Internal API', base_url: `${openai.url}/v1/models` },
      });
      expect(created.status).toBe(201);
      const before = openai.requests.length;

      const response = await t.request({ method: 'POST', url: `/api/v1/accounts/${created.body.data.uuid}/verify`, token: owner.token });

      expect(response.status).toBe(422);
      expect(response.body.errors.base_url[0]).toMatch(/^Outbound calls to 127\.0\.0\.1 \(127\.0\.0\.1\) are not allowed/);
      expect(openai.requests.length).toBe(before);
    });

    it('verifies a custom token tool where ATHENA_OUTBOUND_ALLOW opens its host', async () => {
      const open = await createTestApp(dialect, { ATHENA_OUTBOUND_ALLOW: '127.0.0.1' });
      try {
        const user = await open.signUp();
        const provider = await open.request({
          method: 'POST',
          url: '/api/v1/providers',
          token: user.token,
          body: {
            name: 'Model Gateway Tool',
            type: 'tool',
            authentication_strategy: 'token',
            authentication_config: { token: { url: '{base_url}/models', key: 'Authorization', type: 'bearer' } },
          },
        });
        const account = await open.request({
          method: 'POST',
          url: '/api/v1/accounts',
          token: user.token,
          body: { provider_uuid: provider.body.data.uuid, provider_display_name: 'gw', token: OPENAI_KEY, base_url: `${openai.url}/v1` },
        });
        const response = await open.request({ method: 'POST', url: `/api/v1/accounts/${account.body.data.uuid}/verify`, token: user.token });
        expect(response.status).toBe(200);
        expect(response.body.meta.verification_status).toBe('verified');
        expect(openai.requests.at(-1)!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
      } finally {
        await open.close();
      }
    });

    it('refuses accounts for a disabled provider', async () => {
      const provider = await t.request({
        method: 'POST',
        url: '/api/v1/providers',
        token: owner.token,
        body: { name: 'Switched Off', type: 'tool', authentication_strategy: 'none', is_enabled: false },
      });
      const response = await t.request({
        method: 'POST',
        url: '/api/v1/accounts',
        token: owner.token,
        body: { provider_uuid: provider.body.data.uuid, provider_display_name: 'off' },
      });
      expect(response.status).toBe(422);
      expect(response.body.errors).toEqual({ provider_uuid: ['The selected provider is disabled.'] });
    });
  });

  describe('scope and isolation', () => {
    it('lets members use a public account (list, read masked, verify) but not change or delete it', async () => {
      const account = await createCompatible({ scope: 'public', provider_display_name: 'Shared vLLM' });
      const headers = workspaceHeader();

      const list = await t.request({ url: '/api/v1/accounts?per_page=100', token: member.token, headers });
      const get = await t.request({ url: `/api/v1/accounts/${account.uuid}`, token: member.token, headers });
      const verify = await t.request({ method: 'POST', url: `/api/v1/accounts/${account.uuid}/verify`, token: member.token, headers });
      const put = await t.request({ method: 'PUT', url: `/api/v1/accounts/${account.uuid}`, token: member.token, headers, body: { token: 'sk-member-hijack' } });
      const del = await t.request({ method: 'DELETE', url: `/api/v1/accounts/${account.uuid}`, token: member.token, headers });

      expect(list.body.data.map((a: any) => a.uuid)).toContain(account.uuid);
      expect(get.status).toBe(200);
      expect(get.body.data).toMatchObject({ user: { id: owner.user.id } });
      expect(get.body.meta).toMatchObject({ token: '********', scope: 'public' });
      expect(get.text).not.toContain(OPENAI_KEY);
      expect(verify.status).toBe(200);
      expect(put.status).toBe(403);
      expect(del.status).toBe(403);
      const row = await t.ctx.db.kysely.selectFrom('connected_accounts').selectAll().where('id', '=', account.uuid).executeTakeFirstOrThrow();
      expect(row.token_encrypted).not.toBeNull();
    });

    it('hides a private account from other members and every account from other workspaces (404)', async () => {
      const account = await createCompatible({ provider_display_name: 'Mine Only' });
      const headers = workspaceHeader();

      const memberGet = await t.request({ url: `/api/v1/accounts/${account.uuid}`, token: member.token, headers });
      const memberList = await t.request({ url: '/api/v1/accounts?per_page=100', token: member.token, headers });
      const strangerGet = await t.request({ url: `/api/v1/accounts/${account.uuid}`, token: stranger.token });
      const strangerPut = await t.request({ method: 'PUT', url: `/api/v1/accounts/${account.uuid}`, token: stranger.token, body: { scope: 'public' } });
      const strangerVerify = await t.request({ method: 'POST', url: `/api/v1/accounts/${account.uuid}/verify`, token: stranger.token });
      const strangerDelete = await t.request({ method: 'DELETE', url: `/api/v1/accounts/${account.uuid}`, token: stranger.token });
      const strangerHeader = await t.request({ url: `/api/v1/accounts/${account.uuid}`, token: stranger.token, headers });

      expect(memberGet.status).toBe(404);
      expect(memberList.body.data.map((a: any) => a.uuid)).not.toContain(account.uuid);
      expect([strangerGet.status, strangerPut.status, strangerVerify.status, strangerDelete.status, strangerHeader.status]).toEqual([
        404, 404, 404, 404, 404,
      ]);
    });

    it('deletes the owner’s account', async () => {
      const account = await createCompatible();
      const response = await t.request({ method: 'DELETE', url: `/api/v1/accounts/${account.uuid}`, token: owner.token });
      expect(response.status).toBe(204);
      const row = await t.ctx.db.kysely.selectFrom('connected_accounts').select('id').where('id', '=', account.uuid).executeTakeFirst();
      expect(row).toBeUndefined();
    });

    it('filters the list by provider and scope', async () => {
      const response = await t.request({ url: `/api/v1/accounts?filter[provider]=${compatibleId}&filter[scope]=public`, token: owner.token });
      expect(response.status).toBe(200);
      expect(response.body.data.length).toBeGreaterThan(0);
      expect(response.body.data.every((a: any) => a.provider.uuid === compatibleId)).toBe(true);
      const ids = response.body.data.map((a: any) => a.uuid);
      const rows = await t.ctx.db.kysely.selectFrom('connected_accounts').select('scope').where('id', 'in', ids).execute();
      expect(rows.every((r) => r.scope === 'public')).toBe(true);
    });

    it('refuses to delete a custom provider that still has accounts (409)', async () => {
      const provider = await t.request({
        method: 'POST',
        url: '/api/v1/providers',
        token: owner.token,
        body: { name: 'Lab Server', type: 'large_language_model', authentication_strategy: 'token' },
      });
      await t.request({
        method: 'POST',
        url: '/api/v1/accounts',
        token: owner.token,
        body: { provider_uuid: provider.body.data.uuid, provider_display_name: 'lab', token: OPENAI_KEY, base_url: `${openai.url}/v1` },
      });
      const response = await t.request({ method: 'DELETE', url: `/api/v1/providers/${provider.body.data.uuid}`, token: owner.token });
      expect(response.status).toBe(409);
    });
  });
});

describe.each(DIALECTS)('basic-auth accounts and workspace deletion on %s', (dialect) => {
  let t: TestApp;
  let server: FakeServer;

  beforeAll(async () => {
    // A tool API that wants `Authorization: Basic` and answers who the caller is.
    server = await startFakeServer((request, response) => {
      const expected = `Basic ${Buffer.from('api-user:api-password-1').toString('base64')}`;
      if (request.headers.authorization !== expected) return sendJson(response, 401, { message: 'Bad credentials' });
      return sendJson(response, 200, { id: 'tool-user-9' });
    });
    t = await createTestApp(dialect, { ATHENA_OUTBOUND_ALLOW: '127.0.0.1' });
  });
  afterAll(async () => {
    await t.close();
    await server.close();
  });

  it('needs a username and password, verifies them with Basic auth and keeps the password write-only', async () => {
    const user = await t.signUp();
    const provider = await t.request({
      method: 'POST',
      url: '/api/v1/providers',
      token: user.token,
      body: { name: 'Basic Tool', type: 'tool', authentication_strategy: 'basic', authentication_config: { basic: { url: `${server.url}/me` } } },
    });
    const missing = await t.request({
      method: 'POST',
      url: '/api/v1/accounts',
      token: user.token,
      body: { provider_uuid: provider.body.data.uuid, provider_display_name: 'b', username: 'api-user' },
    });
    expect(missing.status).toBe(422);
    expect(missing.body.errors).toEqual({ password: ['The password field is required when provider authentication strategy is basic.'] });

    const created = await t.request({
      method: 'POST',
      url: '/api/v1/accounts',
      token: user.token,
      body: { provider_uuid: provider.body.data.uuid, provider_display_name: 'b', username: 'api-user', password: 'wrong-password' },
    });
    expect(created.body.data.provider_authentication_strategy).toBe('basic');
    expect(created.body.meta).toMatchObject({ username: 'api-user', password: '********', token: null });
    const rejected = await t.request({ method: 'POST', url: `/api/v1/accounts/${created.body.data.uuid}/verify`, token: user.token });
    expect(rejected.status).toBe(422);
    expect(rejected.body.errors).toEqual({ password: ['Bad credentials'] });

    await t.request({ method: 'PUT', url: `/api/v1/accounts/${created.body.data.uuid}`, token: user.token, body: { password: 'api-password-1' } });
    const verified = await t.request({ method: 'POST', url: `/api/v1/accounts/${created.body.data.uuid}/verify`, token: user.token });
    expect(verified.status).toBe(200);
    expect(verified.body.data.provider_account_id).toBe('api-user');
    expect(verified.text).not.toContain('api-password-1');
  });

  it('deletes a workspace with its custom providers, accounts and data key', async () => {
    const user = await t.signUp();
    const workspace = await t.request({ method: 'POST', url: '/api/v1/workspaces', token: user.token, body: { name: 'Short-lived team' } });
    const headers = { 'x-workspace-id': workspace.body.data.uuid };
    const provider = await t.request({
      method: 'POST',
      url: '/api/v1/providers',
      token: user.token,
      headers,
      body: { name: 'Team Tool', type: 'tool', authentication_strategy: 'token' },
    });
    const account = await t.request({
      method: 'POST',
      url: '/api/v1/accounts',
      token: user.token,
      headers,
      body: { provider_uuid: provider.body.data.uuid, provider_display_name: 't', token: 'sk-team' },
    });
    expect(account.status).toBe(201);

    const deleted = await t.request({ method: 'DELETE', url: `/api/v1/workspaces/${workspace.body.data.uuid}`, token: user.token });

    expect(deleted.status).toBe(204);
    const db = t.ctx.db.kysely;
    expect(await db.selectFrom('connected_accounts').select('id').where('workspace_id', '=', workspace.body.data.uuid).execute()).toEqual([]);
    expect(await db.selectFrom('providers').select('id').where('workspace_id', '=', workspace.body.data.uuid).execute()).toEqual([]);
    expect(await db.selectFrom('workspace_keys').select('id').where('workspace_id', '=', workspace.body.data.uuid).execute()).toEqual([]);
  });
});
